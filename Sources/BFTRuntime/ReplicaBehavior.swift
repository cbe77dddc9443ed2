import BFTCore

/// Anything that acts as a replica: the correct `Replica`, or a Byzantine behaviour that wraps or replaces one.
/// The simulator and the replica process run every behaviour the same way, through `ReplicaHost`.
public protocol ReplicaBehavior {
    mutating func receive(_ envelope: Envelope) -> Effects
    mutating func tick() -> Effects
    /// The shell has handed over every input of one event-loop turn (see `ReplicaOptions.cutBatchesAtTurnEnd`).
    mutating func endOfTurn() -> Effects
    var status: ReplicaStatus { get }
}

extension ReplicaBehavior {
    /// Behaviours that wrap no `Replica` have nothing to flush at the end of a turn.
    public mutating func endOfTurn() -> Effects { Effects() }
}

extension Replica: ReplicaBehavior {}

/// Carries frames to their destination. `allReplicas` never reaches a transport: the host expands it.
public protocol Transport: AnyObject {
    func send(_ frame: [UInt8], to destination: Destination)
}

/// Where a host makes records durable. `persist` returns only once the records would survive a crash, and
/// throws if it cannot promise that (the host then sends nothing). `load` returns every record, oldest first.
public protocol DurableStore: AnyObject {
    func persist(_ records: [DurableRecord]) throws
    func load() throws -> [DurableRecord]
}
