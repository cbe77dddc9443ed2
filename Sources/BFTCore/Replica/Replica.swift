/// A PBFT replica (Castro & Liskov, OSDI 1999 §4) as a value: `receive` and `tick` turn inputs into `Effects`
/// and never perform I/O. Time enters as ticks; cryptography through `CryptoSuite` and this replica's `Signer`.
///
/// Handlers validate first and then apply fully: a rejected input changes no state and yields a `.rejected`
/// event. The normal case, requests and batching, and checkpoints live in extensions in files of their own.
public struct Replica {
    public let id: ReplicaID
    public let configuration: Configuration
    public let options: ReplicaOptions
    public let directory: KeyDirectory
    let suite: any CryptoSuite
    let signer: any Signer
    var application: any StateMachine
    /// MAC mode: the key shared with each client, by the client's public key.
    let sessionKeys: SessionKeyCache

    /// v: the current view; while `viewActive` is false, the view this replica is changing to (PBFT §4.4).
    public internal(set) var view: ViewNumber = 0
    /// False between sending a view-change for `view` and accepting its new-view: only checkpoints, view-changes,
    /// new-views, state transfer and requests are handled then.
    public internal(set) var viewActive = true
    /// h: the sequence number of the last stable checkpoint.
    public internal(set) var lowWatermark: SequenceNumber = 0
    public internal(set) var lastExecuted: SequenceNumber = 0

    /// Slots in (h, h+L], by sequence number. Truncated at every stable checkpoint.
    var log: [UInt64: Slot] = [:]
    /// The reply table: the last reply per client (PBFT §4.1's exactly-once rule). Covered by checkpoint digests.
    var replies: [ClientID: CachedReply] = [:]
    /// Primary only: the next sequence number to assign, and requests waiting for a batch (one per client).
    var nextSequence: SequenceNumber = 1
    var pending = PendingRequests()
    /// The newest timestamp per client in a batch that is ordered but not yet executed (drops duplicates).
    var ordered: [ClientID: Timestamp] = [:]
    /// Checkpoints above h: this replica's own and the votes for each.
    var checkpoints: [UInt64: CheckpointRecord] = [:]
    /// The 2f+1 checkpoint messages proving h stable (PBFT §4.4's C).
    public internal(set) var stableProof: [Envelope] = []
    /// The digest of the stable checkpoint's state, which `stableProof` certifies.
    public internal(set) var stableStateDigest: Digest = .zero
    /// The state bytes of the stable checkpoint, served to replicas that fetch it; nil while this replica is
    /// itself fetching the state it certified through others' proof.
    var stableState: [UInt8]?

    /// P of PBFT §4.4: for each sequence number above h, the prepared certificate from the highest view.
    var preparedCertificates: [UInt64: PreparedCertificate] = [:]
    /// The latest view-change message from each replica (this one's included); a correct replica only moves up.
    var viewChanges: [ReplicaID: (view: ViewNumber, envelope: Envelope, message: ViewChange)] = [:]
    /// The new-view that started the current view, resent to replicas that report an older view.
    var acceptedNewView: Envelope?
    var viewTimer = ViewTimer()
    /// Requests known to this replica and not yet executed, newest per client: they run the view-change timer
    /// and are handed to the next primary, so a view change loses none of them.
    var waiting: [ClientID: Envelope] = [:]
    /// A state transfer in progress, and checkpoints seen above the high watermark (newest per sender).
    var transfer: StateTransfer?
    /// A checkpoint 2f+1 peers certified before this replica reached it, and the tick it was first seen.
    var certifiedAhead: (sequence: SequenceNumber, digest: Digest, proof: [Envelope], since: UInt64)?
    var farCheckpoints: [ReplicaID: [(checkpoint: Checkpoint, envelope: Envelope)]] = [:]
    /// Set when a peer's message shows it is ahead of this replica (higher view, or above H): ask by status.
    var heardAhead = false
    /// Send a status on the next tick: after a restart or a state transfer, peers likely hold what is missing.
    var statusDue = false
    /// The furthest execution a peer in this view reported in its status.
    var peerExecuted: SequenceNumber = 0
    /// State chunks served per peer in the current tick (at most `stateChunksPerTick`).
    var chunksServed: [ReplicaID: (tick: UInt64, count: Int)] = [:]

    /// Speculative protocol (Zyzzyva) only; see `Replica+Speculation.swift`.
    var speculation = SpeculationState()

    var ticks: UInt64 = 0
    var lastProgressTick: UInt64 = 0
    var lastStatusAnswered: [ReplicaID: UInt64] = [:]
    var reportedBehind: SequenceNumber = 0

    public init(
        id: ReplicaID, configuration: Configuration, options: ReplicaOptions = ReplicaOptions(),
        directory: KeyDirectory, suite: any CryptoSuite, signer: any Signer, application: any StateMachine
    ) {
        precondition(configuration.contains(id), "replica \(id) is not in \(configuration)")
        precondition(directory.replicas.count == configuration.replicaCount, "one public key per replica is needed")
        precondition(options.validate() == nil, options.validate() ?? "")
        self.id = id
        self.configuration = configuration
        self.options = options
        self.directory = directory
        self.suite = suite
        self.signer = signer
        self.application = application
        self.sessionKeys = SessionKeyCache(signer: signer)
        let state = checkpointState()
        self.stableState = state
        self.stableStateDigest = suite.digest(state)
    }

    /// Whether this replica is the primary of its view (while the view is changing: of the view it moves to).
    public var isPrimary: Bool { configuration.primary(of: view) == id }
    public var primary: ReplicaID { configuration.primary(of: view) }
    /// H = h + L.
    public var highWatermark: SequenceNumber { SequenceNumber(lowWatermark.rawValue + options.logWindow) }

    /// PBFT §4.2: a sequence number is acceptable only between the watermarks, h < n ≤ H.
    func inWindow(_ sequence: SequenceNumber) -> Bool {
        sequence > lowWatermark && sequence <= highWatermark
    }

    // MARK: Inputs

    /// Handles one authenticated-or-not message. The signature is verified here, against the sender's key.
    public mutating func receive(_ envelope: Envelope) -> Effects {
        var effects = Effects()
        // A commit certificate proves itself (2f+1 replica signatures); its client may be one no replica knows. In
        // MAC mode this replica's entry of its authenticator is checked, and the local-commit is MAC'd back.
        if case .commitCertificate(let certificate) = envelope.message {
            guard isSpeculative else { return reject(.unexpectedMessage, envelope, effects) }
            var session: (any SessionKey)?
            if case .authenticator = envelope.seal {
                guard let key = directory.verifyingKey(for: envelope, suite: suite, bindings: sessionKeys),
                    let shared = sessionKeys.key(for: key), envelope.verifyMAC(at: Int(id.rawValue), key: shared)
                else { return reject(.badSignature, envelope, effects) }
                session = shared
            } else if repliesSealedForClient(envelope),
                let key = directory.verifyingKey(for: envelope, suite: suite, bindings: sessionKeys)
            {
                // Signed-requests mode: the local-commit is MAC'd for the client the certificate names, so only
                // that client (whoever sent it) can use it.
                session = sessionKeys.key(for: key)
            }
            handleCommitCertificate(envelope, certificate, session, &effects)
            return effects
        }
        guard let key = directory.verifyingKey(for: envelope, suite: suite, bindings: sessionKeys) else {
            return reject(.unknownSender, envelope, effects)
        }
        // Its own messages come back relayed by retransmission; they carry nothing new.
        if envelope.sender.replicaID == id { return reject(.duplicate, envelope, effects) }
        if isRedundantVote(envelope.message) { return reject(.redundantVote, envelope, effects) }
        let skipCheck = options.deviations.skipClientSignatureCheck && envelope.message.kind == .request
        guard skipCheck || isAuthentic(envelope, key: key) else {
            return reject(.badSignature, envelope, effects)
        }
        switch envelope.message {
        case .request(let request): handleRequest(envelope, request, &effects)
        case .prePrepare(let prePrepare): handlePrePrepare(envelope, prePrepare, &effects)
        case .prepare(let prepare): handlePrepare(envelope, prepare, &effects)
        case .commit(let commit): handleCommit(envelope, commit, &effects)
        case .checkpoint(let checkpoint): handleCheckpoint(envelope, checkpoint, &effects)
        case .status(let status): handleStatus(envelope, status, &effects)
        case .viewChange(let viewChange): handleViewChange(envelope, viewChange, &effects)
        case .newView(let newView): handleNewView(envelope, newView, &effects)
        case .stateRequest(let request): handleStateRequest(envelope, request, &effects)
        case .stateChunk(let chunk): handleStateChunk(envelope, chunk, &effects)
        case .reply, .specResponse, .localCommit, .commitCertificate:
            return reject(.unexpectedMessage, envelope, effects)
        case .fillHole, .misbehaviourProof, .hateThePrimary, .historyVote:
            guard isSpeculative else { return reject(.unexpectedMessage, envelope, effects) }
            handleSpeculativeMessage(envelope, &effects)
        }
        return effects
    }

    /// PBFT §4.2 needs 2f prepares and 2f+1 commits: once a slot of this view is prepared (committed-local), the
    /// later prepares (commits) for it change nothing, so they are dropped before their signature is checked, the
    /// costliest step of a replica (the last of three commits at every replica, say). Nothing is trusted from them.
    func isRedundantVote(_ message: Message) -> Bool {
        guard !isSpeculative, viewActive else { return false }
        switch message {
        case .prepare(let prepare):
            guard prepare.view == view, let slot = log[prepare.sequence.rawValue] else { return false }
            return slot.view == view && slot.prepared
        case .commit(let commit):
            guard commit.view == view, let slot = log[commit.sequence.rawValue] else { return false }
            return slot.view == view && slot.committed
        default:
            return false
        }
    }

    /// Normal-case messages are handled only in an active view equal to theirs (PBFT §4.4: a replica that sent a
    /// view-change accepts nothing but checkpoint, view-change and new-view messages). A message from a later
    /// view means this replica missed a new-view: it will ask for it by status.
    mutating func admitNormalCase(_ messageView: ViewNumber, _ envelope: Envelope, _ effects: inout Effects) -> Bool {
        if messageView > view { heardAhead = true }
        guard messageView == view else {
            reject(messageView < view ? .staleView : .wrongView, envelope, &effects)
            return false
        }
        guard viewActive else {
            reject(.changingView, envelope, &effects)
            return false
        }
        return true
    }

    /// The shell handed over one event-loop turn's input: queued requests go out as batches now (with
    /// `cutBatchesAtTurnEnd`; without it they went out on arrival and this does nothing new).
    public mutating func endOfTurn() -> Effects {
        var effects = Effects()
        if isPrimary && viewActive { cutBatches(force: false, &effects) }
        return effects
    }

    /// Advances this replica's notion of time by one tick: flushes partial batches and asks for retransmission
    /// when stuck.
    public mutating func tick() -> Effects {
        var effects = Effects()
        ticks += 1
        if isPrimary && viewActive { cutBatches(force: true, &effects) }
        if isSpeculative { tickSpeculation(&effects) }
        tickViewTimer(&effects)
        adoptCertifiedIfStillBehind(&effects)
        tickStateTransfer(&effects)
        sendStatusIfStuck(&effects)
        return effects
    }

    // MARK: Helpers

    func sign(_ message: Message) -> Envelope {
        Envelope(signing: message, from: .replica(id), with: signer)
    }

    /// A signature must verify under `key`. In MAC mode a client's request may instead carry an authenticator
    /// whose entry for this replica is right (PBFT, TOCS 2002 §3.2); in signature mode an authenticator is refused,
    /// so the cluster's setting, not the client, decides how strong the check is.
    func isAuthentic(_ envelope: Envelope, key: PublicKey) -> Bool {
        switch envelope.seal {
        case .signature: return envelope.verify(with: suite, key: key)
        case .authenticator:
            guard options.clientAuthentication == .macs, envelope.message.kind == .request,
                let session = sessionKeys.key(for: key)
            else { return false }
            return envelope.verifyMAC(at: Int(id.rawValue), key: session)
        }
    }

    func reject(_ reason: RejectReason, _ envelope: Envelope, _ effects: Effects) -> Effects {
        var effects = effects
        effects.events.append(.rejected(reason, from: envelope.sender, kind: envelope.message.kind))
        return effects
    }

    func reject(_ reason: RejectReason, _ envelope: Envelope, _ effects: inout Effects) {
        effects.events.append(.rejected(reason, from: envelope.sender, kind: envelope.message.kind))
    }

    mutating func noteProgress() { lastProgressTick = ticks }

    public var status: ReplicaStatus {
        ReplicaStatus(
            id: id, view: view, viewActive: viewActive, lastExecuted: lastExecuted, lowWatermark: lowWatermark, highWatermark: highWatermark,
            logEntries: log.count, pendingRequests: pending.count, checkpointsHeld: checkpoints.count,
            replyTableEntries: replies.count, history: speculation.executedHistory)
    }
}

/// A snapshot of a replica's progress and of the sizes of everything it holds, for tests and metrics.
public struct ReplicaStatus: Hashable, Sendable {
    public var id: ReplicaID
    public var view: ViewNumber
    public var viewActive: Bool
    public var lastExecuted: SequenceNumber
    public var lowWatermark: SequenceNumber
    public var highWatermark: SequenceNumber
    public var logEntries: Int
    public var pendingRequests: Int
    public var checkpointsHeld: Int
    public var replyTableEntries: Int
    /// Speculative protocol: h at `lastExecuted` (zero under PBFT).
    public var history: Digest = .zero
}

/// One sequence number's state (PBFT §4.2's log entries for (v, n)).
struct Slot {
    var view: ViewNumber
    var prePrepare: Envelope?
    var batch: [Envelope] = []
    var digest: Digest?
    var prepares = QuorumTracker<Digest>()
    var commits = QuorumTracker<Digest>()
    var prepareEnvelopes: [ReplicaID: Envelope] = [:]
    var ownPrepare: Envelope?
    var ownCommit: Envelope?
    var prepared = false
    /// PBFT: committed-local. Speculative protocol: accepted in the chain and executable.
    var committed = false
    /// Speculative protocol: h_n of the order-req.
    var history = Digest.zero

    init(view: ViewNumber) { self.view = view }
}

/// The last reply per client; the reply is signed again when resent, in the view current then. Under the
/// speculative protocol it also keeps where the request ran (n, h_n), which the spec-response names.
struct CachedReply {
    var timestamp: Timestamp
    var result: [UInt8]
    var sequence = SequenceNumber(0)
    var history = Digest.zero
}

struct CheckpointRecord {
    var own: (digest: Digest, envelope: Envelope, snapshot: [UInt8])?
    /// Speculative protocol: the own checkpoint goes out only once a commit certificate covers it.
    var announced = true
    var votes = QuorumTracker<Checkpoint>()
    var envelopes: [ReplicaID: Envelope] = [:]
}
