import BFTCore

/// A store that keeps records in memory: durable across simulated message loss and simulated crashes (the
/// simulator keeps the store and rebuilds the replica from it), not across a process exit.
///
/// It compacts as a real store would: a stable checkpoint supersedes every record at or below its sequence
/// number and every older checkpoint, and only the newest view-change and new-view records matter.
public final class InMemoryStore: DurableStore {
    public private(set) var records: [DurableRecord] = []
    public private(set) var persistCalls = 0

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
    }

    /// Drops what recovery would ignore. (Plain loops: a closure here crashed the Swift 6.3.1 optimizer.)
    static func compacted(_ records: [DurableRecord]) -> [DurableRecord] {
        var stable: SequenceNumber = 0
        var lastViewChange = -1
        var lastNewView = -1
        var lastCertificate = -1
        var lastCheckpoint = -1
        for (index, record) in records.enumerated() {
            switch record {
            case .stableCheckpoint(let checkpoint) where checkpoint.sequence >= stable:
                stable = checkpoint.sequence
                lastCheckpoint = index
            case .viewChange: lastViewChange = index
            case .newView: lastNewView = index
            case .certificate: lastCertificate = index
            default: continue
            }
        }
        var kept: [DurableRecord] = []
        for (index, record) in records.enumerated() {
            switch record {
            case .stableCheckpoint: if index == lastCheckpoint { kept.append(record) }
            case .viewChange: if index == lastViewChange { kept.append(record) }
            case .newView: if index == lastNewView { kept.append(record) }
            case .certificate: if index == lastCertificate { kept.append(record) }
            case .prePrepare(let envelope), .vote(let envelope):
                if (sequence(of: envelope) ?? stable.next) > stable { kept.append(record) }
            case .prepared(let certificate):
                if (sequence(of: certificate.prePrepare) ?? stable.next) > stable { kept.append(record) }
            case .committed(_, let sequence, _):
                if sequence > stable { kept.append(record) }
            }
        }
        return kept
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
