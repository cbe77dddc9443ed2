/// A client's side of the protocol (PBFT §4.1) as a value: it signs requests, sends the first copy to the
/// primary it believes in, retransmits to every replica after a timeout, and accepts a result only when f+1
/// distinct replicas sent matching replies, since at least one of them is correct.
///
/// Under the speculative protocol (Zyzzyva §3.2–§3.3) it completes on 3f+1 matching spec-responses; with 2f+1 of
/// them `commitTicks` after they first matched it sends them as a commit certificate and completes on 2f+1
/// matching local-commits.
public struct ClientSession {
    public let client: ClientID
    public let configuration: Configuration
    public let options: ClientOptions
    let directory: KeyDirectory
    let suite: any CryptoSuite
    let signer: any Signer
    /// The key shared with each replica, in replica order, when replies are MAC'd (nil in signature mode).
    let replicaKeys: [any SessionKey]?
    /// MAC mode: the same keys, which also seal requests (nil when requests are signed).
    var requestKeys: [any SessionKey]? { options.authentication.signsRequests ? nil : replicaKeys }
    /// History votes already checked (MAC mode's commit path); clients of one process may share it.
    let verifiedVotes: VerifiedSignatures
    /// Speculative protocol: certificates shared with the other sessions of this process, if any (`SharedCommits`).
    let sharedCommits: SharedCommits?

    /// The primary this client believes in, learned from replies.
    public internal(set) var view: ViewNumber = 0
    public private(set) var lastTimestamp: Timestamp
    var outstanding: Outstanding?
    /// Speculative protocol: the last request completed by the commit path, not the fast path (a replica is
    /// slow or silent), so the next one commits as soon as 2f+1 spec-responses match (`adaptiveCommit`).
    public internal(set) var fastPathFailing = false

    struct Outstanding {
        var request: Envelope
        var timestamp: Timestamp
        /// The replies' results, counted per replica, and the view each reply named.
        var results = QuorumTracker<[UInt8]>()
        var views: [(replica: ReplicaID, view: ViewNumber)] = []
        var ticksWaiting: UInt64 = 0
        var retransmissions = 0
        /// Speculative protocol: the latest spec-response from each replica, and the certificate sent, if any.
        var responses: [(replica: ReplicaID, envelope: Envelope, key: SpeculativeKey)] = []
        /// Speculative protocol: replicas whose answer to this request was refused (unauthentic), so the fast path,
        /// which needs every replica, is out of reach unless they answer again.
        var refusedFrom: [ReplicaID] = []
        /// Speculative protocol: `ticksWaiting` when 2f+1 spec-responses first matched; the commit timer runs
        /// from here.
        var quorumAt: UInt64?
        var committing: Committing?

        /// The protocol's tables sized for one answer per replica up front: they fill on every request, and
        /// regrowing them showed in the client's profile. They are lists, not dictionaries: at most n entries.
        init(request: Envelope, timestamp: Timestamp, replicas: Int, speculative: Bool) {
            self.request = request
            self.timestamp = timestamp
            if speculative {
                responses.reserveCapacity(replicas)
            } else {
                results = QuorumTracker(expectedVoters: replicas)
                views.reserveCapacity(replicas)
            }
        }
    }

    /// A commit certificate sent and the local-commits it drew (Zyzzyva §3.3); sent again to the replicas that
    /// have not answered every `certificateResendTicks`.
    struct Committing {
        var key: SpeculativeKey
        var localCommits = QuorumTracker<SpeculativeKey>()
        var certificate: Envelope
        var sentAt: UInt64
    }

    /// What spec-responses must agree on to count together (Zyzzyva §3.2).
    struct SpeculativeKey: Hashable, Sendable {
        var view: ViewNumber
        var sequence: SequenceNumber
        var history: Digest
        var result: [UInt8]
    }

    /// `lastTimestamp` is the newest timestamp this client identity ever used; new requests use larger ones
    /// (a process that restarts passes something like the wall clock in microseconds). Sessions of one thread may
    /// share `verifiedVotes`, so each batch's history votes are checked once, not once per client, and
    /// `sharedCommits`, so each batch needs one commit certificate, not one per client.
    public init(
        client: ClientID, configuration: Configuration, options: ClientOptions = ClientOptions(),
        directory: KeyDirectory, suite: any CryptoSuite, signer: any Signer, lastTimestamp: Timestamp = 0,
        verifiedVotes: VerifiedSignatures? = nil, sharedCommits: SharedCommits? = nil
    ) {
        self.verifiedVotes = verifiedVotes ?? VerifiedSignatures(capacity: 64)
        self.sharedCommits = sharedCommits
        self.client = client
        self.configuration = configuration
        self.options = options
        self.directory = directory
        self.suite = suite
        self.signer = signer
        self.lastTimestamp = lastTimestamp
        // Replica keys come from the cluster's configuration; one that admits no key agreement is a broken
        // configuration, and the client then signs, which every replica accepts.
        let macs = options.authentication.macsReplies
        let keys = macs ? directory.replicas.compactMap { signer.sessionKey(with: $0) } : []
        self.replicaKeys = macs && keys.count == directory.replicas.count ? keys : nil
    }

    public var isBusy: Bool { outstanding != nil }
    public var outstandingTimestamp: Timestamp? { outstanding?.timestamp }

    /// Signs a request for `operation` and returns where to send it. One request at a time (PBFT §4.1).
    public mutating func submit(_ operation: [UInt8], readOnly: Bool = false) -> [Outbound] {
        precondition(outstanding == nil, "client \(client) already has a request outstanding")
        lastTimestamp = Timestamp(lastTimestamp.rawValue + 1)
        let message = Message.request(
            Request(
                timestamp: lastTimestamp, operation: operation, readOnly: readOnly,
                clientKey: client.isSelfCertifying ? signer.publicKey : nil))
        let request =
            if let requestKeys {
                Envelope(authenticating: message, from: .client(client), keys: requestKeys)
            } else {
                Envelope(signing: message, from: .client(client), with: signer)
            }
        outstanding = Outstanding(
            request: request, timestamp: lastTimestamp, replicas: configuration.replicaCount,
            speculative: options.replication == .zyzzyva)
        return [Outbound(request, to: .replica(configuration.primary(of: view)))]
    }

    /// Handles a reply. Returns the completion once f+1 distinct replicas sent the same result.
    public mutating func receive(_ envelope: Envelope) -> ClientStep {
        guard let replica = envelope.sender.replicaID, configuration.contains(replica) else {
            return ClientStep(rejected: .unknownSender)
        }
        // Cheap check first: once f+1 matching replies completed a request the others arrive for no outstanding
        // request, and are dropped without paying for a signature verification.
        guard envelope.message.addressee == client else { return ClientStep(rejected: .wrongClient) }
        guard let timestamp = outstanding?.timestamp, envelope.message.answeredTimestamp == timestamp else {
            return ClientStep(rejected: .staleRequest)
        }
        // A client that shares a key with every replica gets MAC-sealed answers from every correct one (`response`
        // seals them so for a request that came with an authenticator). A signed answer is refused unchecked, so
        // a faulty replica cannot make the client pay an Ed25519 verification per request.
        if replicaKeys != nil, envelope.signature != nil { return refused(.signedWhereMACDue, envelope, from: replica) }
        guard isAuthentic(envelope, from: replica) else { return refused(.badSignature, envelope, from: replica) }
        switch envelope.message {
        case .reply(let reply) where options.replication == .pbft: return receive(reply, from: replica)
        case .specResponse(let response) where options.replication == .zyzzyva:
            return receive(response, envelope, from: replica)
        case .localCommit(let commit) where options.replication == .zyzzyva: return receive(commit, from: replica)
        default: return ClientStep(rejected: .unexpectedMessage)
        }
    }

    /// Signed, or (when replies are MAC'd) sealed with the one MAC for this client.
    private func isAuthentic(_ envelope: Envelope, from replica: ReplicaID) -> Bool {
        switch envelope.seal {
        case .signature:
            guard let key = directory.key(of: .replica(replica)) else { return false }
            return envelope.verify(with: suite, key: key)
        case .authenticator(let macs):
            guard let replicaKeys, macs.count == 1, Int(replica.rawValue) < replicaKeys.count else { return false }
            return envelope.verifyMAC(at: 0, key: replicaKeys[Int(replica.rawValue)])
        }
    }

    private mutating func receive(_ reply: Reply, from replica: ReplicaID) -> ClientStep {
        // Taken out, `pending` alone holds its tables while they change (no copy); it goes back unless completed.
        guard reply.timestamp == outstanding?.timestamp, var pending = outstanding.take() else {
            return ClientStep(rejected: .staleRequest)
        }
        switch pending.results.add(replica, reply.result) {
        case .duplicate:
            outstanding = consume pending
            return ClientStep(rejected: .duplicate)
        case .conflicting:
            outstanding = consume pending
            return ClientStep(rejected: .conflictingDigest)
        case .added(let count):
            pending.views.append((replica, reply.view))
            let needed = configuration.weakQuorum - (options.deviations.acceptWithFReplies ? 1 : 0)
            guard count >= needed else {
                outstanding = consume pending
                return ClientStep()
            }
            // The view the client learns: the highest that a reply with the accepted result named.
            for (voter, named) in pending.views where pending.results.vote(of: voter) == reply.result {
                view = max(view, named)
            }
            return ClientStep(completion: Completion(timestamp: pending.timestamp, result: reply.result))
        }
    }

    /// Gives up on the outstanding request (the caller timed out); a later reply to it is ignored.
    public mutating func abandon() { outstanding = nil }

    /// Speculative protocol: whether the outstanding request's commit certificate went out (a certificate the next
    /// `tick` sends is then a resend).
    public var certificateSent: Bool { outstanding?.committing != nil }

    /// On timeout, the request goes to every replica (PBFT §4.1): those that executed it resend the reply, the
    /// others relay it to the primary. Under the speculative protocol, `commitTicks` after 2f+1 spec-responses
    /// first matched, they go to every replica as a commit certificate (Zyzzyva §3.3).
    public mutating func tick() -> [Outbound] {
        var resending = false
        return tick(resending: &resending)
    }

    /// `tick()`, also saying whether a certificate it returns is a resend (one went out before). Mutating, so a
    /// pool that ticks its sessions in an array does so in place: a getter such as `certificateSent` called on
    /// an array element from another module copies the whole session (perf: 5 % of a 1,024-session pool's CPU).
    public mutating func tick(resending: inout Bool) -> [Outbound] {
        // A pool ticks every identity on every tick: count in place, and take `pending` out only to act.
        guard let waited = outstanding?.ticksWaiting else { return [] }
        resending = outstanding?.committing != nil
        outstanding?.ticksWaiting = waited + 1
        let committing = options.replication == .zyzzyva
            && outstanding?.quorumAt.map { waited + 1 >= $0 + options.commitTicks } == true
        let resend = outstanding?.committing.map { waited + 1 >= $0.sentAt + options.certificateResendTicks } == true
        guard committing || resend || waited + 1 >= options.retransmitTicks, var pending = outstanding.take() else {
            return []
        }
        defer { outstanding = pending }
        if resend, waited + 1 < options.retransmitTicks, var sent = pending.committing.take() {
            // A replica that had not yet executed the history refused the certificate (`certificateMismatch`);
            // it holds it by now, or will at a later try.
            sent.sentAt = waited + 1
            let silent = configuration.replicas.filter { !sent.localCommits.hasVoted($0) }
            pending.committing = sent
            return silent.map { Outbound(sent.certificate, to: .replica($0)) }
        }
        if committing {
            let certificate = startCommit(&pending)
            if !certificate.isEmpty { return certificate }
        }
        guard pending.ticksWaiting >= options.retransmitTicks else { return [] }
        pending.ticksWaiting = 0
        pending.retransmissions += 1
        pending.committing = nil
        if pending.quorumAt != nil { pending.quorumAt = 0 }
        return configuration.replicas.map { Outbound(pending.request, to: .replica($0)) }
    }
}

extension Message {
    /// The request timestamp a reply, spec-response or local-commit answers.
    var answeredTimestamp: Timestamp? {
        switch self {
        case .reply(let m): m.timestamp
        case .specResponse(let m): m.timestamp
        case .localCommit(let m): m.timestamp
        default: nil
        }
    }

    /// The client a reply, spec-response or local-commit is for (PBFT §4.1's c): a client refuses others', and a
    /// connection that carries many clients' replies is demultiplexed by it.
    public var addressee: ClientID? {
        switch self {
        case .reply(let m): m.client
        case .specResponse(let m): m.client
        case .localCommit(let m): m.client
        default: nil
        }
    }
}

public struct ClientOptions: Hashable, Sendable {
    /// Ticks to wait for f+1 matching replies before retransmitting to all replicas.
    public var retransmitTicks: UInt64 = 50
    /// The protocol the cluster runs.
    public var replication = ReplicationProtocol.pbft
    /// Speculative protocol: ticks to wait, from the moment 2f+1 spec-responses match, for the 3f+1st before
    /// committing with 2f+1. Zyzzyva §3.3 starts the timer when the request is sent; under load every answer is
    /// late alike, and a certificate then only adds 2f+1 verifications per replica per request (at 512 unbatched
    /// clients the published rule sent 6,400 certificates for 736 commit-path completions and throughput fell to
    /// a third). A silent replica is still caught one `commitTicks` after the quorum.
    public var commitTicks: UInt64 = 10
    /// Speculative protocol: ticks after which a commit certificate that has not drawn 2f+1 local-commits goes
    /// again to the replicas that did not answer (one that had not executed the history yet refused it).
    public var certificateResendTicks: UInt64 = 2
    /// Speculative protocol: after a request that needed the commit path, send the next certificate as soon as
    /// 2f+1 spec-responses match instead of waiting `commitTicks` for a fast quorum that a silent replica will
    /// never complete. One fast-path completion returns to waiting.
    public var adaptiveCommit = true
    /// How requests and replies are authenticated; the cluster's replicas must use the same setting.
    public var authentication = ClientAuthentication.signatures
    @_spi(BrokenVariants) public var deviations = ClientDeviations()

    public init(
        retransmitTicks: UInt64 = 50, replication: ReplicationProtocol = .pbft, commitTicks: UInt64 = 10,
        authentication: ClientAuthentication = .signatures
    ) {
        self.retransmitTicks = retransmitTicks
        self.replication = replication
        self.commitTicks = commitTicks
        self.authentication = authentication
    }
}

@_spi(BrokenVariants)
public struct ClientDeviations: Hashable, Sendable {
    /// Accept a result on f matching replies instead of f+1.
    public var acceptWithFReplies = false
    /// Speculative protocol: a session riding on another's certificate completes with the result of any
    /// spec-response for the committed history, instead of needing 2f+1 matching ones.
    public var ridersNeedNoQuorum = false
    public init() {}
}

public struct ClientStep: Hashable, Sendable {
    public var completion: Completion?
    public var rejected: RejectReason?
    /// What to send now (a commit certificate under `adaptiveCommit`).
    public var messages: [Outbound] = []
    /// Speculative protocol: this session's certificate completed, and these sessions of the same process rode on
    /// it; the caller hands each `historyCommitted(_:)` (`SharedCommits`).
    public var shared: SharedCommit?

    public init(completion: Completion? = nil, rejected: RejectReason? = nil, messages: [Outbound] = []) {
        self.completion = completion
        self.rejected = rejected
        self.messages = messages
    }
}

public struct Completion: Hashable, Sendable {
    public var timestamp: Timestamp
    public var result: [UInt8]
    /// Speculative protocol: where the request ran and the history digest there, which every later completed
    /// history must extend (no rollback of completion). Zero under PBFT.
    public var sequence: SequenceNumber
    public var history: Digest
    /// Speculative protocol: whether 3f+1 spec-responses completed it (else a commit certificate did).
    public var fastPath: Bool

    public init(
        timestamp: Timestamp, result: [UInt8], sequence: SequenceNumber = 0, history: Digest = .zero,
        fastPath: Bool = false
    ) {
        self.timestamp = timestamp
        self.result = result
        self.sequence = sequence
        self.history = history
        self.fastPath = fastPath
    }
}
