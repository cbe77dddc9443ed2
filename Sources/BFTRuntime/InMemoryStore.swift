import BFTCore

/// A store that keeps records in memory: durable across simulated message loss and simulated crashes (the
/// simulator keeps the store and rebuilds the replica from it; a crash takes the trailing records, see below), not
/// across a process exit.
///
/// It syncs as a log file synced by the host does: a persist holding a record that must precede messages
/// (`DurableRecord.mustPrecedeMessages`) makes everything persisted so far durable; records persisted without
/// one trail, and `losePower()` drops them, as a power loss may.
///
/// It compacts as a real store would: a stable checkpoint supersedes every record at or below its sequence
/// number and every older checkpoint, and only the newest view-change and new-view records matter.
public final class InMemoryStore: DurableStore {
    public private(set) var records: [DurableRecord] = []
    public private(set) var persistCalls = 0
    /// How many of `records` (a prefix) survive a power loss.
    public private(set) var durableCount = 0
    /// A deliberately broken store for tests: it syncs nothing, as if no record had to precede messages.
    public var everyRecordTrails = false

    public init() {}

    public func load() -> [DurableRecord] { records }

    public func persist(_ records: [DurableRecord]) {
        guard !records.isEmpty else { return }
        persistCalls += 1
        self.records += records
        var compact = false
        for record in records {
            switch record {
            case .stableCheckpoint, .viewChange, .newView, .certificate: compact = true
            default: continue
            }
        }
        if compact { self.records = Self.compacted(self.records) }
        if !everyRecordTrails && records.contains(where: \.mustPrecedeMessages) { durableCount = self.records.count }
    }

    /// A power loss: the trailing records persisted after the last sync are gone. Returns how many.
    @discardableResult
    public func losePower() -> Int {
        let lost = max(0, records.count - durableCount)
        records.removeLast(lost)
        durableCount = records.count
        return lost
    }

    /// Drops what recovery would ignore (`DurableRecordCodec.survivors`).
    static func compacted(_ records: [DurableRecord]) -> [DurableRecord] {
        let kept = DurableRecordCodec.survivors(records.map(DurableRecordCodec.key(of:)))
        var survivors: [DurableRecord] = []
        for (record, keep) in zip(records, kept) where keep { survivors.append(record) }
        return survivors
    }

    static func sequence(of envelope: Envelope) -> SequenceNumber? {
        switch envelope.message {
        case .prePrepare(let m): m.sequence
        case .prepare(let m): m.sequence
        case .commit(let m): m.sequence
        default: nil
        }
    }
}
