/// Entering a view under the speculative protocol: a checked new-view is first confirmed by 2f+1 history votes
/// for the new history (Zyzzyva's view-confirm, TOCS 2009 §4.5), and only then entered. The confirmation is a
/// commit certificate in the new view, which is what lets later view changes rank evidence by view. Entering may
/// roll back speculative execution that the new history does not keep.
extension Replica {
    /// Keeps the new-view (durably) and votes for its history; the view is entered on 2f+1 matching votes.
    mutating func acceptSpeculativeView(
        _ envelope: Envelope, plan: NewViewPlan, prePrepares: [Envelope], _ effects: inout Effects
    ) {
        guard case .newView(let message) = envelope.message else { return }
        if message.view > view {
            view = message.view
            viewActive = false
        }
        speculation.pendingView = PendingView(envelope: envelope, plan: plan, prePrepares: prePrepares)
        effects.durable.append(.newView(envelope))
        noteProgress()
        let top = plan.top
        voteForHistory(top.sequence, top.history, &effects)
    }

    /// Enters the confirmed view: rolls back what the new history does not keep, adopts min-s (fetching its state
    /// if this replica lacks it), takes O as its log, executes it, and hands waiting requests to the new primary.
    mutating func enterSpeculativeView(confirmedBy certificate: HistoryCertificate, _ effects: inout Effects) {
        guard let pending = speculation.pendingView else { return }
        let plan = pending.plan
        speculation.pendingView = nil
        viewActive = true
        acceptedNewView = pending.envelope
        if needsRollback(to: plan) { rollBack(&effects) }
        if plan.stableSequence > lowWatermark, let digest = plan.stableDigest {
            adoptStableCheckpoint(plan.stableSequence, digest, proof: plan.stableProof, &effects)
        }
        log.removeAll()
        pending.prePrepares.forEach { envelope in
            guard case .prePrepare(let p) = envelope.message, p.sequence > lowWatermark else { return }
            log[p.sequence.rawValue] = acceptedSlot(envelope, p)
            effects.durable.append(.prePrepare(envelope))
            if p.sequence > lastExecuted { noteOrdered(p.batch) }
        }
        speculation.certificate = certificate
        effects.durable.append(.certificate(certificate.votes))
        speculation.complaints = [:]
        speculation.holeAsked = nil
        let top = plan.top
        speculation.orderedHistory = top.history
        nextSequence = max(top.sequence, lastExecuted).next
        self.pending = PendingRequests()
        ordered = [:]
        effects.events.append(.viewInstalled(view: view))
        noteProgress()
        handOverWaitingRequests(&effects)
        executeReady(&effects)
        announceCheckpoints(upTo: top.sequence, &effects)
        viewTimer.started = isWaitingForRequests ? ticks : nil
        if isPrimary { cutBatches(force: true, &effects) }
    }

    /// Whether this replica executed something the new history does not contain: its executed history must be a
    /// prefix of the new one.
    func needsRollback(to plan: NewViewPlan) -> Bool {
        guard lastExecuted > lowWatermark else { return false }
        // Behind min-s: the state transfer replaces everything executed.
        guard lastExecuted >= plan.stableSequence else { return false }
        guard let planned = plan.history(at: lastExecuted) else { return true }
        return planned != speculation.executedHistory
    }

    /// Restores the stable checkpoint's state and reply table; the log above it is executed again from there.
    /// Speculative results are never seen as final by a client unless 3f+1 replicas or a certificate backed them,
    /// and the view change keeps those, so what is undone here was never completed.
    mutating func rollBack(_ effects: inout Effects) {
        guard lastExecuted > lowWatermark, let state = stableState, let (snapshot, table, _) = decodeCheckpointState(state) else { return }
        var restored = application
        guard restored.restore(snapshot) else { return }
        application = restored
        replies = table
        let undone = lastExecuted
        lastExecuted = lowWatermark
        speculation.executedHistory = speculation.stableHistory
        for number in checkpoints.keys.sorted() {
            checkpoints[number]?.own = nil
            checkpoints[number]?.announced = true
        }
        if let certificate = speculation.certificate, certificate.sequence > lowWatermark {
            speculation.certificate = nil
        }
        effects.events.append(.rolledBack(from: undone, to: lowWatermark))
    }

    /// Every request this replica knows and has not seen executed goes to the new primary (the primary queues its
    /// own), so nothing pending is lost across a view change.
    mutating func handOverWaitingRequests(_ effects: inout Effects) {
        for client in waiting.keys.sorted() {
            guard let request = waiting[client] else { continue }
            if !isPrimary {
                effects.messages.append(Outbound(request, to: .replica(primary)))
            } else if ordered[client].map({ $0 < request.timestampOfRequest }) ?? true {
                pending.insert(client, request.timestampOfRequest, request, size: request.signedBytes.count)
            }
        }
    }
}
