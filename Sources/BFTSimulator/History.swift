import BFTCore
import BFTKeyValue

/// One client operation as the client saw it: when it was invoked, when (if ever) it completed, and the result.
public struct Operation: Hashable, Sendable {
    public var client: ClientID
    public var timestamp: Timestamp
    public var command: KeyValueCommand
    public var operationDigest: Digest
    public var invoked: UInt64
    public var completed: UInt64?
    public var result: [UInt8]?
}

/// What one replica reported, with virtual times.
public struct ReplicaLog: Sendable {
    public var executed: [(time: UInt64, sequence: SequenceNumber, batch: Digest, requests: [ExecutedRequest])] = []
    public var committed: [SequenceNumber: Digest] = [:]
    public var stableCheckpoints: [(sequence: SequenceNumber, digest: Digest)] = []
    public var rejected: [RejectReason: Int] = [:]
    public var fellBehind = 0
    /// Where execution legitimately restarts: at index i of `executed`, the next sequence number is `next`;
    /// after a restart (`fresh`) requests may run again, re-executed from durable records.
    public var resumes: [Int: (next: UInt64, fresh: Bool)] = [:]
    public var viewChangesStarted = 0
    public var viewsInstalled: [(time: UInt64, view: ViewNumber)] = []
    public var stateTransfers: [(time: UInt64, sequence: SequenceNumber)] = []
    /// Virtual times at which the replica came back from a crash.
    public var restarts: [UInt64] = []
}

public enum Invariant: String, Sendable, CaseIterable {
    case agreement, integrity, validity, checkpointAgreement = "checkpoint agreement", linearizability, liveness
    /// Every operation a client saw complete is held, in the end, by every correct replica (after crashes and
    /// restarts too).
    case durability
}

public struct Violation: Hashable, Sendable, CustomStringConvertible {
    public var invariant: Invariant
    public var detail: String
    public var description: String { "\(invariant.rawValue): \(detail)" }
}
