/// The view change of PBFT's signature variant (Castro & Liskov, OSDI 1999 §4.4) and its liveness rules (§4.5.2):
/// the timer, leaving a view, joining f+1 peers that moved on, and the new primary forming the new view.
/// Checking and installing a new-view live in `Replica+NewView.swift`.
extension Replica {
    /// A request is known and not executed, or a slot is ordered and not executed: the timer runs.
    var isWaitingForRequests: Bool {
        !waiting.isEmpty || log.keys.contains { $0 > lastExecuted.rawValue }
    }

    /// PBFT §4.4: a backup waiting for a request starts a timer and moves to view v+1 when it expires. §4.5.2:
    /// after sending a view-change for v+1 the timer runs again only once 2f+1 view-changes for v+1 arrived,
    /// so a replica cut off from the others does not race through views alone; each expiry doubles the time.
    mutating func tickViewTimer(_ effects: inout Effects) {
        let running = viewActive ? isWaitingForRequests : viewChangeCount(for: view) >= configuration.quorum
        guard running else {
            viewTimer.started = nil
            return
        }
        guard let started = viewTimer.started else {
            viewTimer.started = ticks
            return
        }
        guard ticks - started >= viewTimer.timeout(options) else { return }
        // Zyzzyva §3.5: in an active view a replica first complains; f+1 complaints make it leave.
        if isSpeculative && viewActive { return complainAboutPrimary(&effects) }
        startViewChange(to: view.next, &effects)
    }

    /// Replicas known to have left every view below `target`: their latest view-change is for `target` or later.
    /// A replica that sent a view-change for `target` and then one for a later view still counts for `target`
    /// (PBFT counts the messages received, and only the latest per replica is kept here).
    func viewChangeCount(for target: ViewNumber) -> Int {
        configuration.replicas.count(where: { (viewChanges[$0]?.view ?? 0) >= target && viewChanges[$0] != nil })
    }

    /// Leaves the current view for `target`: multicasts ⟨VIEW-CHANGE, v+1, n, C, P, i⟩ with the stable checkpoint
    /// n, its proof C, and P, the highest-view prepared certificate of every sequence number above n.
    mutating func startViewChange(to target: ViewNumber, _ effects: inout Effects) {
        guard target > view else { return }
        view = target
        viewActive = false
        viewTimer.started = nil
        viewTimer.backoff = min(viewTimer.backoff + 1, options.maxViewChangeBackoff)
        // Queued and in-flight requests stay in `waiting`; the new primary gets them once the view is installed.
        pending = PendingRequests()
        ordered = [:]
        let prepared = isSpeculative ? speculativeEvidence() : preparedCertificates.keys.sorted().compactMap {
            sequence -> PreparedCertificate? in sequence > lowWatermark.rawValue ? preparedCertificates[sequence] : nil
        }
        speculation.pendingView = nil
        let message = ViewChange(
            newView: target, stableSequence: lowWatermark, checkpointProof: stableProof, prepared: prepared,
            certificate: isSpeculative ? certificateForViewChange : [])
        let envelope = sign(.viewChange(message))
        viewChanges[id] = (target, envelope, message)
        effects.durable.append(.viewChange(envelope))
        effects.messages.append(Outbound(envelope, to: .allReplicas))
        effects.events.append(.viewChangeStarted(view: target))
        noteProgress()
        formNewViewIfPrimary(&effects)
    }

    mutating func handleViewChange(_ envelope: Envelope, _ message: ViewChange, _ effects: inout Effects) {
        guard let sender = envelope.sender.replicaID else { return reject(.unknownSender, envelope, &effects) }
        if message.newView < view || (message.newView == view && viewActive) {
            // The sender missed the new-view of a view this replica is in: resend it (rate-limited per peer).
            if let newView = acceptedNewView, mayAnswer(sender) {
                effects.messages.append(Outbound(newView, to: .replica(sender)))
            }
            return reject(.staleView, envelope, &effects)
        }
        if let known = viewChanges[sender], known.view >= message.newView { return reject(.duplicate, envelope, &effects) }
        guard isSpeculative ? isValidSpeculative(message) : isValid(message) else {
            return reject(.invalidViewChange, envelope, &effects)
        }
        viewChanges[sender] = (message.newView, envelope, message)
        joinHigherView(&effects)
        formNewViewIfPrimary(&effects)
    }

    /// PBFT §4.5.2: valid view-changes from f+1 replicas for views above this one show that a correct replica
    /// moved on; join the smallest of those views, so that view changes cannot leave correct replicas behind.
    /// f faulty replicas alone cannot force a view change this way.
    mutating func joinHigherView(_ effects: inout Effects) {
        let higher = configuration.replicas.compactMap { replica -> ViewNumber? in
            guard replica != id, let known = viewChanges[replica], known.view > view else { return nil }
            return known.view
        }
        guard higher.count >= configuration.weakQuorum, let smallest = higher.min() else { return }
        startViewChange(to: smallest, &effects)
    }

    /// The new primary, once it holds 2f+1 valid view-changes for its view (its own among them), multicasts
    /// ⟨NEW-VIEW, v+1, V, O⟩ and enters the view (PBFT §4.4).
    mutating func formNewViewIfPrimary(_ effects: inout Effects) {
        guard !viewActive, isPrimary, viewChanges[id]?.view == view, speculation.pendingView?.view != view else {
            return
        }
        let chosen = configuration.replicas.compactMap { replica in
            viewChanges[replica].flatMap { $0.view == view ? $0 : nil }
        }
        guard chosen.count >= configuration.quorum else { return }
        let quorum = chosen.prefix(configuration.quorum)
        let plan = isSpeculative ? planSpeculativeView(quorum.map(\.message)) : planNewView(quorum.map(\.message))
        let prePrepares = plan.entries.map { entry in
            sign(.prePrepare(PrePrepare(
                view: view, sequence: entry.sequence, digest: entry.digest, batch: entry.batch, history: entry.history)))
        }
        let envelope = sign(.newView(NewView(view: view, viewChanges: quorum.map(\.envelope), prePrepares: prePrepares)))
        effects.messages.append(Outbound(envelope, to: .allReplicas))
        if isSpeculative { return acceptSpeculativeView(envelope, plan: plan, prePrepares: prePrepares, &effects) }
        installNewView(envelope, plan: plan, prePrepares: prePrepares, &effects)
    }

    /// Answers to a peer (status, stale view-change) go out at most once per status interval per peer, so a
    /// Byzantine peer cannot use them to amplify traffic.
    mutating func mayAnswer(_ peer: ReplicaID) -> Bool {
        if let last = lastStatusAnswered[peer], ticks - last < UInt64(options.statusIntervalTicks) { return false }
        lastStatusAnswered[peer] = ticks
        return true
    }
}

/// The view-change timer (PBFT §4.4, §4.5.2).
struct ViewTimer {
    /// The tick the timer started at; nil while it is stopped.
    var started: UInt64?
    /// Successive view changes without progress: the timeout is T·2^backoff.
    var backoff: UInt64 = 0

    func timeout(_ options: ReplicaOptions) -> UInt64 {
        options.viewChangeTimeoutTicks << min(backoff, options.maxViewChangeBackoff)
    }

    /// Execution progressed: the doubling starts over, and the timer restarts if other requests still wait.
    mutating func progressed(at tick: UInt64, stillWaiting: Bool) {
        backoff = 0
        started = stillWaiting ? tick : nil
    }
}
