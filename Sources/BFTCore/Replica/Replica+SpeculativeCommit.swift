/// Commit certificates, history votes, proofs of misbehaviour and complaints of the speculative protocol
/// (Zyzzyva §3.3–§3.5).
extension Replica {
    // MARK: Certificates

    /// The (view, n, h_n) a spec-response or history vote vouches for.
    static func vouchedHistory(_ envelope: Envelope) -> (view: ViewNumber, sequence: SequenceNumber, history: Digest)? {
        switch envelope.message {
        case .specResponse(let r): (r.view, r.sequence, r.history)
        case .historyVote(let v): (v.view, v.sequence, v.history)
        default: nil
        }
    }

    /// A commit certificate is 2f+1 correctly signed spec-responses or history votes from distinct replicas, all
    /// for the same view, sequence number and history. This replica's own current vote, byte for byte, needs no
    /// check: it signed it (one Ed25519 verification less per batch on the commit path).
    func validCertificate(_ votes: [Envelope]) -> HistoryCertificate? {
        guard votes.count >= configuration.quorum, votes.count <= configuration.replicaCount,
            let first = votes.first.flatMap(Self.vouchedHistory)
        else { return nil }
        var voters = QuorumTracker<Digest>()
        for envelope in votes {
            guard let voter = envelope.sender.replicaID, configuration.contains(voter),
                let vouched = Self.vouchedHistory(envelope), vouched == first,
                case .added = voters.add(voter, vouched.history),
                envelope == speculation.responseVote || verified(envelope)
            else { return nil }
        }
        return HistoryCertificate(view: first.view, sequence: first.sequence, history: first.history, votes: votes)
    }

    /// ⟨COMMIT, c, CC⟩: a replica whose history agrees with the certificate keeps it (it goes into its
    /// view-changes) and answers ⟨LOCAL-COMMIT⟩. One whose history differs or is shorter does not vouch for it.
    mutating func handleCommitCertificate(
        _ envelope: Envelope, _ message: CommitCertificate, _ session: (any SessionKey)?, _ effects: inout Effects
    ) {
        guard let client = envelope.sender.clientID else { return reject(.unknownSender, envelope, &effects) }
        if let covered = coveredByHeldCertificate(message, client) {
            // Every request of a batch commits with the same (v, n, h_n): the certificate this replica already
            // verified and holds covers it, so it answers without checking 2f+1 signatures again.
            let commit = LocalCommit(
                view: covered.view, sequence: covered.sequence, history: covered.history, timestamp: covered.timestamp,
                client: client)
            effects.messages.append(Outbound(sealForClient(.localCommit(commit), session), to: .client(client)))
            return
        }
        guard let claimed = message.responses.first.flatMap(Self.vouchedHistory) else {
            return reject(.invalidCertificate, envelope, &effects)
        }
        // Whether this replica could vouch for the claimed history at all, asked before checking 2f+1 signatures:
        // a replica that has fallen behind would otherwise verify every client's certificate only to refuse it,
        // fall further behind and draw still more certificates (a collapse of the fast path seen under load). The
        // claim is unchecked here, so a false one earns only a refusal and a sooner status message. Below the
        // stable checkpoint the slot's history is gone, but the reply table still says where the client's request
        // ran: a match there is a match.
        let cached = replies[client].map { ($0.sequence, $0.history) == (claimed.sequence, claimed.history) }
        guard viewActive, executedHistory(at: claimed.sequence) == claimed.history || cached == true else {
            if claimed.sequence > lastExecuted { heardAhead = true }
            return reject(.certificateMismatch, envelope, &effects)
        }
        // Every vote of a valid certificate vouches for the first one's (v, n, h_n), so it is the claimed one.
        guard let certificate = validCertificate(message.responses) else {
            return reject(.invalidCertificate, envelope, &effects)
        }
        adoptCertificate(certificate, &effects)
        // The request the certificate is for: named by its spec-responses, or (for a certificate of history votes,
        // from a MAC-mode client) by where this replica ran the client's latest request.
        var timestamp = cached == true ? replies[client]?.timestamp ?? 0 : 0
        for case .specResponse(let r) in message.responses.map(\.message) { timestamp = r.timestamp }
        let commit = LocalCommit(
            view: certificate.view, sequence: certificate.sequence, history: certificate.history, timestamp: timestamp,
            client: client)
        effects.messages.append(Outbound(sealForClient(.localCommit(commit), session), to: .client(client)))
    }

    /// Whether answers to `envelope` (a request or commit certificate) carry one MAC for its client: in MAC mode
    /// when it came with an authenticator, and always in signed-requests mode.
    func repliesSealedForClient(_ envelope: Envelope) -> Bool {
        Self.repliesSealedForClient(envelope, options.clientAuthentication)
    }

    static func repliesSealedForClient(_ envelope: Envelope, _ setting: ClientAuthentication) -> Bool {
        if case .authenticator = envelope.seal { return true }
        return setting == .signedRequests
    }

    /// For a client whose replies are MAC'd, one MAC for it (a local-commit is for the client alone, Zyzzyva §3.3);
    /// else signed.
    func sealForClient(_ message: Message, _ session: (any SessionKey)?) -> Envelope {
        Self.seal(message, for: session, as: id, signer: signer)
    }

    /// `sealForClient` as a static function: called once per reply from a mutating handler, the instance method
    /// made the compiler copy the whole replica to pass as `self` (every stored reference retained and released;
    /// 2–4 % of a primary's profile in `bftbench run`).
    static func seal(
        _ message: Message, for session: (any SessionKey)?, as id: ReplicaID, signer: any Signer
    ) -> Envelope {
        guard let session else { return Envelope(signing: message, from: .replica(id), with: signer) }
        return Envelope(authenticating: message, from: .replica(id), keys: [session])
    }

    /// The (v, n, h_n, t) a commit certificate claims, if the certificate this replica holds already covers it:
    /// same view, at or above n, and this replica's own history at n is h_n (its history at the held one's
    /// sequence is that certificate's, so it extends h_n). Nothing is trusted from the unverified votes beyond
    /// what the held certificate proves. The timestamp is the client's request that ran at n here.
    private func coveredByHeldCertificate(_ message: CommitCertificate, _ client: ClientID)
        -> (view: ViewNumber, sequence: SequenceNumber, history: Digest, timestamp: Timestamp)?
    {
        guard viewActive, let held = speculation.certificate, let cached = replies[client],
            let claimed = message.responses.first.flatMap(Self.vouchedHistory), claimed.view == held.view,
            claimed.sequence <= held.sequence, (cached.sequence, cached.history) == (claimed.sequence, claimed.history),
            claimed.sequence > lowWatermark, executedHistory(at: claimed.sequence) == claimed.history
        else { return nil }
        return (claimed.view, claimed.sequence, claimed.history, cached.timestamp)
    }

    /// Keeps `certificate` if it outranks the one held (durably, before anything it allows is sent), and announces
    /// the checkpoints it covers.
    mutating func adoptCertificate(_ certificate: HistoryCertificate, _ effects: inout Effects) {
        if certificate.outranks(speculation.certificate) {
            speculation.certificate = certificate
            effects.durable.append(.certificate(certificate.votes))
        }
        announceCheckpoints(upTo: certificate.sequence, &effects)
    }

    // MARK: History votes

    /// Vouches for this replica's history at `sequence` in the current view.
    mutating func voteForHistory(_ sequence: SequenceNumber, _ history: Digest, _ effects: inout Effects) {
        let vote = sign(.historyVote(HistoryVote(view: view, sequence: sequence, history: history)))
        speculation.ownVotes = Array((speculation.ownVotes + [vote]).suffix(2))
        effects.messages.append(Outbound(vote, to: .allReplicas))
        keepVote(id, vote)
        checkHistoryCertificate(HistoryVote(view: view, sequence: sequence, history: history), &effects)
    }

    private mutating func keepVote(_ voter: ReplicaID, _ envelope: Envelope) {
        var kept = speculation.votes[voter] ?? []
        kept.append(envelope)
        speculation.votes[voter] = Array(kept.suffix(SpeculationState.votesKept))
    }

    mutating func handleHistoryVote(_ envelope: Envelope, _ vote: HistoryVote, _ effects: inout Effects) {
        guard let sender = envelope.sender.replicaID else { return reject(.unknownSender, envelope, &effects) }
        guard vote.view == view else {
            if vote.view > view { heardAhead = true }
            return reject(vote.view < view ? .staleView : .wrongView, envelope, &effects)
        }
        if speculation.votes[sender]?.contains(envelope) == true { return reject(.duplicate, envelope, &effects) }
        keepVote(sender, envelope)
        checkHistoryCertificate(vote, &effects)
    }

    /// 2f+1 matching votes form a certificate: it confirms a pending new view (entering it), or commits this
    /// replica's history up to the voted sequence number.
    private mutating func checkHistoryCertificate(_ vote: HistoryVote, _ effects: inout Effects) {
        let matching = configuration.replicas.compactMap { voter in
            speculation.votes[voter]?.first { envelope in
                if case .historyVote(let v) = envelope.message { v == vote } else { false }
            }
        }
        guard matching.count >= configuration.quorum else { return }
        let certificate = HistoryCertificate(
            view: vote.view, sequence: vote.sequence, history: vote.history, votes: Array(matching))
        if let pending = speculation.pendingView, pending.view == vote.view,
            pending.plan.top == (vote.sequence, vote.history)
        {
            return enterSpeculativeView(confirmedBy: certificate, &effects)
        }
        guard viewActive, executedHistory(at: vote.sequence) == vote.history,
            certificate.outranks(speculation.certificate) || hasUnannouncedCheckpoint(upTo: vote.sequence)
        else { return }
        adoptCertificate(certificate, &effects)
    }

    private func hasUnannouncedCheckpoint(upTo sequence: SequenceNumber) -> Bool {
        checkpoints.contains { $0.key <= sequence.rawValue && $0.value.own != nil && !$0.value.announced }
    }

    /// Sends the checkpoints this replica took at or below `sequence` and has not announced: a certificate now
    /// shows their history committed.
    mutating func announceCheckpoints(upTo sequence: SequenceNumber, _ effects: inout Effects) {
        for number in checkpoints.keys.sorted() where number <= sequence.rawValue {
            guard var record = checkpoints[number], let own = record.own, !record.announced,
                case .checkpoint(let checkpoint) = own.envelope.message
            else { continue }
            record.announced = true
            _ = record.votes.add(id, checkpoint)
            record.envelopes[id] = own.envelope
            checkpoints[number] = record
            effects.messages.append(Outbound(own.envelope, to: .allReplicas))
            checkStable(SequenceNumber(number), &effects)
        }
    }

    // MARK: Proof of misbehaviour and complaints (§3.5)

    /// Two order-reqs signed by one primary for one view that cannot both be right.
    func provesMisbehaviour(_ proof: MisbehaviourProof) -> ViewNumber? {
        guard case .prePrepare(let a) = proof.first.message, case .prePrepare(let b) = proof.second.message,
            a.view == b.view, proof.first.sender == .replica(configuration.primary(of: a.view)),
            proof.second.sender == proof.first.sender, proof.first != proof.second
        else { return nil }
        let conflicting: Bool
        if a.sequence == b.sequence {
            conflicting = a.digest != b.digest || a.history != b.history
        } else if b.sequence == a.sequence.next {
            conflicting = chained(a.history, b.digest) != b.history
        } else if a.sequence == b.sequence.next {
            conflicting = chained(b.history, a.digest) != a.history
        } else {
            conflicting = false
        }
        guard conflicting, verified(proof.first), verified(proof.second) else { return nil }
        return a.view
    }

    mutating func exposeMisbehaviour(_ first: Envelope, _ second: Envelope, _ effects: inout Effects) {
        let proof = MisbehaviourProof(first: first, second: second)
        guard provesMisbehaviour(proof) == view else { return reject(.conflictingDigest, second, &effects) }
        effects.events.append(.rejected(.conflictingDigest, from: second.sender, kind: .prePrepare))
        effects.messages.append(Outbound(sign(.misbehaviourProof(proof)), to: .allReplicas))
        startViewChange(to: view.next, &effects)
    }

    mutating func handleMisbehaviourProof(
        _ envelope: Envelope, _ proof: MisbehaviourProof, _ effects: inout Effects
    ) {
        guard let proven = provesMisbehaviour(proof) else { return reject(.invalidProof, envelope, &effects) }
        guard proven == view, viewActive else { return reject(.staleView, envelope, &effects) }
        effects.messages.append(Outbound(sign(.misbehaviourProof(proof)), to: .allReplicas))
        startViewChange(to: view.next, &effects)
    }

    /// The view-change timer expired in an active view: complain; f+1 complaints (so at least one correct
    /// replica's) make every replica leave the view. The complaint goes out again at every expiry, since a lost
    /// one would otherwise leave the others in a dead view.
    mutating func complainAboutPrimary(_ effects: inout Effects) {
        viewTimer.started = ticks
        effects.messages.append(Outbound(sign(.hateThePrimary(HateThePrimary(view: view))), to: .allReplicas))
        guard speculation.complaints[id] != view else { return }
        speculation.complaints[id] = view
        effects.events.append(.complained(view: view))
        leaveIfEnoughComplaints(&effects)
    }

    mutating func handleComplaint(_ envelope: Envelope, _ complaint: HateThePrimary, _ effects: inout Effects) {
        guard let sender = envelope.sender.replicaID else { return reject(.unknownSender, envelope, &effects) }
        guard complaint.view == view, viewActive else { return reject(.staleView, envelope, &effects) }
        guard speculation.complaints[sender] != complaint.view else { return reject(.duplicate, envelope, &effects) }
        speculation.complaints[sender] = complaint.view
        leaveIfEnoughComplaints(&effects)
    }

    private mutating func leaveIfEnoughComplaints(_ effects: inout Effects) {
        let current = view
        let count = configuration.replicas.count { speculation.complaints[$0] == current }
        if count >= configuration.weakQuorum { startViewChange(to: view.next, &effects) }
    }
}
