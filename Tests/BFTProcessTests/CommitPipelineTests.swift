@testable import BFTNIO
import BFTCore
import BFTRuntime
import BFTStorage
import Foundation
import Testing

/// The shell's group commit with the sync off the loop: frames leave only after the records of their turn (and of
/// every turn before) are synced, at most one group is unsynced at a time, and a failed sync releases nothing.
@Suite("Group commit off the loop (CommitPipeline)")
struct CommitPipelineTests {
    /// Syncs that wait until the test finishes them.
    final class Syncs {
        var started = 0
        var waiting: [(Result<Void, any Error>) -> Void] = []
    }

    /// A pipeline over a real log file whose syncs wait until the test finishes them (`finishSync`).
    final class Harness {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bft-pipeline-\(UUID().uuidString).log").path
        let store: LogFileStore
        let pipeline: CommitPipeline
        let syncs = Syncs()
        var released: [[UInt8]] = []
        var failures: [String] = []

        init(mode: SyncMode = .batch) throws {
            store = try LogFileStore(path: path, sync: mode)
            let syncs = self.syncs
            pipeline = CommitPipeline(store: store, mode: mode) { file, done in
                syncs.started += 1
                syncs.waiting.append { result in
                    if case .success = result { try? file.sync() }
                    done(result)
                }
            }
            pipeline.release = { [unowned self] frames in released += frames.map(\.0) }
            pipeline.failure = { [unowned self] error in failures.append("\(error)") }
        }

        deinit { try? FileManager.default.removeItem(atPath: path) }

        /// One loop turn: persist `records` (as the host does), then hand over the turn's frames.
        func turn(records: [DurableRecord], frames: [UInt8]...) throws {
            if !records.isEmpty { try pipeline.persist(records) }
            pipeline.endTurn(frames.map { ($0, Destination.replica(1)) })
        }

        var syncsStarted: Int { syncs.started }
        var syncsWaiting: Int { syncs.waiting.count }

        func finishSync(_ result: Result<Void, any Error> = .success(())) {
            syncs.waiting.removeFirst()(result)
        }

        /// What a restarted replica would read back.
        var onDisk: Int { (try? LogFileStore.peek(path: path).count) ?? -1 }
    }

    static func record(_ sequence: UInt64) -> DurableRecord {
        .committed(view: 0, sequence: SequenceNumber(sequence), digest: .zero)
    }

    @Test("a turn's frames wait for the sync of its records, and a later turn's frames wait behind them")
    func framesWaitForTheSyncOfTheirRecords() throws {
        let harness = try Harness()
        try harness.turn(records: [Self.record(1)], frames: [1])
        try harness.turn(records: [], frames: [2])
        #expect(harness.released.isEmpty)
        #expect(harness.syncsStarted == 1)
        #expect(harness.pipeline.heldFrames == 2)
        harness.finishSync()
        #expect(harness.released == [[1], [2]])
        #expect(harness.pipeline.heldFrames == 0)
        try harness.turn(records: [], frames: [3])  // nothing new to make durable: it leaves at once
        #expect(harness.released == [[1], [2], [3]])
    }

    @Test("while one group syncs, later records wait in memory and become the next group: one unsynced group at most")
    func oneUnsyncedGroupAtATime() throws {
        let harness = try Harness()
        try harness.turn(records: [Self.record(1)], frames: [1])
        let afterFirst = harness.store.bytes
        try harness.turn(records: [Self.record(2), Self.record(3)], frames: [2])
        try harness.turn(records: [Self.record(4)], frames: [3])
        #expect(harness.syncsStarted == 1)
        #expect(harness.store.bytes == afterFirst)  // not written while the first group syncs
        #expect(harness.onDisk == 1)
        harness.finishSync()
        #expect(harness.released == [[1]])  // the later turns' records are not durable yet
        #expect(harness.syncsStarted == 2)
        #expect(harness.onDisk == 4)  // the three waiting records went out as one group
        harness.finishSync()
        #expect(harness.released == [[1], [2], [3]])
        #expect(harness.syncsWaiting == 0)
    }

    @Test("a failed sync releases nothing, then or later, and reports the failure once")
    func failedSyncReleasesNothing() throws {
        let harness = try Harness()
        try harness.turn(records: [Self.record(1)], frames: [1])
        try harness.turn(records: [Self.record(2)], frames: [2])
        harness.finishSync(.failure(LogFileError.locked))
        try harness.turn(records: [], frames: [3])
        try harness.turn(records: [Self.record(3)], frames: [4])
        #expect(harness.released.isEmpty)
        #expect(harness.failures.count == 1)
        #expect(harness.syncsWaiting == 0)
    }

    @Test("flush makes everything durable on the spot and releases what was held (a replica that stops)")
    func flushReleasesEverything() throws {
        let harness = try Harness()
        try harness.turn(records: [Self.record(1)], frames: [1])
        try harness.turn(records: [Self.record(2)], frames: [2])
        try harness.pipeline.flush()
        #expect(harness.released == [[1], [2]])
        #expect(harness.onDisk == 2)
        harness.finishSync()  // the sync that was running finishes late: nothing is sent twice
        #expect(harness.released == [[1], [2]])
    }

    @Test("without fsync (benchmarks) and with a sync per step (always), frames leave in their own turn")
    func otherModesReleaseAtOnce() throws {
        for mode in [SyncMode.none, .always] {
            let harness = try Harness(mode: mode)
            try harness.turn(records: [Self.record(1)], frames: [1])
            #expect(harness.released == [[1]])
            #expect(harness.syncsStarted == 0)
            #expect(harness.onDisk == 1)
        }
    }
}
