/// Where an outbound message goes.
public enum Destination: Hashable, Sendable {
    case replica(ReplicaID)
    /// Every replica but the sender, in ascending id order.
    case allReplicas
    case client(ClientID)
}

public struct Outbound: Hashable, Sendable {
    public var destination: Destination
    public var envelope: Envelope

    public init(_ envelope: Envelope, to destination: Destination) {
        self.destination = destination
        self.envelope = envelope
    }
}

/// What must survive a crash before the messages of the same `Effects` may be sent. The durability contract is
/// refined with the view change (issue 4); in the normal case a replica records what it accepted and what it said.
public enum DurableRecord: Hashable, Sendable {
    /// A pre-prepare this replica accepted (or, at the primary, issued).
    case prePrepare(Envelope)
    /// A prepare or commit this replica signed.
    case vote(Envelope)
    /// A checkpoint that became stable, with its proof; records below it may be discarded.
    case stableCheckpoint(sequence: SequenceNumber, stateDigest: Digest)
}

/// The output of one step of a replica: records to make durable, then messages to send, and events that report
/// what happened. Contract: a host persists `durable` before it sends any of `messages`.
public struct Effects: Sendable {
    public var durable: [DurableRecord] = []
    public var messages: [Outbound] = []
    public var events: [ReplicaEvent] = []

    public init() {}

    public var isEmpty: Bool { durable.isEmpty && messages.isEmpty && events.isEmpty }

    public mutating func append(_ other: Effects) {
        durable += other.durable
        messages += other.messages
        events += other.events
    }
}

/// One request as executed: who issued it, when, and the digest of its operation (for validity checks).
public struct ExecutedRequest: Hashable, Sendable {
    public var client: ClientID
    public var timestamp: Timestamp
    public var operationDigest: Digest
    public var result: [UInt8]

    public init(client: ClientID, timestamp: Timestamp, operationDigest: Digest, result: [UInt8]) {
        self.client = client
        self.timestamp = timestamp
        self.operationDigest = operationDigest
        self.result = result
    }
}

/// What a replica reports instead of logging: the shell logs and counts events, checkers read them.
public enum ReplicaEvent: Hashable, Sendable {
    /// The slot reached committed-local (PBFT §4.2).
    case committed(view: ViewNumber, sequence: SequenceNumber, digest: Digest)
    /// The slot's batch was executed, in sequence order; duplicates skipped by the reply table are not listed.
    case executed(sequence: SequenceNumber, batchDigest: Digest, requests: [ExecutedRequest])
    /// A checkpoint became stable: the low watermark moved to `sequence`.
    case checkpointStable(sequence: SequenceNumber, stateDigest: Digest)
    /// An input was refused without changing state.
    case rejected(RejectReason, from: Principal, kind: MessageKind)
    /// 2f+1 replicas certified a checkpoint this replica has not reached or disagrees with.
    case fellBehind(stableSequence: SequenceNumber)
}

/// Why an input was refused. Each is an expected input from a Byzantine peer or a faulty client.
public enum RejectReason: String, Hashable, Sendable, CaseIterable {
    case badSignature = "bad signature"
    case unknownSender = "unknown sender"
    case wrongView = "wrong view"
    case outsideWatermarks = "outside the watermarks"
    case conflictingDigest = "conflicting digest for the same view and sequence number"
    case duplicate = "duplicate"
    case notFromPrimary = "pre-prepare not from the primary"
    case fromPrimary = "prepare from the primary"
    case digestMismatch = "digest does not match the batch"
    case badRequestInBatch = "a request in the batch is invalid"
    case staleRequest = "request older than the last executed one"
    case batchTooLarge = "batch larger than allowed"
    case misalignedCheckpoint = "checkpoint not at a checkpoint interval"
    case unexpectedMessage = "message not handled by a replica in this state"
    case undecodable = "undecodable frame"
}
