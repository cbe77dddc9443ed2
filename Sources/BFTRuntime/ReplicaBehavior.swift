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
        var stable: SequenceNumber?
        for record in records {
            if case .stableCheckpoint(let sequence, _) = record { stable = sequence }
        }
        guard let stable else { return }
        // Keep only what is above the last stable checkpoint, as a real store truncates below the low watermark.
        // (Plain loops: a closure here crashed the Swift 6.3.1 optimizer in CopyPropagation.)
        var kept: [DurableRecord] = []
        for record in self.records where Self.isAbove(record, stable) { kept.append(record) }
        self.records = kept
    }

    static func isAbove(_ record: DurableRecord, _ stable: SequenceNumber) -> Bool {
        switch record {
        case .stableCheckpoint(let sequence, _): return sequence >= stable
        case .prePrepare(let envelope), .vote(let envelope):
            guard let sequence = sequence(of: envelope) else { return true }
            return sequence > stable
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
