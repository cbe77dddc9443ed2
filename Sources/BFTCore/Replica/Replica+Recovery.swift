/// Rebuilding a replica from its durable records after a crash (the contract is documented on `DurableRecord`).
/// The records say everything the replica promised before the crash: the view it is in or moving to, the
/// pre-prepares it accepted, its votes and certificates, what it committed, and its last stable checkpoint.
extension Replica {
    /// Restores a freshly made replica from `records` (oldest first) and re-executes what they show committed
    /// above the stable checkpoint. Returns the effects of that re-execution (replies, events) for the host.
    public mutating func recover(from records: [DurableRecord]) -> Effects {
        precondition(lastExecuted == 0 && log.isEmpty && ticks == 0, "recover(from:) needs a freshly made replica")
        var effects = Effects()
        restoreCheckpoint(records, &effects)
        let restoredTo = lastExecuted
        for record in records { replay(record) }
        if let highest = log.keys.max(), isPrimary {
            nextSequence = max(nextSequence, SequenceNumber(highest).next)
            if isSpeculative, let slot = log[nextSequence.rawValue - 1] { speculation.orderedHistory = slot.history }
        }
        effects.events.append(.recovered(view: view, stableSequence: restoredTo))
        statusDue = true
        executeReady(&effects)
        return effects
    }

    /// The newest stable checkpoint: its state is installed; if it does not decode (a damaged disk), the replica
    /// keeps the proof and fetches the state from the replicas that certified it.
    private mutating func restoreCheckpoint(_ records: [DurableRecord], _ effects: inout Effects) {
        var newest: StableCheckpoint?
        for case .stableCheckpoint(let checkpoint) in records where checkpoint.sequence > (newest?.sequence ?? 0) {
            newest = checkpoint
        }
        guard let checkpoint = newest else { return }
        if let (snapshot, table, history) = decodeCheckpointState(checkpoint.state), application.restore(snapshot),
            suite.digest(checkpoint.state) == checkpoint.stateDigest
        {
            replies = table
            speculation.executedHistory = history
            speculation.stableHistory = history
            speculation.orderedHistory = history
            lastExecuted = checkpoint.sequence
            lowWatermark = checkpoint.sequence
            stableProof = checkpoint.proof
            stableStateDigest = checkpoint.stateDigest
            stableState = checkpoint.state
            nextSequence = checkpoint.sequence.next
        } else {
            adoptStableCheckpoint(checkpoint.sequence, checkpoint.stateDigest, proof: checkpoint.proof, &effects)
        }
    }

    private mutating func replay(_ record: DurableRecord) {
        let forget = options.deviations.forgetVotesOnRestart
        switch record {
        case .stableCheckpoint:
            return
        case .viewChange(let envelope):
            guard case .viewChange(let message) = envelope.message, message.newView >= view else { return }
            view = message.newView
            viewActive = false
            viewChanges[id] = (message.newView, envelope, message)
        case .newView(let envelope) where isSpeculative:
            replaySpeculativeNewView(envelope)
        case .certificate(let votes):
            replaySpeculativeCertificate(votes)
        case .newView(let envelope):
            guard case .newView(let message) = envelope.message, message.view >= view else { return }
            view = message.view
            viewActive = true
            acceptedNewView = envelope
            // A slot committed in an earlier view is re-issued with the same digest (that is what the view change
            // guarantees), so it stays committed and is re-executed after a restart.
            var committed: [UInt64: Digest] = [:]
            for (sequence, slot) in log where slot.committed { committed[sequence] = slot.digest }
            log.removeAll()
            for prePrepare in message.prePrepares { replayPrePrepare(prePrepare) }
            for (sequence, digest) in committed where log[sequence]?.digest == digest { log[sequence]?.committed = true }
        case .prePrepare(let envelope):
            replayPrePrepare(envelope)
        case .vote(let envelope) where !forget:
            replayVote(envelope)
        case .prepared(let certificate) where !forget:
            replayCertificate(certificate)
        case .committed(let slotView, let sequence, let digest):
            guard var slot = log[sequence.rawValue], slot.view == slotView, slot.digest == digest else { return }
            slot.committed = true
            slot.prepared = true
            log[sequence.rawValue] = slot
        case .vote, .prepared:
            return
        }
    }

    /// Under the speculative protocol an order-req is the replica's evidence in whatever view it was accepted, so
    /// it is kept even when a later view-change record moved the replica on.
    private mutating func replayPrePrepare(_ envelope: Envelope) {
        guard case .prePrepare(let p) = envelope.message, p.view == view || isSpeculative, p.sequence > lowWatermark,
            (log[p.sequence.rawValue]?.view ?? 0) <= p.view
        else { return }
        var slot = log[p.sequence.rawValue].flatMap { $0.view == p.view ? $0 : nil } ?? Slot(view: p.view)
        slot.prePrepare = envelope
        slot.batch = p.batch
        slot.digest = p.digest
        slot.history = p.history
        slot.committed = slot.committed || isSpeculative
        log[p.sequence.rawValue] = slot
    }

    /// A new-view this replica voted for: it is pending until the certificate confirming it was recorded too.
    private mutating func replaySpeculativeNewView(_ envelope: Envelope) {
        guard case .newView(let message) = envelope.message, message.view >= view else { return }
        let changes = message.viewChanges.compactMap { change -> ViewChange? in
            if case .viewChange(let m) = change.message { m } else { nil }
        }
        view = message.view
        viewActive = false
        speculation.pendingView = PendingView(
            envelope: envelope, plan: planSpeculativeView(changes), prePrepares: message.prePrepares)
    }

    /// The certificate is the highest this replica held. One from the view of the pending new-view shows that the
    /// replica entered that view (only the newest certificate is kept, so it may be a later one than the
    /// view-confirm itself: a replica holds a certificate of a view only once in it).
    private mutating func replaySpeculativeCertificate(_ votes: [Envelope]) {
        guard let certificate = validCertificate(votes) else { return }
        if let pending = speculation.pendingView, pending.view == certificate.view {
            speculation.pendingView = nil
            viewActive = true
            acceptedNewView = pending.envelope
            // Order-reqs of earlier views go; those of this view (recorded before a later certificate) stay.
            log = log.filter { $0.value.view >= pending.view }
            for envelope in pending.prePrepares { replayPrePrepare(envelope) }
            speculation.orderedHistory = pending.plan.top.history
            nextSequence = max(nextSequence, pending.plan.top.sequence.next)
        }
        if certificate.outranks(speculation.certificate) { speculation.certificate = certificate }
    }

    private mutating func replayVote(_ envelope: Envelope) {
        let (voteView, sequence, digest, isCommit): (ViewNumber, SequenceNumber, Digest, Bool)
        switch envelope.message {
        case .prepare(let m): (voteView, sequence, digest, isCommit) = (m.view, m.sequence, m.digest, false)
        case .commit(let m): (voteView, sequence, digest, isCommit) = (m.view, m.sequence, m.digest, true)
        default: return
        }
        guard voteView == view, var slot = log[sequence.rawValue], slot.view == voteView else { return }
        if isCommit {
            _ = slot.commits.add(id, digest)
            slot.ownCommit = envelope
        } else {
            _ = slot.prepares.add(id, digest)
            slot.prepareEnvelopes[id] = envelope
            slot.ownPrepare = envelope
        }
        log[sequence.rawValue] = slot
    }

    private mutating func replayCertificate(_ certificate: PreparedCertificate) {
        guard case .prePrepare(let p) = certificate.prePrepare.message, p.sequence > lowWatermark else { return }
        if let known = preparedCertificates[p.sequence.rawValue], case .prePrepare(let k) = known.prePrepare.message,
            k.view > p.view
        {
            return
        }
        preparedCertificates[p.sequence.rawValue] = certificate
        guard p.view == view, var slot = log[p.sequence.rawValue], slot.view == p.view, slot.digest == p.digest else {
            return
        }
        slot.prepared = true
        for prepare in certificate.prepares {
            guard let voter = prepare.sender.replicaID else { continue }
            _ = slot.prepares.add(voter, p.digest)
            slot.prepareEnvelopes[voter] = prepare
        }
        log[p.sequence.rawValue] = slot
    }
}
