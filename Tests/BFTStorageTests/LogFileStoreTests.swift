import BFTCore
import BFTKeyValue
import BFTRuntime
import BFTSimulator
import BFTStorage
import Foundation
import Testing

@Suite("Durable records on disk (append-only log file)")
struct LogFileStoreTests {
    let registry = SimulatedKeyRegistry()

    func signed(_ message: Message, by replica: UInt32) -> Envelope {
        Envelope(signing: message, from: .replica(ReplicaID(replica)), with: registry.signer(secret: 10 + UInt64(replica)))
    }

    /// One record of every kind, with real signed envelopes inside.
    func sample(sequence: UInt64 = 3) -> [DurableRecord] {
        let request = Envelope(
            signing: .request(Request(timestamp: 1, operation: [1, 2, 3])), from: .client(1),
            with: registry.signer(secret: 99))
        let prePrepare = signed(.prePrepare(PrePrepare(view: 0, sequence: SequenceNumber(sequence), digest: .zero,
                                                       batch: [request])), by: 0)
        let prepare = signed(.prepare(Prepare(view: 0, sequence: SequenceNumber(sequence), digest: .zero)), by: 1)
        let viewChange = signed(.viewChange(ViewChange(newView: 1, stableSequence: 0, checkpointProof: [],
                                                       prepared: [PreparedCertificate(prePrepare: prePrepare, prepares: [prepare])])), by: 1)
        return [
            .prePrepare(prePrepare), .vote(prepare),
            .prepared(PreparedCertificate(prePrepare: prePrepare, prepares: [prepare, prepare])),
            .committed(view: 0, sequence: SequenceNumber(sequence), digest: .zero),
            .viewChange(viewChange),
            .newView(signed(.newView(NewView(view: 1, viewChanges: [viewChange], prePrepares: [prePrepare])), by: 1)),
            .stableCheckpoint(StableCheckpoint(sequence: 2, stateDigest: .zero,
                                               proof: [signed(.checkpoint(Checkpoint(sequence: 2, stateDigest: .zero)), by: 2)],
                                               state: [9, 8, 7])),
        ]
    }

    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("bft-store-\(UUID().uuidString).log").path
    }

    @Test("every record kind round-trips through its encoding, and every truncation is a typed error")
    func codecRoundTrip() throws {
        for record in sample() {
            let bytes = DurableRecordCodec.encode(record)
            #expect(try DurableRecordCodec.decode(bytes) == record)
            #expect(DurableRecordCodec.key(of: record).tag == bytes[0])  // truncation files it under its own tag
            for length in 0..<bytes.count {
                #expect(throws: DecodeError.self) { try DurableRecordCodec.decode(Array(bytes.prefix(length))) }
            }
        }
    }

    @Test("records persisted survive closing and reopening the file, in order")
    func reopen() throws {
        let path = Self.temporaryPath()
        defer { Self.remove(path) }
        let records = Array(sample().prefix(4))
        do {
            let store = try LogFileStore(path: path)
            try store.persist(Array(records.prefix(2)))
            try store.persist(Array(records.suffix(2)))
        }
        #expect(try LogFileStore(path: path).load() == records)
    }

    @Test("a stable checkpoint drops what it supersedes; only the newest view-change and new-view stay")
    func truncation() throws {
        let path = Self.temporaryPath()
        defer { Self.remove(path) }
        let store = try LogFileStore(path: path, sync: .none)
        let low = sample(sequence: 2)  // at the checkpoint: superseded
        let high = sample(sequence: 5)  // above it: kept
        try store.persist(Array(low.prefix(4)) + Array(high.prefix(4)))
        try store.persist(Array(low.suffix(3)))  // view-change, new-view, stable checkpoint at 2
        try store.persist([low[4], low[5]])  // a newer view-change and new-view replace the older ones
        let expected = Array(high.prefix(4)) + [low[6], low[4], low[5]]
        #expect(try store.load() == expected)
        #expect(store.recordCount == 7)
        #expect(try LogFileStore.peek(path: path) == expected)  // what a reopen reads
    }

    @Test("the file is rewritten to its survivors once it has doubled, and reads the same before and after")
    func compaction() throws {
        let path = Self.temporaryPath()
        defer { Self.remove(path) }
        let store = try LogFileStore(path: path, sync: .none)
        let state = [UInt8](repeating: 7, count: 64 * 1024)
        // Slots only (no record that supersedes another) until the file is past the first threshold (2 × the
        // empty file + 1 MiB): nothing may be compacted on the way.
        let request = Envelope(
            signing: .request(Request(timestamp: 1, operation: [UInt8](repeating: 3, count: 2048))), from: .client(1),
            with: registry.signer(secret: 99))
        var sequence: UInt64 = 1
        for _ in 0..<2000 where store.bytes < 2 << 20 {
            try store.persist(Array(sample(sequence: sequence).prefix(4)) + [
                .prePrepare(signed(.prePrepare(PrePrepare(view: 0, sequence: SequenceNumber(sequence), digest: .zero,
                                                          batch: [request])), by: 0)),
            ])
            sequence += 1
        }
        #expect(store.bytes >= 2 << 20)
        #expect(store.compactions == 0)
        let before = try store.load()
        let grown = store.bytes
        try store.persist([.stableCheckpoint(StableCheckpoint(sequence: SequenceNumber(sequence - 1),
                                                              stateDigest: .zero, proof: [], state: state))])
        #expect(store.compactions >= 1)
        #expect(store.bytes < grown / 4)
        let after = try store.load()
        #expect(after.count == 1)  // every slot is at or below the checkpoint
        #expect(before.count == 5 * Int(sequence - 1))
        #expect(try LogFileStore.peek(path: path) == after)
        #expect(!FileManager.default.fileExists(atPath: path + ".compact"))
    }

    @Test("a compaction that fails before replacing the log leaves it whole and in use, and is tried again later")
    func failedCompactionKeepsTheLog() throws {
        let path = Self.temporaryPath()
        defer { Self.remove(path) }
        let store = try LogFileStore(path: path, sync: .none)
        var sequence: UInt64 = 1
        func fill(to size: Int) throws {
            while store.bytes < size {
                let prePrepare = bigPrePrepare(sequence: sequence)
                try store.persist([.prePrepare(prePrepare), certificate(prePrepare)])
                sequence += 1
            }
        }
        func checkpoint() -> DurableRecord {
            .stableCheckpoint(StableCheckpoint(sequence: SequenceNumber(sequence - 1), stateDigest: .zero, proof: [], state: []))
        }
        try fill(to: 1 << 20 + 4096)
        // The copy cannot be created: a directory stands where it would go (as a full disk would fail it).
        try FileManager.default.createDirectory(atPath: path + ".compact", withIntermediateDirectories: false)
        let grown = store.bytes
        try store.persist([checkpoint()])  // appended and safe, even though the compaction failed
        #expect(store.compactions == 0)
        #expect(store.compactionFailures == 1)
        #expect(store.lastCompactionFailure?.contains(".compact") == true)
        #expect(store.bytes > grown)
        #expect(try store.load() == [checkpoint()])
        #expect(try LogFileStore.peek(path: path) == [checkpoint()])
        try store.persist([checkpoint()])  // not tried again at once
        #expect(store.compactionFailures == 1)
        try FileManager.default.removeItem(atPath: path + ".compact")
        try fill(to: 2 * store.bytes + (1 << 20) + 4096)
        try store.persist([checkpoint()])
        #expect(store.compactions == 1)
        #expect(store.compactionFailures == 1)
        #expect(try LogFileStore.peek(path: path) == [checkpoint()])
        #expect(!FileManager.default.fileExists(atPath: path + ".compact"))
    }

    @Test("a compaction waits until at least half the file is garbage, so a record that supersedes little copies nothing")
    func compactionWaitsForGarbage() throws {
        let path = Self.temporaryPath()
        defer { Self.remove(path) }
        let store = try LogFileStore(path: path, sync: .none)
        var sequence: UInt64 = 1
        while store.bytes < 1 << 20 + 4096 {
            let prePrepare = bigPrePrepare(sequence: sequence)
            try store.persist([.prePrepare(prePrepare), certificate(prePrepare)])
            sequence += 1
        }
        // Past the threshold, a record that supersedes others arrives while nearly every slot is still live (as
        // Zyzzyva's history certificate does a round before its checkpoint turns stable): nothing is copied.
        func checkpoint(_ at: UInt64) -> DurableRecord {
            .stableCheckpoint(StableCheckpoint(sequence: SequenceNumber(at), stateDigest: .zero, proof: [], state: []))
        }
        try store.persist([checkpoint(2)])
        #expect(store.compactions == 0)
        let live = try store.load()
        #expect(live.count == 2 * Int(sequence - 3) + 1)
        // The next checkpoint drops most of the file: now it is compacted, and reads the same.
        try store.persist([checkpoint(sequence - 2)])
        #expect(store.compactions == 1)
        #expect(store.bytes < 1 << 17)
        #expect(try LogFileStore.peek(path: path) == Array(live.suffix(3).prefix(2)) + [checkpoint(sequence - 2)])
    }

    /// A pre-prepare of `count` requests of 512 bytes each, so that repeating its batch would show in the file size.
    func bigPrePrepare(view: UInt64 = 0, sequence: UInt64, count: Int = 32, salt: UInt8 = 0) -> Envelope {
        let batch = (0..<count).map { index in
            Envelope(
                signing: .request(Request(timestamp: Timestamp(UInt64(index + 1)),
                                          operation: [UInt8](repeating: salt, count: 512))),
                from: .client(ClientID(UInt64(index + 1))), with: registry.signer(secret: 99))
        }
        let digest = Digest(bytes: [UInt8](repeating: salt &+ UInt8(truncatingIfNeeded: sequence), count: 32))!
        return signed(.prePrepare(PrePrepare(view: ViewNumber(view), sequence: SequenceNumber(sequence), digest: digest,
                                             batch: batch)), by: UInt32(view % 4))
    }

    func certificate(_ prePrepare: Envelope) -> DurableRecord {
        guard case .prePrepare(let p) = prePrepare.message else { return .prePrepare(prePrepare) }
        let prepares = [1, 2].map { signed(.prepare(Prepare(view: p.view, sequence: p.sequence, digest: p.digest)), by: $0) }
        return .prepared(PreparedCertificate(prePrepare: prePrepare, prepares: prepares))
    }

    @Test("a prepared certificate names the pre-prepare the log holds instead of repeating its batch, and reads back whole")
    func preparedByReference() throws {
        let path = Self.temporaryPath()
        defer { Self.remove(path) }
        let store = try LogFileStore(path: path, sync: .none)
        let first = bigPrePrepare(sequence: 3)
        let nextView = bigPrePrepare(view: 1, sequence: 3, salt: 1)  // the same slot re-issued in view 1
        let other = bigPrePrepare(sequence: 3, salt: 2)  // a second batch for (0, 3): not the one logged
        let unlogged = bigPrePrepare(view: 1, sequence: 4, salt: 3)  // a new primary's re-issued slot
        try store.persist([.prePrepare(first), .prePrepare(nextView)])
        var before = store.bytes
        try store.persist([certificate(first), certificate(nextView)])
        #expect(store.bytes - before < 2048)  // two certificates, neither batch written again
        for record in [certificate(other), certificate(unlogged)] {
            before = store.bytes
            try store.persist([record])
            #expect(store.bytes - before > 16 * 1024)  // written in full
        }
        let expected = [
            DurableRecord.prePrepare(first), .prePrepare(nextView), certificate(first), certificate(nextView),
            certificate(other), certificate(unlogged),
        ]
        #expect(try store.load() == expected)
        #expect(try LogFileStore.peek(path: path) == expected)
    }

    @Test("certificates by reference survive compaction and reopening with the pre-prepares they name")
    func referencesSurviveCompaction() throws {
        let path = Self.temporaryPath()
        defer { Self.remove(path) }
        let slots = (1...80).map { bigPrePrepare(sequence: UInt64($0)) }
        do {
            let store = try LogFileStore(path: path, sync: .none)
            for prePrepare in slots { try store.persist([.prePrepare(prePrepare), certificate(prePrepare)]) }
            let grown = store.bytes
            try store.persist([.stableCheckpoint(StableCheckpoint(sequence: 40, stateDigest: .zero, proof: [], state: []))])
            #expect(store.compactions == 1)
            #expect(store.bytes < grown * 2 / 3)
            let last = bigPrePrepare(sequence: 81)
            try store.persist([.prePrepare(last)])
            let size = store.bytes
            try store.persist([certificate(last)])  // a slot logged after the compaction is named too
            #expect(store.bytes - size < 1024)
        }
        let kept = slots.suffix(40) + [bigPrePrepare(sequence: 81)]
        let expected = kept.flatMap { [DurableRecord.prePrepare($0), certificate($0)] }
        #expect(try LogFileStore(path: path).load().filter { if case .stableCheckpoint = $0 { false } else { true } }
            == expected)
    }

    /// The tails a crash in the middle of an append can leave behind the last whole group.
    enum Tear: String, CaseIterable { case halfGroup, partialHeader, zeros, badChecksumAtEnd }

    @Test("a torn last group (a crash in the middle of an append) is cut off; what came before stays",
          arguments: Tear.allCases)
    func tornTail(_ tear: Tear) throws {
        let path = Self.temporaryPath()
        defer { Self.remove(path) }
        let records = sample()
        let whole: Int
        do {
            let store = try LogFileStore(path: path)
            try store.persist(Array(records.prefix(2)))
            whole = store.bytes
            try store.persist(Array(records.suffix(3)))
        }
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        switch tear {
        case .halfGroup: bytes = Array(bytes.prefix(whole + (bytes.count - whole) / 2))
        case .partialHeader: bytes = Array(bytes.prefix(whole + 9))
        case .zeros: bytes = Array(bytes.prefix(whole)) + [UInt8](repeating: 0, count: 300)
        case .badChecksumAtEnd: bytes[bytes.count - 1] ^= 0x40
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        do {
            let store = try LogFileStore(path: path)
            #expect(try store.load() == Array(records.prefix(2)))
            #expect(store.bytes == whole)
            try store.persist([records[3]])
        }
        #expect(try LogFileStore(path: path).load() == Array(records.prefix(2)) + [records[3]])
    }

    @Test("a damaged group before the end makes opening fail with an error, never a crash or a silent loss")
    func damaged() throws {
        let path = Self.temporaryPath()
        defer { Self.remove(path) }
        do {
            let store = try LogFileStore(path: path)
            try store.persist(sample())
            try store.persist(sample(sequence: 4))
        }
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[40] ^= 0x01  // inside the first group's body
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: LogFileError.damaged(offset: 8)) { try LogFileStore(path: path) }
        bytes[40] ^= 0x01
        bytes[9] ^= 0x01  // the first group's length no longer matches its complement
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        #expect(throws: LogFileError.damaged(offset: 8)) { try LogFileStore(path: path) }
        try Data("SQLite format 3".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: LogFileError.notALogFile) { try LogFileStore(path: path) }
    }

    @Test("one process at a time: a second open of the same store is refused while the first holds it")
    func exclusive() throws {
        let path = Self.temporaryPath()
        defer { Self.remove(path) }
        let store = try LogFileStore(path: path)
        try store.persist(Array(sample().prefix(2)))
        #expect(throws: LogFileError.locked) { try LogFileStore(path: path) }
        #expect(try LogFileStore.peek(path: path) == Array(sample().prefix(2)))  // a reader beside it is fine
    }

    @Test("a data directory holding an older version's SQLite store is refused, not silently started empty")
    func legacyStoreRefused() throws {
        let directory = Self.temporaryPath()
        defer { Self.remove(directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = try LogFileStore.open(directory: directory)  // an empty directory: a new store
        let other = directory + "/old"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try Data("SQLite format 3".utf8).write(to: URL(fileURLWithPath: other + "/replica.sqlite"))
        #expect(throws: LogFileError.legacyStore(path: other + "/replica.sqlite")) {
            try LogFileStore.open(directory: other)
        }
    }

    static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
        try? FileManager.default.removeItem(atPath: path + ".compact")
    }
}
