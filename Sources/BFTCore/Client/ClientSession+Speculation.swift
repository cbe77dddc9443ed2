/// The client's part of the speculative protocol (Zyzzyva §3.2–§3.3).
extension ClientSession {
    /// A spec-response counts with those that match it in view, sequence number, history and result; 3f+1 of them
    /// complete the request at once (the fast path).
    mutating func receive(_ response: SpecResponse, _ envelope: Envelope, from replica: ReplicaID) -> ClientStep {
        let key = SpeculativeKey(
            view: response.view, sequence: response.sequence, history: response.history, result: response.result)
        guard response.timestamp == outstanding?.timestamp else { return ClientStep(rejected: .staleRequest) }
        if outstanding?.responses.contains(where: { $0.replica == replica && $0.key == key }) == true {
            return ClientStep(rejected: .duplicate)
        }
        // Taken out, `pending` alone holds its tables while they change (no copy-on-write).
        guard var pending = outstanding.take() else { return ClientStep(rejected: .staleRequest) }
        if let earlier = pending.responses.firstIndex(where: { $0.replica == replica }) {
            pending.responses[earlier] = (replica, envelope, key)
        } else {
            pending.responses.append((replica, envelope, key))
        }
        let matching = pending.responses.count { $0.key == key }
        if matching >= configuration.quorum, pending.quorumAt == nil {
            pending.quorumAt = pending.ticksWaiting
            // Released at once if another session commits this history while this one waits for its fourth answer.
            if matching < configuration.fastQuorum { sharedCommits?.waiting(SharedCommits.History(key), by: client) }
        }
        guard matching >= configuration.fastQuorum else {
            // Another session of this process already saw the history committed (`SharedCommits`).
            if matching >= configuration.quorum, sharedCommits?.isCommitted(SharedCommits.History(key)) == true {
                return complete(key, timestamp: pending.timestamp, fastPath: false)
            }
            let now = options.adaptiveCommit && fastPathFailing || fastPathLost(pending)
            let early = now ? startCommit(&pending, mayRide: true) : []
            outstanding = consume pending
            return ClientStep(messages: early)
        }
        var step = complete(key, timestamp: pending.timestamp, fastPath: true)
        shareCommit(SharedCommits.History(key), fastPath: true, &step)
        return step
    }

    /// 3f+1 matching spec-responses, or 2f+1 local-commits, show the history (v, n, h_n) committed (Zyzzyva §3.2,
    /// §3.3), and h_n holds every request of batch n: the sessions of this process that wait on it with their own
    /// 2f+1 matching spec-responses may complete too (`SharedCommits`). Without the fast case, a session that sent
    /// a certificate early (adaptive commit, or a refused answer) and then got its fourth answer left the sessions
    /// riding on its certificate to their own commit timers.
    private func shareCommit(_ history: SharedCommits.History, fastPath: Bool = false, _ step: inout ClientStep) {
        guard let sharedCommits else { return }
        let riders = sharedCommits.committed(history, by: client)
        if !riders.isEmpty { step.shared = SharedCommit(history: history, riders: riders, fastPath: fastPath) }
    }

    /// Whether 2f+1 spec-responses match while the fast path is out of reach: another replica's answer differs
    /// or was refused. Waiting `commitTicks` for 3f+1 matching answers is then pointless (unless that replica
    /// answers again, which a correct one does not), so the certificate goes out at once.
    func fastPathLost(_ pending: Outstanding) -> Bool {
        guard let best = quorumKey(pending) else { return false }
        return !pending.refusedFrom.isEmpty || pending.responses.contains { $0.key != best }
    }

    /// An unauthentic answer to the outstanding request: refused, and (a spec-response) remembered as a replica
    /// whose answer cannot count, so 2f+1 matching ones commit at once (`fastPathLost`). Anyone can send such a
    /// message in a replica's name; the worst it does is trade the fast path for the commit path.
    mutating func refused(_ reason: RejectReason, _ envelope: Envelope, from replica: ReplicaID) -> ClientStep {
        guard options.replication == .zyzzyva, envelope.message.kind == .specResponse, var pending = outstanding.take()
        else { return ClientStep(rejected: reason) }
        if !pending.refusedFrom.contains(replica) { pending.refusedFrom.append(replica) }
        let early = fastPathLost(pending) ? startCommit(&pending, mayRide: true) : []
        outstanding = consume pending
        return ClientStep(rejected: reason, messages: early)
    }

    /// 2f+1 local-commits for the certificate this client sent complete the request.
    mutating func receive(_ commit: LocalCommit, from replica: ReplicaID) -> ClientStep {
        guard commit.timestamp == outstanding?.timestamp, let expected = outstanding?.committing?.key,
            (commit.view, commit.sequence, commit.history) == (expected.view, expected.sequence, expected.history),
            var pending = outstanding.take(), var committing = pending.committing.take()
        else { return ClientStep(rejected: .staleRequest) }
        // `committing` alone holds its tracker while it changes (no copy-on-write); it goes back either way.
        let outcome = committing.localCommits.add(replica, committing.key)
        let timestamp = pending.timestamp
        pending.committing = committing
        outstanding = pending
        guard case .added(let count) = outcome else { return ClientStep(rejected: .duplicate) }
        guard count >= configuration.quorum else { return ClientStep() }
        var step = complete(committing.key, timestamp: timestamp, fastPath: false)
        shareCommit(SharedCommits.History(committing.key), &step)
        return step
    }

    /// Another session of this process completed a certificate on `history`, or on `fastPath` saw 3f+1 matching
    /// spec-responses for it (`SharedCommits`): this session completes too if it holds 2f+1 spec-responses for that
    /// history that match in result as well. A completion by a batch-mate's fast path counts as a fast one: the
    /// batch's fast path worked (this session's fourth answer was only later), so the adaptive commit stays off.
    public mutating func historyCommitted(_ history: SharedCommits.History, fastPath: Bool = false) -> ClientStep {
        guard let timestamp = outstanding?.timestamp, let responses = outstanding?.responses else {
            return ClientStep(rejected: .staleRequest)
        }
        let needed = options.deviations.ridersNeedNoQuorum ? 1 : configuration.quorum
        let key = responses.lazy.map(\.key).first { key in
            SharedCommits.History(key) == history && responses.count { $0.key == key } >= needed
        }
        guard let key else { return ClientStep() }
        return complete(key, timestamp: timestamp, fastPath: fastPath)
    }

    /// Sends 2f+1 matching spec-responses to every replica as a commit certificate, once per request (Zyzzyva
    /// §3.3). Nothing if the client does not hold them yet or already sent one, or (`mayRide`) if another session
    /// of this process sent one for the same history (`SharedCommits`); the commit timer sends it regardless.
    mutating func startCommit(_ pending: inout Outstanding, mayRide: Bool = false) -> [Outbound] {
        guard pending.committing == nil else { return [] }
        // Asked before the certificate is built: a rider then pays for neither its votes nor its MACs.
        if mayRide, let sharedCommits, let key = quorumKey(pending),
            !sharedCommits.claim(SharedCommits.History(key), by: client)
        {
            return []
        }
        guard let certificate = commitCertificate(pending) else { return [] }
        // When replies are MAC'd, the key (if self-certifying) goes along so replicas can MAC their local-commits.
        let key = replicaKeys != nil && client.isSelfCertifying ? signer.publicKey : nil
        let carried = Message.commitCertificate(CommitCertificate(responses: certificate.responses, clientKey: key))
        let message =
            if let requestKeys {
                Envelope(authenticating: carried, from: .client(client), keys: requestKeys)
            } else {
                Envelope(signing: carried, from: .client(client), with: signer)
            }
        pending.committing = Committing(key: certificate.key, certificate: message, sentAt: pending.ticksWaiting)
        return configuration.replicas.map { Outbound(message, to: .replica($0)) }
    }

    private mutating func complete(_ key: SpeculativeKey, timestamp: Timestamp, fastPath: Bool) -> ClientStep {
        fastPathFailing = !fastPath
        view = max(view, key.view)
        outstanding = nil
        return ClientStep(completion: Completion(
            timestamp: timestamp, result: key.result, sequence: key.sequence, history: key.history, fastPath: fastPath))
    }

    /// The key 2f+1 of the spec-responses match on, if any (at most one: any two quorums share a replica).
    func quorumKey(_ pending: Outstanding) -> SpeculativeKey? {
        pending.responses.lazy.map(\.key).first { key in pending.responses.count { $0.key == key } >= configuration.quorum }
    }

    /// 2f+1 matching spec-responses, if the client holds them (the most common key; ties by replica order), as
    /// votes every replica can check: signed spec-responses, or the signed history votes MAC-sealed ones carry.
    func commitCertificate(_ pending: Outstanding) -> (key: SpeculativeKey, responses: [Envelope])? {
        let ordered = pending.responses.sorted { $0.replica < $1.replica }
        for candidate in ordered {
            let matching = ordered.filter { $0.key == candidate.key }
            guard matching.count >= configuration.quorum else { continue }
            // Signatures are checked only to choose among more than 2f+1 votes: with exactly 2f+1 one bad vote
            // spoils the certificate whether it is found here or by the replicas, and the replicas check them all
            // anyway (saving the client 2f+1 Ed25519 verifications per batch with a replica silent).
            let choosing = matching.count > configuration.quorum
            let votes = matching.compactMap { transferableVote($0.envelope, $0.key, verify: choosing) }
            if votes.count >= configuration.quorum { return (candidate.key, Array(votes.prefix(configuration.quorum))) }
        }
        return nil
    }

    /// A signed spec-response as it is (`isAuthentic` checked it); for a MAC-sealed one, the history vote inside
    /// it, if it is the same replica's vote on the same (v, n, h_n) and (with `verify`) its valid signature.
    /// Checked here, on the slow path only, so that a faulty replica's bad vote cannot spoil a certificate that
    /// other votes could make.
    private func transferableVote(_ envelope: Envelope, _ key: SpeculativeKey, verify: Bool) -> Envelope? {
        if envelope.signature != nil { return envelope }
        guard case .specResponse(let response) = envelope.message, let vote = response.vote,
            vote.sender == envelope.sender, case .historyVote(let v) = vote.message,
            (v.view, v.sequence, v.history) == (key.view, key.sequence, key.history)
        else { return nil }
        guard verify else { return vote.signature != nil ? vote : nil }
        guard let signer = directory.key(of: vote.sender), verifiedVotes.verify(vote, key: signer, suite: suite) else {
            return nil
        }
        return vote
    }
}

extension SharedCommits.History {
    init(_ key: ClientSession.SpeculativeKey) { self.init(view: key.view, sequence: key.sequence, history: key.history) }
}
