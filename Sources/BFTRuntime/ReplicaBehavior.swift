import BFTCore

/// Anything that acts as a replica: the correct `Replica`, or a Byzantine behaviour that wraps or replaces one.
/// The simulator and the replica process run every behaviour the same way, through `ReplicaHost`.
public protocol ReplicaBehavior {
    mutating func receive(_ envelope: Envelope) -> Effects
    mutating func tick() -> Effects
    var status: ReplicaStatus { get }
}

extension Replica: ReplicaBehavior {}

/// Carries frames to their destination. `allReplicas` never reaches a transport: the host expands it.
public protocol Transport: AnyObject {
    func send(_ frame: [UInt8], to destination: Destination)
}

/// Where a host makes records durable. `persist` returns only once the records would survive a crash.
public protocol DurableStore: AnyObject {
    func persist(_ records: [DurableRecord])
    var records: [DurableRecord] { get }
}

/// A store that keeps records in memory: durable across simulated message loss, not across a simulated crash.
public final class InMemoryStore: DurableStore {
    public private(set) var records: [DurableRecord] = []
    public private(set) var persistCalls = 0

    public init() {}

    public func persist(_ records: [DurableRecord]) {
        guard !records.isEmpty else { return }
        persistCalls += 1
        self.records += records
        // Keep only what is above the last stable checkpoint, as a real store truncates below the low watermark.
        if let stable = records.last(where: { if case .stableCheckpoint = $0 { true } else { false } }),
            case .stableCheckpoint(let sequence, _) = stable
        {
            self.records = self.records.filter { record in
                switch record {
                case .stableCheckpoint(let s, _): s >= sequence
                case .prePrepare(let e), .vote(let e): Self.sequence(of: e).map { $0 > sequence } ?? true
                }
            }
        }
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
