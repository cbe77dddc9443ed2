import Adversaries
@_spi(BrokenVariants) import BFTCore
import BFTSimulator
import Testing

/// Clients of one process sharing commit certificates (`SharedCommits`, Zyzzyva §3.3 applied to a batch): with a
/// replica silent, one client's certificate on a batch's history completes the other clients' requests in it, and
/// every client still needs its own 2f+1 matching spec-responses.
@Suite("Shared commit certificates")
struct SharedCommitTests {
    /// Zyzzyva with MAC clients and the adversarial sweep's network faults. The simulator hands a replica one
    /// message per turn and never ends a turn, so with `cutBatchesAtTurnEnd` the primary cuts a batch per tick:
    /// batches hold several clients' requests, as they do under load.
    static func options(share: Bool) -> SimulationOptions {
        var options = AdversarySweep.defaultOptions()
        options.replication = .zyzzyva
        options.clientAuthentication = .macs
        options.clients = 12
        options.replicaOptions.cutBatchesAtTurnEnd = true
        options.clientsShareCommits = share
        return options
    }

    static let seeds: ClosedRange<UInt64> = 1...8

    @Test("one silent backup: a certificate completes the other clients' requests of its batch; all invariants hold")
    func ridersComplete() throws {
        let silent = try #require(AdversaryCatalog.named("silent"))
        var certificates: [Bool: Int] = [:]
        for share in [false, true] {
            let sweep = AdversarySweep(options: Self.options(share: share), faulty: 1)
            var riding = 0
            var commitPath = 0
            for seed in Self.seeds {
                let result = try Simulation(seed: seed, options: sweep.options(for: seed, running: silent)).run()
                #expect(result.passed, "\(result.report)")
                certificates[share, default: 0] +=
                    result.stats.deliveredByKind[Int(MessageKind.commitCertificate.rawValue)]
                riding += result.stats.ridingCompletions
                commitPath += result.stats.completedRequests - result.stats.fastCompletions
            }
            #expect(commitPath > 0, "the silent backup sends every request down the commit path")
            if share {
                #expect(riding > commitPath / 4, "\(riding) of \(commitPath) commit-path completions rode")
            } else {
                #expect(riding == 0)
            }
        }
        let (alone, shared) = (certificates[false] ?? 0, certificates[true] ?? 0)
        #expect(shared * 2 < alone, "certificates delivered: \(shared) shared against \(alone) one per client")
    }

    @Test("a rider needs its own 2f+1 matching spec-responses: riding on f+1 fewer lets a lying replier through")
    func ridersNeedTheirOwnQuorum() throws {
        let liar = try #require(AdversaryCatalog.named("lying-replier"))
        var options = Self.options(share: true)
        let correct = try AdversarySweep(options: options, faulty: 1).run(liar, seeds: Self.seeds)
        #expect(correct.safetyViolations == 0 && correct.livenessFailures == 0,
                "\(correct.reports.joined(separator: "\n"))")
        options.clientOptions.deviations.ridersNeedNoQuorum = true
        let broken = try AdversarySweep(options: options, faulty: 1).run(liar, seeds: Self.seeds)
        #expect(broken.safetyViolations > 0, "a rider that takes any spec-response's result was not caught")
    }
}

@Suite("SharedCommits")
struct SharedCommitsTableTests {
    static func history(_ n: UInt64) -> SharedCommits.History {
        SharedCommits.History(view: 0, sequence: SequenceNumber(n), history: Digest(words: (n, 0, 0, 0)))
    }

    @Test("the first claimant sends, later ones ride and are handed over once, in order, when it commits")
    func claimRideCommit() {
        let table = SharedCommits()
        let h = Self.history(1)
        #expect(table.claim(h, by: 1))
        #expect(table.claim(h, by: 1), "the owner may build its certificate again")
        #expect(!table.claim(h, by: 3) && !table.claim(h, by: 2) && !table.claim(h, by: 3))
        #expect(!table.isCommitted(h))
        #expect(table.committed(h, by: 1) == [3, 2])
        #expect(table.isCommitted(h) && table.claim(h, by: 4), "a committed history needs no riding")
        #expect(table.committed(h, by: 4).isEmpty, "riders are handed over once")
        #expect(!table.isCommitted(Self.history(2)))
    }

    @Test("the table forgets the oldest histories beyond its capacity")
    func bounded() {
        let table = SharedCommits(capacity: 4)
        for n in 1...10 {
            #expect(table.claim(Self.history(UInt64(n)), by: 1))
            _ = table.committed(Self.history(UInt64(n)), by: 1)
        }
        #expect((1...6).allSatisfy { !table.isCommitted(Self.history(UInt64($0))) })
        #expect((7...10).allSatisfy { table.isCommitted(Self.history(UInt64($0))) })
    }
}
