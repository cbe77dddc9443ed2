/// Every message of PBFT's signature variant (Castro & Liskov, OSDI 1999 and TOCS 2002) and of the speculative
/// path (Kotla et al., Zyzzyva, SOSP 2007: spec-response to proof of misbehaviour). Each travels inside an
/// `Envelope` whose sender and signature authenticate it; a field that would repeat the sender (PBFT's i in
/// ⟨PREPARE, v, n, d, i⟩, c in ⟨REQUEST, o, t, c⟩) is the envelope's sender, so the two can never disagree.
public enum Message: Hashable, Sendable {
    case request(Request)
    case prePrepare(PrePrepare)
    case prepare(Prepare)
    case commit(Commit)
    case reply(Reply)
    case checkpoint(Checkpoint)
    case viewChange(ViewChange)
    case newView(NewView)
    case stateRequest(StateRequest)
    case stateChunk(StateChunk)
    case status(Status)
    indirect case specResponse(SpecResponse)
    case commitCertificate(CommitCertificate)
    case localCommit(LocalCommit)
    case fillHole(FillHole)
    indirect case misbehaviourProof(MisbehaviourProof)
    case hateThePrimary(HateThePrimary)
    case historyVote(HistoryVote)

    public var kind: MessageKind {
        switch self {
        case .request: .request
        case .prePrepare: .prePrepare
        case .prepare: .prepare
        case .commit: .commit
        case .reply: .reply
        case .checkpoint: .checkpoint
        case .viewChange: .viewChange
        case .newView: .newView
        case .stateRequest: .stateRequest
        case .stateChunk: .stateChunk
        case .status: .status
        case .specResponse: .specResponse
        case .commitCertificate: .commitCertificate
        case .localCommit: .localCommit
        case .fillHole: .fillHole
        case .misbehaviourProof: .misbehaviourProof
        case .hateThePrimary: .hateThePrimary
        case .historyVote: .historyVote
        }
    }
}

/// The wire tag of each message. Values are part of the format: never renumber, only add.
public enum MessageKind: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case request = 1
    case prePrepare = 2
    case prepare = 3
    case commit = 4
    case reply = 5
    case checkpoint = 6
    case viewChange = 7
    case newView = 8
    case stateRequest = 9
    case stateChunk = 10
    case status = 11
    case specResponse = 12
    case commitCertificate = 13
    case localCommit = 14
    case fillHole = 15
    case misbehaviourProof = 16
    case hateThePrimary = 17
    case historyVote = 18

    /// Messages a client sends (and signs); every other kind comes from a replica.
    public var isFromClient: Bool { self == .request || self == .commitCertificate }

    public var description: String {
        switch self {
        case .request: "request"
        case .prePrepare: "pre-prepare"
        case .prepare: "prepare"
        case .commit: "commit"
        case .reply: "reply"
        case .checkpoint: "checkpoint"
        case .viewChange: "view-change"
        case .newView: "new-view"
        case .stateRequest: "state-request"
        case .stateChunk: "state-chunk"
        case .status: "status"
        case .specResponse: "spec-response"
        case .commitCertificate: "commit-certificate"
        case .localCommit: "local-commit"
        case .fillHole: "fill-hole"
        case .misbehaviourProof: "proof-of-misbehaviour"
        case .hateThePrimary: "i-hate-the-primary"
        case .historyVote: "history-vote"
        }
    }
}

/// ⟨REQUEST, o, t, c⟩σc (PBFT §4.1); c is the envelope's sender.
public struct Request: Hashable, Sendable {
    public var timestamp: Timestamp
    /// The application's command, opaque to the protocol.
    public var operation: [UInt8]
    /// PBFT §5.1.3: a read-only request may be answered from current state without ordering.
    public var readOnly: Bool
    /// The client's public key, for a client the group does not know in advance: its id must then be
    /// `ClientID(selfCertifying:suite:)` of this key, so nobody can claim another client's id.
    public var clientKey: PublicKey?

    public init(timestamp: Timestamp, operation: [UInt8], readOnly: Bool = false, clientKey: PublicKey? = nil) {
        self.timestamp = timestamp
        self.operation = operation
        self.readOnly = readOnly
        self.clientKey = clientKey
    }
}

/// ⟨PRE-PREPARE, v, n, d⟩σp with the batch it orders (PBFT §4.2, batching §5.1.4). `digest` is the digest of
/// the batch; a backup recomputes it. An empty batch is the null request a new primary uses to fill gaps (§4.4).
///
/// Under the speculative protocol the same message is Zyzzyva's ⟨ORDER-REQ, v, n, h_n, d⟩σp (§3.2): `history`
/// is h_n = H(h_{n-1}, d), which chains every batch ordered so far. Under PBFT it is zero.
public struct PrePrepare: Hashable, Sendable {
    public var view: ViewNumber
    public var sequence: SequenceNumber
    public var digest: Digest
    /// Client-signed request envelopes, each carrying a `.request`.
    public var batch: [Envelope]
    public var history: Digest

    public init(view: ViewNumber, sequence: SequenceNumber, digest: Digest, batch: [Envelope], history: Digest = .zero) {
        self.view = view
        self.sequence = sequence
        self.digest = digest
        self.batch = batch
        self.history = history
    }
}

/// ⟨PREPARE, v, n, d, i⟩σi (PBFT §4.2).
public struct Prepare: Hashable, Sendable {
    public var view: ViewNumber
    public var sequence: SequenceNumber
    public var digest: Digest

    public init(view: ViewNumber, sequence: SequenceNumber, digest: Digest) {
        self.view = view
        self.sequence = sequence
        self.digest = digest
    }
}

/// ⟨COMMIT, v, n, d, i⟩σi (PBFT §4.2).
public struct Commit: Hashable, Sendable {
    public var view: ViewNumber
    public var sequence: SequenceNumber
    public var digest: Digest

    public init(view: ViewNumber, sequence: SequenceNumber, digest: Digest) {
        self.view = view
        self.sequence = sequence
        self.digest = digest
    }
}

/// ⟨REPLY, v, t, c, i, r⟩σi (PBFT §4.1); i is the envelope's sender. Naming c lets a client refuse a reply meant
/// for another client, and lets one connection carry the replies of many clients.
public struct Reply: Hashable, Sendable {
    public var view: ViewNumber
    public var timestamp: Timestamp
    public var client: ClientID
    public var result: [UInt8]

    public init(view: ViewNumber, timestamp: Timestamp, client: ClientID, result: [UInt8]) {
        self.view = view
        self.timestamp = timestamp
        self.client = client
        self.result = result
    }
}

/// ⟨CHECKPOINT, n, d, i⟩σi (PBFT §4.3): d covers the application state and the reply table after executing n.
/// Under the speculative protocol it also names h_n, the history digest at n (Zyzzyva §3.4), so that a proof of
/// the checkpoint anchors the history chain above it; under PBFT `history` is zero.
public struct Checkpoint: Hashable, Sendable {
    public var sequence: SequenceNumber
    public var stateDigest: Digest
    public var history: Digest

    public init(sequence: SequenceNumber, stateDigest: Digest, history: Digest = .zero) {
        self.sequence = sequence
        self.stateDigest = stateDigest
        self.history = history
    }
}

/// A prepared certificate (PBFT §4.4, the set P): a pre-prepare and 2f matching prepares from distinct backups.
public struct PreparedCertificate: Hashable, Sendable {
    /// An envelope carrying a `.prePrepare`.
    public var prePrepare: Envelope
    /// Envelopes carrying `.prepare`s that match the pre-prepare.
    public var prepares: [Envelope]

    public init(prePrepare: Envelope, prepares: [Envelope]) {
        self.prePrepare = prePrepare
        self.prepares = prepares
    }
}

/// ⟨VIEW-CHANGE, v+1, n, C, P, i⟩σi (PBFT §4.4).
public struct ViewChange: Hashable, Sendable {
    public var newView: ViewNumber
    /// n: the sequence number of the sender's last stable checkpoint.
    public var stableSequence: SequenceNumber
    /// C: 2f+1 checkpoint envelopes proving that checkpoint stable (empty for the initial state, n = 0).
    public var checkpointProof: [Envelope]
    /// P: for every sequence number above n that prepared at the sender, its certificate from the highest view.
    /// Under the speculative protocol: the order-reqs of the sender's history above n, one per sequence number,
    /// each with no prepares.
    public var prepared: [PreparedCertificate]
    /// Speculative protocol only: the sender's highest commit certificate (2f+1 matching spec-responses or history
    /// votes), or empty.
    public var certificate: [Envelope]

    public init(
        newView: ViewNumber, stableSequence: SequenceNumber, checkpointProof: [Envelope],
        prepared: [PreparedCertificate], certificate: [Envelope] = []
    ) {
        self.newView = newView
        self.stableSequence = stableSequence
        self.checkpointProof = checkpointProof
        self.prepared = prepared
        self.certificate = certificate
    }
}

/// ⟨NEW-VIEW, v+1, V, O⟩σp (PBFT §4.4).
public struct NewView: Hashable, Sendable {
    public var view: ViewNumber
    /// V: the 2f+1 view-change envelopes the new primary collected.
    public var viewChanges: [Envelope]
    /// O: the pre-prepares the new primary re-issues, recomputable from V by every backup.
    public var prePrepares: [Envelope]

    public init(view: ViewNumber, viewChanges: [Envelope], prePrepares: [Envelope]) {
        self.view = view
        self.viewChanges = viewChanges
        self.prePrepares = prePrepares
    }
}

/// Asks a replica for one chunk of the snapshot at a stable checkpoint (PBFT §5.3, simplified to flat chunks).
public struct StateRequest: Hashable, Sendable {
    public var sequence: SequenceNumber
    public var stateDigest: Digest
    public var chunkIndex: UInt32

    public init(sequence: SequenceNumber, stateDigest: Digest, chunkIndex: UInt32) {
        self.sequence = sequence
        self.stateDigest = stateDigest
        self.chunkIndex = chunkIndex
    }
}

/// One chunk of a snapshot. The receiver verifies the whole snapshot against `stateDigest`, which 2f+1 checkpoint
/// messages certified, before installing it.
public struct StateChunk: Hashable, Sendable {
    public var sequence: SequenceNumber
    public var stateDigest: Digest
    public var chunkIndex: UInt32
    public var chunkCount: UInt32
    public var data: [UInt8]

    public init(sequence: SequenceNumber, stateDigest: Digest, chunkIndex: UInt32, chunkCount: UInt32, data: [UInt8]) {
        self.sequence = sequence
        self.stateDigest = stateDigest
        self.chunkIndex = chunkIndex
        self.chunkCount = chunkCount
        self.data = data
    }
}

/// A replica's progress, multicast when it has waited too long without executing (the status messages of PBFT's
/// BFT library, Castro's thesis §5.2): peers answer by retransmitting what the sender is missing, so a lost
/// pre-prepare, prepare, commit or checkpoint cannot stall it for good.
public struct Status: Hashable, Sendable {
    public var view: ViewNumber
    /// The sender's last executed sequence number, or lower when it holds uncommitted slots below that (after a
    /// view change): peers retransmit the slots that follow it.
    public var lastExecuted: SequenceNumber
    public var stableSequence: SequenceNumber

    public init(view: ViewNumber, lastExecuted: SequenceNumber, stableSequence: SequenceNumber) {
        self.view = view
        self.lastExecuted = lastExecuted
        self.stableSequence = stableSequence
    }
}
