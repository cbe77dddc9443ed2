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

/// What must survive a crash before the messages of the same `Effects` may be sent.
///
/// **The durability contract.** A host persists every record of an `Effects` before it sends any of its messages
/// (but the trailing records below), and the replica emits a record in the same `Effects` as the first message that depends on it:
///
/// | record | persisted before the replica sends | so that after a restart it |
/// |---|---|---|
/// | `prePrepare` | its prepare for that pre-prepare (the primary: the pre-prepare) | never accepts or issues a second digest for (v, n) |
/// | `vote` | that prepare or commit | never votes for two digests at (v, n) |
/// | `prepared` | its commit for the slot | still carries the certificate in its view-change (PBFT §4.4's P) |
/// | `committed` | nothing: it may trail (below) | re-executes what it executed before, or a prefix of it |
/// | `viewChange` | the view-change message | never takes part in the view it left |
/// | `newView` | anything in the new view | is in the view it joined, with its pre-prepares |
/// | `stableCheckpoint` | nothing; it allows discarding older records | restores the state, the proof and the log window |
/// | `certificate` | a local-commit, or anything in the view it confirms | still carries it in its view-changes, and is in that view |
///
/// Under the speculative protocol `prePrepare` is the order-req, persisted before the spec-responses of its slot;
/// `newView` is a new-view accepted and voted for, entered once the `certificate` confirming it is recorded.
///
/// Checkpoint messages need no record: their digest is a function of the executed prefix, which the records
/// above reproduce. `Replica.recover(from:)` rebuilds a replica from these records.
///
/// **Trailing records** (`mustPrecedeMessages == false`). A `committed` record guards no promise: the slot's
/// prepared certificate and this replica's commit were made durable before the commit was sent, and 2f+1
/// replicas did so, so the slot keeps its digest in every later view (PBFT §4.4) whether or not this record
/// survives. A host may therefore send the replies of a slot before its `committed` record is durable, provided
/// it writes the record no later than the next record that must precede messages, and in order (the log shell
/// keeps such records in memory and puts them in front of the next group it syncs, or syncs them when idle). A
/// crash then takes at most the trailing records: the replica restarts with a prefix of what it executed and
/// catches up as a replica that fell behind does (status retransmission, a view change or a state transfer). At
/// low load this takes one of the four `fdatasync`s off a request's path (the primary's pre-prepare, a backup's
/// pre-prepare and prepare, the prepared certificate and commit, and the committed slot).
public enum DurableRecord: Hashable, Sendable {
    /// A pre-prepare this replica accepted (or, at the primary, issued).
    case prePrepare(Envelope)
    /// A prepare or commit this replica signed.
    case vote(Envelope)
    /// A prepared certificate this replica formed: the pre-prepare and the matching prepares.
    case prepared(PreparedCertificate)
    /// The slot reached committed-local in `view` with `digest`; it may be executed.
    case committed(view: ViewNumber, sequence: SequenceNumber, digest: Digest)
    /// The view-change message this replica sent: it left every view below `newView`.
    case viewChange(Envelope)
    /// The new-view message this replica accepted (or, as the new primary, sent).
    case newView(Envelope)
    /// A checkpoint that became stable, with its proof and the state it certifies; older records may be dropped.
    case stableCheckpoint(StableCheckpoint)
    /// Speculative protocol: the highest commit certificate this replica holds (2f+1 spec-responses or history
    /// votes); only the newest matters.
    case certificate([Envelope])

    /// Whether a host must have this record on stable storage before it sends the messages of the same `Effects`
    /// (see the contract above): all records but `committed`.
    public var mustPrecedeMessages: Bool {
        if case .committed = self { false } else { true }
    }
}

/// A stable checkpoint (PBFT §4.3) as it is kept: its sequence number, the certified state digest, the 2f+1
/// checkpoint messages that certify it, and the state bytes (application snapshot and reply table).
public struct StableCheckpoint: Hashable, Sendable {
    public var sequence: SequenceNumber
    public var stateDigest: Digest
    public var proof: [Envelope]
    public var state: [UInt8]

    public init(sequence: SequenceNumber, stateDigest: Digest, proof: [Envelope], state: [UInt8]) {
        self.sequence = sequence
        self.stateDigest = stateDigest
        self.proof = proof
        self.state = state
    }
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

/// One request as executed: who issued it, when, its operation (checkers digest it for validity; the replica
/// only shares the bytes, so executing costs no hash per request) and its result.
public struct ExecutedRequest: Hashable, Sendable {
    public var client: ClientID
    public var timestamp: Timestamp
    public var operation: [UInt8]
    public var result: [UInt8]

    public init(client: ClientID, timestamp: Timestamp, operation: [UInt8], result: [UInt8]) {
        self.client = client
        self.timestamp = timestamp
        self.operation = operation
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
    /// 2f+1 replicas certified a checkpoint this replica has not reached: it starts a state transfer.
    case fellBehind(stableSequence: SequenceNumber)
    /// The state at `sequence` was fetched, verified against its certified digest and installed.
    case stateTransferred(sequence: SequenceNumber)
    /// The view-change timer expired, or f+1 peers moved on: this replica left its view for `view`.
    case viewChangeStarted(view: ViewNumber)
    /// A new-view was accepted (or, at the new primary, issued): normal operation resumes in `view`.
    case viewInstalled(view: ViewNumber)
    /// The replica was rebuilt from its durable records: its state is that of checkpoint `stableSequence`, and
    /// it executes again, in order, the slots its records show committed above it.
    case recovered(view: ViewNumber, stableSequence: SequenceNumber)
    /// Speculative protocol: execution above `to` (up to `from`) was undone because the new view's history does
    /// not keep it; the slots run again from `to`.
    case rolledBack(from: SequenceNumber, to: SequenceNumber)
    /// Speculative protocol: this replica complained about the primary of `view` (I-HATE-THE-PRIMARY).
    case complained(view: ViewNumber)
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
    case changingView = "normal-case message while the view is changing"
    case staleView = "message for an older view"
    case invalidViewChange = "view-change with an invalid checkpoint proof or certificate"
    case invalidNewView = "new-view that does not match the view-changes it carries"
    case notNewPrimary = "new-view not from the primary of its view"
    case noSuchState = "state requested that this replica does not hold"
    case unexpectedChunk = "state chunk not asked for"
    case stateDigestMismatch = "transferred state does not match its certified digest"
    case rateLimited = "over the per-peer rate limit"
    case invalidCertificate = "commit certificate without 2f+1 valid matching votes"
    case certificateMismatch = "commit certificate for a history this replica does not hold"
    case invalidProof = "proof of misbehaviour that proves nothing"
    case wrongClient = "reply addressed to another client"
    case redundantVote = "prepare or commit for a slot that already has its quorum"
    case signedWhereMACDue = "signed answer to a client that shares a MAC key with every replica"
}
