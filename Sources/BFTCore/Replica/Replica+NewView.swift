/// Checking view-change messages, computing a new view's pre-prepares from them, and entering the new view
/// (PBFT §4.4). A backup never trusts the new primary's O: it recomputes it from V and compares.
extension Replica {
    /// What the view-changes V determine: min-s, the highest stable checkpoint in V with its proof, and for every
    /// n in (min-s, max-s] the batch to re-issue.
    struct NewViewPlan {
        struct Entry {
            var sequence: SequenceNumber
            var digest: Digest
            var batch: [Envelope]
            /// Speculative protocol: h at this slot in the new history.
            var history = Digest.zero
        }
        var stableSequence: SequenceNumber
        var stableDigest: Digest?
        var stableProof: [Envelope]
        var entries: [Entry]
        /// Speculative protocol: h at min-s, as the checkpoint proof names it.
        var stableHistory = Digest.zero

        /// The end of the new history: the last re-issued slot, or min-s.
        var top: (sequence: SequenceNumber, history: Digest) {
            entries.last.map { ($0.sequence, $0.history) } ?? (stableSequence, stableHistory)
        }

        func history(at sequence: SequenceNumber) -> Digest? {
            if sequence == stableSequence { return stableHistory }
            guard sequence > stableSequence, sequence <= top.sequence else { return nil }
            return entries[Int(sequence.rawValue - stableSequence.rawValue) - 1].history
        }
    }

    /// PBFT §4.4: for each n between min-s and max-s, the batch of the prepared certificate from the highest view
    /// among V, or the null request where no certificate exists.
    func planNewView(_ viewChanges: [ViewChange]) -> NewViewPlan {
        var stable = (sequence: SequenceNumber(0), digest: Digest?.none, proof: [Envelope]())
        for message in viewChanges where message.stableSequence > stable.sequence {
            stable = (message.stableSequence, checkpointDigest(message.checkpointProof), message.checkpointProof)
        }
        var chosen: [UInt64: (view: ViewNumber, prePrepare: PrePrepare)] = [:]
        for message in viewChanges {
            for certificate in message.prepared {
                guard case .prePrepare(let p) = certificate.prePrepare.message, p.sequence > stable.sequence else {
                    continue
                }
                if let current = chosen[p.sequence.rawValue], !replaces(p, current.prePrepare) { continue }
                chosen[p.sequence.rawValue] = (p.view, p)
            }
        }
        let maxSequence = chosen.keys.max() ?? stable.sequence.rawValue
        var entries: [NewViewPlan.Entry] = []
        if maxSequence > stable.sequence.rawValue {
            for number in (stable.sequence.rawValue + 1)...maxSequence {
                let sequence = SequenceNumber(number)
                if let p = chosen[number]?.prePrepare {
                    entries.append(NewViewPlan.Entry(sequence: sequence, digest: p.digest, batch: p.batch))
                } else {
                    entries.append(NewViewPlan.Entry(sequence: sequence, digest: batchDigest([]), batch: []))
                }
            }
        }
        return NewViewPlan(
            stableSequence: stable.sequence, stableDigest: stable.digest, stableProof: stable.proof, entries: entries)
    }

    /// Whether certificate `candidate` beats `current` for its slot: the higher view wins; within one view two
    /// valid certificates cannot differ (quorum intersection), and the digest order makes the choice total anyway.
    private func replaces(_ candidate: PrePrepare, _ current: PrePrepare) -> Bool {
        if candidate.view != current.view {
            return options.deviations.pickLowestViewCertificate
                ? candidate.view < current.view : candidate.view > current.view
        }
        return candidate.digest.bytes.lexicographicallyPrecedes(current.digest.bytes)
    }

    /// A view-change is valid when its checkpoint proof certifies its stable sequence number and every prepared
    /// certificate carries a pre-prepare from its view's primary and 2f matching prepares from distinct backups,
    /// all correctly signed, for distinct sequence numbers inside the sender's window (PBFT §4.4).
    func isValid(_ message: ViewChange) -> Bool {
        if message.stableSequence == 0 {
            guard message.checkpointProof.isEmpty else { return false }
        } else {
            guard message.stableSequence.rawValue % options.checkpointInterval == 0,
                checkpointDigest(message.checkpointProof, at: message.stableSequence) != nil
            else { return false }
        }
        var previous = message.stableSequence
        let window = message.stableSequence.rawValue + options.logWindow
        for certificate in message.prepared {
            guard case .prePrepare(let p) = certificate.prePrepare.message, p.view < message.newView,
                p.sequence > previous, p.sequence.rawValue <= window, isValid(certificate, p)
            else { return false }
            previous = p.sequence
        }
        return true
    }

    private func isValid(_ certificate: PreparedCertificate, _ p: PrePrepare) -> Bool {
        let primary = configuration.primary(of: p.view)
        guard certificate.prePrepare.sender == .replica(primary), verified(certificate.prePrepare),
            p.batch.count <= options.maxBatchRequests, batchDigest(p.batch) == p.digest
        else { return false }
        var voters = QuorumTracker<Digest>()
        for envelope in certificate.prepares {
            guard let voter = envelope.sender.replicaID, voter != primary, case .prepare(let vote) = envelope.message,
                vote.view == p.view, vote.sequence == p.sequence, vote.digest == p.digest,
                voters.add(voter, vote.digest) != .duplicate, verified(envelope)
            else { return false }
        }
        return voters.count(for: p.digest) >= preparedThreshold
    }

    /// The digest 2f+1 distinct replicas certified in `proof`, all for one sequence number (`at`, when given).
    func checkpointDigest(_ proof: [Envelope], at sequence: SequenceNumber? = nil) -> Digest? {
        guard case .checkpoint(let first)? = proof.first?.message, sequence == nil || first.sequence == sequence
        else { return nil }
        var voters = QuorumTracker<Digest>()
        for envelope in proof {
            guard let voter = envelope.sender.replicaID, case .checkpoint(let c) = envelope.message,
                c.sequence == first.sequence, c.stateDigest == first.stateDigest, c.history == first.history,
                voters.add(voter, c.stateDigest) != .duplicate, verified(envelope)
            else { return nil }
        }
        return voters.count(for: first.stateDigest) >= configuration.quorum ? first.stateDigest : nil
    }

    func verified(_ envelope: Envelope) -> Bool {
        guard let key = directory.key(of: envelope.sender) else { return false }
        return envelope.verify(with: suite, key: key)
    }

    // MARK: New view at a backup

    mutating func handleNewView(_ envelope: Envelope, _ message: NewView, _ effects: inout Effects) {
        guard envelope.sender == .replica(configuration.primary(of: message.view)) else {
            return reject(.notNewPrimary, envelope, &effects)
        }
        guard message.view > view || (message.view == view && !viewActive) else {
            return reject(message.view == view ? .duplicate : .staleView, envelope, &effects)
        }
        var senders = QuorumTracker<ViewNumber>()
        var changes: [ViewChange] = []
        for change in message.viewChanges {
            guard let sender = change.sender.replicaID, case .viewChange(let m) = change.message,
                m.newView == message.view, senders.add(sender, m.newView) != .duplicate, verified(change),
                isSpeculative ? isValidSpeculative(m) : isValid(m)
            else { return reject(.invalidNewView, envelope, &effects) }
            changes.append(m)
        }
        guard changes.count >= configuration.quorum else { return reject(.invalidNewView, envelope, &effects) }
        let plan = isSpeculative ? planSpeculativeView(changes) : planNewView(changes)
        guard let prePrepares = checkedPrePrepares(message, against: plan) else {
            return reject(.invalidNewView, envelope, &effects)
        }
        if isSpeculative {
            if speculation.pendingView?.envelope == envelope { return reject(.duplicate, envelope, &effects) }
            return acceptSpeculativeView(envelope, plan: plan, prePrepares: prePrepares, &effects)
        }
        installNewView(envelope, plan: plan, prePrepares: prePrepares, &effects)
    }

    /// O must be exactly what V determines: one pre-prepare per planned slot, in order, signed by the new primary,
    /// for the new view, with the planned digest and a batch that hashes to it.
    private func checkedPrePrepares(_ message: NewView, against plan: NewViewPlan) -> [Envelope]? {
        let skipRecompute = options.deviations.acceptNewViewWithoutRecomputing
        guard skipRecompute || message.prePrepares.count == plan.entries.count else { return nil }
        let primary = Principal.replica(configuration.primary(of: message.view))
        for (index, envelope) in message.prePrepares.enumerated() {
            guard envelope.sender == primary, case .prePrepare(let p) = envelope.message, p.view == message.view,
                batchDigest(p.batch) == p.digest, verified(envelope)
            else { return nil }
            if skipRecompute { continue }
            let entry = plan.entries[index]
            guard p.sequence == entry.sequence, p.digest == entry.digest, p.history == entry.history else { return nil }
        }
        return message.prePrepares
    }

    // MARK: Entering the new view

    /// Enters the new view: adopts min-s (fetching its state if this replica lacks it), replaces the log with O,
    /// prepares every re-issued slot (backups), and hands every request it knows but has not seen executed to the
    /// new primary, so nothing pending is lost across the change.
    mutating func installNewView(
        _ envelope: Envelope, plan: NewViewPlan, prePrepares: [Envelope], _ effects: inout Effects
    ) {
        guard case .newView(let message) = envelope.message else { return }
        view = message.view
        viewActive = true
        acceptedNewView = envelope
        effects.durable.append(.newView(envelope))
        if plan.stableSequence > lowWatermark, let digest = plan.stableDigest {
            adoptStableCheckpoint(plan.stableSequence, digest, proof: plan.stableProof, &effects)
        }
        log.removeAll()
        pending = PendingRequests()
        ordered = [:]
        var highest = lowWatermark
        for prePrepare in prePrepares {
            guard case .prePrepare(let p) = prePrepare.message, p.sequence > lowWatermark else { continue }
            acceptReissued(prePrepare, p, &effects)
            highest = max(highest, p.sequence)
        }
        // Never below what this replica executed (which a correct V always covers; a broken one might not).
        nextSequence = max(highest, lastExecuted).next
        effects.events.append(.viewInstalled(view: view))
        noteProgress()
        handOverWaitingRequests(&effects)
        viewTimer.started = isWaitingForRequests ? ticks : nil
        if isPrimary { cutBatches(force: true, &effects) }
    }

    /// A pre-prepare of O: logged in the new view; a backup prepares it (PBFT §4.4: "as in the normal case").
    private mutating func acceptReissued(_ envelope: Envelope, _ p: PrePrepare, _ effects: inout Effects) {
        var slot = Slot(view: view)
        slot.prePrepare = envelope
        slot.batch = p.batch
        slot.digest = p.digest
        if p.sequence > lastExecuted { noteOrdered(p.batch) }
        if !isPrimary {
            let prepare = sign(.prepare(Prepare(view: view, sequence: p.sequence, digest: p.digest)))
            _ = slot.prepares.add(id, p.digest)
            slot.prepareEnvelopes[id] = prepare
            slot.ownPrepare = prepare
            effects.durable.append(.prePrepare(envelope))
            effects.durable.append(.vote(prepare))
            effects.messages.append(Outbound(prepare, to: .allReplicas))
        }
        log[p.sequence.rawValue] = slot
    }
}
