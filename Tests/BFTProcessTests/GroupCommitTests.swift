@testable import BFTNIO
import BFTCore
import BFTCrypto
import BFTStorage
import Foundation
import Testing

/// The shell's group commit (`GroupCommitStore`) over a real log file: the `fdatasync`s it spends and the order
/// in which records reach the file.
@Suite("Group commit")
struct GroupCommitTests {
    let signer = Ed25519Signer()

    func vote(_ sequence: UInt64) -> DurableRecord {
        .vote(Envelope(signing: .prepare(Prepare(view: 0, sequence: SequenceNumber(sequence), digest: .zero)),
                       from: .replica(1), with: signer))
    }

    func committed(_ sequence: UInt64) -> DurableRecord {
        .committed(view: 0, sequence: SequenceNumber(sequence), digest: .zero)
    }

    func withStore(_ body: (GroupCommitStore, LogFileStore) throws -> Void) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bft-group-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let log = try LogFileStore(path: path, sync: .batch)
        try body(GroupCommitStore(store: log, immediate: false), log)
    }

    @Test("""
        trailing records: a turn that only committed slots spends no fdatasync; its records go, in order, in front \
        of the next group a message waits for
        """)
    func committedRecordsTrail() throws {
        try withStore { group, log in
            let opened = log.syncs
            try group.persist([vote(1)])
            #expect(try group.commit())
            #expect(log.syncs == opened + 1)
            try group.persist([committed(1)])
            #expect(try group.commit() == false)
            #expect(log.syncs == opened + 1, "nothing waits for a committed record: no sync")
            #expect(try log.load() == [vote(1)])
            try group.persist([vote(2)])
            try group.persist([committed(2)])  // same turn as a vote: written with it
            #expect(try group.commit())
            #expect(log.syncs == opened + 2)
            #expect(try log.load() == [vote(1), committed(1), vote(2), committed(2)])
        }
    }

    @Test("trailing records of an idle loop are written at the second tick after them, or at once when stopping")
    func idleFlush() throws {
        try withStore { group, log in
            try group.persist([committed(1)])
            try group.commit()
            #expect(try group.flushTrailing() == false, "the first tick lets them wait for a group under load")
            #expect(try group.flushTrailing())
            #expect(try log.load() == [committed(1)])
            #expect(try group.flushTrailing() == false, "nothing left")
            try group.persist([committed(2)])
            try group.commit()
            #expect(try group.flushTrailing(now: true))
            #expect(try log.load() == [committed(1), committed(2)])
        }
    }
}
