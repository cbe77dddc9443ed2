import BFTCore
import BFTKeyValue
import BFTRuntime
import BFTSimulator
import BFTStorage
import Foundation
import Testing

@Suite("Durable records on disk (SQLite)")
struct SQLiteStoreTests {
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
        FileManager.default.temporaryDirectory.appendingPathComponent("bft-store-\(UUID().uuidString).sqlite").path
    }

    @Test("every record kind round-trips through its encoding, and every truncation is a typed error")
    func codecRoundTrip() throws {
        for record in sample() {
            let bytes = DurableRecordCodec.encode(record)
            #expect(try DurableRecordCodec.decode(bytes) == record)
            for length in 0..<bytes.count {
                #expect(throws: DecodeError.self) { try DurableRecordCodec.decode(Array(bytes.prefix(length))) }
            }
        }
    }

    @Test("records persisted survive closing and reopening the file, in order")
    func reopen() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let records = Array(sample().prefix(4))
        do {
            let store = try SQLiteStore(path: path)
            try store.persist(Array(records.prefix(2)))
            try store.persist(Array(records.suffix(2)))
        }
        #expect(try SQLiteStore(path: path).load() == records)
    }

    @Test("a stable checkpoint drops what it supersedes; only the newest view-change and new-view stay")
    func truncation() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try SQLiteStore(path: path, sync: .none)
        let low = sample(sequence: 2)  // at the checkpoint: superseded
        let high = sample(sequence: 5)  // above it: kept
        try store.persist(Array(low.prefix(4)) + Array(high.prefix(4)))
        try store.persist(Array(low.suffix(3)))  // view-change, new-view, stable checkpoint at 2
        try store.persist([low[4], low[5]])  // a newer view-change and new-view replace the older ones
        let loaded = try store.load()
        #expect(loaded == Array(high.prefix(4)) + [low[6], low[4], low[5]])
        #expect(store.recordCount == 7)
    }

    @Test("a damaged record makes loading fail with an error, never a crash")
    func damaged() throws {
        let path = Self.temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SQLiteStore(path: path).persist(sample())
        let raw = try SQLiteStore(path: path)
        try raw.corruptFirstRecordForTesting()
        #expect(throws: DecodeError.self) { try raw.load() }
    }
}
