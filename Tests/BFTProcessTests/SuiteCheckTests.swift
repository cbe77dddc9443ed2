@testable import bftreplica
import Testing

/// The history check of `bftreplica suite` must bite: histories that no append-only register could produce fail.
@Suite("The real-process suite's history check")
struct SuiteCheckTests {
    let clock = ContinuousClock()

    func record(_ token: String, result: String?, invoked: Int, completed: Int?) -> AppendRecord {
        let zero = clock.now
        var r = AppendRecord(key: "a", token: token, invoked: zero.advanced(by: .milliseconds(invoked)))
        r.result = result
        r.completed = completed.map { zero.advanced(by: .milliseconds($0)) }
        return r
    }

    @Test("a linearizable history passes; a lost, duplicated, reordered or inconsistent append is reported")
    func check() {
        let good = [record("<x>", result: "<x>", invoked: 0, completed: 10), record("<y>", result: "<x><y>", invoked: 20, completed: 30)]
        #expect(AppendRecord.check(good, finals: ["a": "<x><y>"]).isEmpty)
        #expect(!AppendRecord.check(good, finals: ["a": "<y>"]).isEmpty, "a completed append lost")
        #expect(!AppendRecord.check(good, finals: ["a": "<x><y><x>"]).isEmpty, "an append applied twice")
        let reordered = [record("<x>", result: "<y><x>", invoked: 0, completed: 10), record("<y>", result: "<y>", invoked: 20, completed: 30)]
        #expect(!AppendRecord.check(reordered, finals: ["a": "<y><x>"]).isEmpty, "real-time order violated")
        let inconsistent = [record("<x>", result: "<z>", invoked: 0, completed: 10)]
        #expect(!AppendRecord.check(inconsistent, finals: ["a": "<x>"]).isEmpty, "a result that is not the register's")
    }
}
