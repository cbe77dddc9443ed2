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
    /// Speculative protocol: where the completion said the request ran, and the history digest there.
    public var sequence: SequenceNumber?
    public var history: Digest?
    public var fastPath = false
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
    /// Speculative protocol: executions undone by a view change (kept for the validity checker), and how often.
    public var undone: [(time: UInt64, sequence: SequenceNumber, batch: Digest, requests: [ExecutedRequest])] = []
    public var rollbacks = 0
    public var rollbackTimes: [(time: UInt64, from: SequenceNumber, to: SequenceNumber)] = []

    /// Drops the executions above `sequence`: the speculative history they belonged to was not kept. Execution
    /// resumes at `sequence + 1`, and requests may run again.
    mutating func rollBack(to sequence: SequenceNumber, counted: Bool = true) {
        while let last = executed.last, last.sequence > sequence {
            undone.append(executed.removeLast())
        }
        resumes = resumes.filter { $0.key < executed.count }
        resumes[executed.count] = (sequence.rawValue + 1, true)
        if counted { rollbacks += 1 }
    }
}

public enum Invariant: String, Sendable, CaseIterable {
    case agreement, integrity, validity, checkpointAgreement = "checkpoint agreement", linearizability, liveness
    /// Every operation a client saw complete is held, in the end, by every correct replica (after crashes and
    /// restarts too).
    case durability
    /// 5. Speculative protocol: every completed history extends every earlier one, and the correct replicas' final
    /// histories extend them all: nothing a client saw complete was rolled back.
    case noRollback = "no rollback"
}

public struct Violation: Hashable, Sendable, CustomStringConvertible {
    public var invariant: Invariant
    public var detail: String
    public var description: String { "\(invariant.rawValue): \(detail)" }
}
