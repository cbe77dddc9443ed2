/// The messages only the speculative protocol uses (Kotla et al., Zyzzyva, SOSP 2007 §3). The order-req is a
/// `PrePrepare` with a history digest; checkpoints, view-changes and new-views are PBFT's with speculative contents.

/// ⟨SPEC-RESPONSE, v, n, h_n, H(r), c, t⟩σi with r (Zyzzyva §3.2): replica i executed the request speculatively at
/// n, with history h_n, in view v. c is the recipient; i the envelope's sender.
public struct SpecResponse: Hashable, Sendable {
    public var view: ViewNumber
    public var sequence: SequenceNumber
    public var history: Digest
    public var timestamp: Timestamp
    public var client: ClientID
    public var result: [UInt8]
    /// MAC mode: the spec-response is sealed for its client alone, so it carries the replica's signed history
    /// vote for (view, n, h_n), one signature per batch, which the client forwards in a commit certificate.
    public var vote: Envelope?

    public init(
        view: ViewNumber, sequence: SequenceNumber, history: Digest, timestamp: Timestamp, client: ClientID,
        result: [UInt8], vote: Envelope? = nil
    ) {
        self.view = view
        self.sequence = sequence
        self.history = history
        self.timestamp = timestamp
        self.client = client
        self.result = result
        self.vote = vote
    }
}

/// ⟨COMMIT, c, CC⟩σc (Zyzzyva §3.3): a client that holds 2f+1 (but not 3f+1) matching spec-responses sends them
/// to every replica as a commit certificate. In MAC mode it is sealed with an authenticator and names the client's
/// key (self-certifying, as in a request), so that each replica can check its entry and MAC its local-commit.
public struct CommitCertificate: Hashable, Sendable {
    /// 2f+1 spec-response envelopes from distinct replicas, matching in view, sequence number and history.
    public var responses: [Envelope]
    public var clientKey: PublicKey?

    public init(responses: [Envelope], clientKey: PublicKey? = nil) {
        self.responses = responses
        self.clientKey = clientKey
    }
}

/// ⟨LOCAL-COMMIT, v, d, h, i, c⟩σi (Zyzzyva §3.3): replica i holds the commit certificate for (v, n, h_n) and its
/// own history agrees with it.
public struct LocalCommit: Hashable, Sendable {
    public var view: ViewNumber
    public var sequence: SequenceNumber
    public var history: Digest
    public var timestamp: Timestamp
    public var client: ClientID

    public init(view: ViewNumber, sequence: SequenceNumber, history: Digest, timestamp: Timestamp, client: ClientID) {
        self.view = view
        self.sequence = sequence
        self.history = history
        self.timestamp = timestamp
        self.client = client
    }
}

/// ⟨FILL-HOLE, v, k, n, i⟩σi (Zyzzyva §3.3.1): the sender holds an order-req for a later slot but not those from
/// `from` to `to`; the receiver resends the order-reqs it holds for them.
public struct FillHole: Hashable, Sendable {
    public var view: ViewNumber
    public var from: SequenceNumber
    public var to: SequenceNumber

    public init(view: ViewNumber, from: SequenceNumber, to: SequenceNumber) {
        self.view = view
        self.from = from
        self.to = to
    }
}

/// ⟨POM, v, POM⟩ (Zyzzyva §3.5): two order-reqs the primary of one view signed that cannot both be right: two
/// different ones for one sequence number, or two consecutive ones whose history digests do not chain.
public struct MisbehaviourProof: Hashable, Sendable {
    public var first: Envelope
    public var second: Envelope

    public init(first: Envelope, second: Envelope) {
        self.first = first
        self.second = second
    }
}

/// ⟨I-HATE-THE-PRIMARY, v⟩σi (Zyzzyva §3.5): the sender waited too long for a request to be ordered in view v.
/// f+1 of them make every correct replica leave v.
public struct HateThePrimary: Hashable, Sendable {
    public var view: ViewNumber

    public init(view: ViewNumber) { self.view = view }
}

/// The sender's history in `view` has digest `history` at `sequence`. 2f+1 matching votes (or spec-responses) are a
/// commit certificate. Replicas vote at every checkpoint boundary, so that a checkpoint is taken only of a
/// committed history, and on entering a new view (Zyzzyva's view-confirm, TOCS 2009 §4.5).
public struct HistoryVote: Hashable, Sendable {
    public var view: ViewNumber
    public var sequence: SequenceNumber
    public var history: Digest

    public init(view: ViewNumber, sequence: SequenceNumber, history: Digest) {
        self.view = view
        self.sequence = sequence
        self.history = history
    }
}
