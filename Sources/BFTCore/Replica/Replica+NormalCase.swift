/// Pre-prepare, prepare and commit (PBFT §4.2).
extension Replica {
    mutating func handlePrePrepare(_ envelope: Envelope, _ prePrepare: PrePrepare, _ effects: inout Effects) {
        guard envelope.sender == .replica(configuration.primary(of: prePrepare.view)) else {
            return reject(.notFromPrimary, envelope, &effects)
        }
        guard admitNormalCase(prePrepare.view, envelope, &effects) else { return }
        guard admitSequence(prePrepare.sequence, envelope, &effects) else { return }
        if isSpeculative, prePrepare.sequence <= lastExecuted, log[prePrepare.sequence.rawValue]?.prePrepare == envelope {
            return reject(.duplicate, envelope, &effects)
        }
        if !isSpeculative, let existing = log[prePrepare.sequence.rawValue]?.digest {
            // One digest per (v, n): a second, different one is the primary equivocating.
            if existing == prePrepare.digest || !options.deviations.acceptConflictingPrePrepare {
                return reject(existing == prePrepare.digest ? .duplicate : .conflictingDigest, envelope, &effects)
            }
            log[prePrepare.sequence.rawValue] = nil
        }
        guard prePrepare.batch.count <= options.maxBatchRequests else {
            return reject(.batchTooLarge, envelope, &effects)
        }
        if !options.deviations.acceptMismatchedDigest {
            guard batchDigest(prePrepare.batch) == prePrepare.digest else {
                return reject(.digestMismatch, envelope, &effects)
            }
        }
        guard prePrepare.batch.allSatisfy(isValidRequest) else { return reject(.badRequestInBatch, envelope, &effects) }
        if isSpeculative { return acceptOrderRequest(envelope, prePrepare, &effects) }

        // Accepted: log it and multicast a prepare.
        var slot = log[prePrepare.sequence.rawValue] ?? Slot(view: view)
        slot.prePrepare = envelope
        slot.batch = prePrepare.batch
        slot.digest = prePrepare.digest
        let prepare = sign(.prepare(Prepare(view: view, sequence: prePrepare.sequence, digest: prePrepare.digest)))
        _ = slot.prepares.add(id, prePrepare.digest)
        slot.prepareEnvelopes[id] = prepare
        slot.ownPrepare = prepare
        log[prePrepare.sequence.rawValue] = slot
        noteOrdered(prePrepare.batch)
        effects.durable.append(.prePrepare(envelope))
        effects.durable.append(.vote(prepare))
        effects.messages.append(Outbound(prepare, to: .allReplicas))
        if options.deviations.executeBeforeCommit {
            markCommitted(prePrepare.sequence, &effects)
        } else {
            checkPrepared(prePrepare.sequence, &effects)
        }
    }

    /// PBFT §4.2's watermarks. A message above H shows that peers are ahead: this replica asks them by status.
    mutating func admitSequence(_ sequence: SequenceNumber, _ envelope: Envelope, _ effects: inout Effects) -> Bool {
        guard inWindow(sequence) else {
            if sequence > highWatermark { heardAhead = true }
            reject(.outsideWatermarks, envelope, &effects)
            return false
        }
        return true
    }

    /// A request inside a batch must come from a known client and carry that client's valid signature, or in
    /// MAC mode a valid entry for this replica in its authenticator.
    func isValidRequest(_ envelope: Envelope) -> Bool {
        guard case .request = envelope.message, envelope.sender.clientID != nil else { return false }
        if options.deviations.skipClientSignatureCheck { return true }
        guard let key = directory.verifyingKey(for: envelope, suite: suite, bindings: sessionKeys) else {
            return false
        }
        return isAuthentic(envelope, key: key)
    }

    mutating func handlePrepare(_ envelope: Envelope, _ prepare: Prepare, _ effects: inout Effects) {
        guard let sender = envelope.sender.replicaID else { return reject(.unknownSender, envelope, &effects) }
        // PBFT §4.2: prepares come from backups; the primary's pre-prepare stands for its vote.
        guard sender != configuration.primary(of: prepare.view) else { return reject(.fromPrimary, envelope, &effects) }
        guard admitNormalCase(prepare.view, envelope, &effects) else { return }
        guard admitSequence(prepare.sequence, envelope, &effects) else { return }
        var slot = log[prepare.sequence.rawValue] ?? Slot(view: view)
        switch slot.prepares.add(sender, prepare.digest) {
        case .duplicate: return reject(.duplicate, envelope, &effects)
        case .conflicting: return reject(.conflictingDigest, envelope, &effects)
        case .added: break
        }
        slot.prepareEnvelopes[sender] = envelope
        log[prepare.sequence.rawValue] = slot
        checkPrepared(prepare.sequence, &effects)
    }

    mutating func handleCommit(_ envelope: Envelope, _ commit: Commit, _ effects: inout Effects) {
        guard let sender = envelope.sender.replicaID else { return reject(.unknownSender, envelope, &effects) }
        guard admitNormalCase(commit.view, envelope, &effects) else { return }
        guard admitSequence(commit.sequence, envelope, &effects) else { return }
        var slot = log[commit.sequence.rawValue] ?? Slot(view: view)
        switch slot.commits.add(sender, commit.digest) {
        case .duplicate: return reject(.duplicate, envelope, &effects)
        case .conflicting: return reject(.conflictingDigest, envelope, &effects)
        case .added: break
        }
        log[commit.sequence.rawValue] = slot
        checkCommitted(commit.sequence, &effects)
    }

    /// prepared(m, v, n, i): the pre-prepare and quorum-1 (2f when n = 3f+1) matching prepares from distinct
    /// backups. Then multicast a commit.
    mutating func checkPrepared(_ sequence: SequenceNumber, _ effects: inout Effects) {
        guard var slot = log[sequence.rawValue], !slot.prepared, let digest = slot.digest else { return }
        guard slot.prepares.count(for: digest) >= preparedThreshold else { return }
        guard let prePrepare = slot.prePrepare else { return }
        slot.prepared = true
        let commit = sign(.commit(Commit(view: view, sequence: sequence, digest: digest)))
        _ = slot.commits.add(id, digest)
        slot.ownCommit = commit
        log[sequence.rawValue] = slot
        // The certificate goes into this replica's next view-change (PBFT §4.4), so it is durable before the commit.
        let primary = configuration.primary(of: view)
        let prepares = configuration.replicas.compactMap { replica -> Envelope? in
            guard replica != primary, let envelope = slot.prepareEnvelopes[replica],
                case .prepare(let p) = envelope.message, p.digest == digest
            else { return nil }
            return envelope
        }
        let certificate = PreparedCertificate(prePrepare: prePrepare, prepares: prepares)
        preparedCertificates[sequence.rawValue] = certificate
        effects.durable.append(.prepared(certificate))
        effects.durable.append(.vote(commit))
        effects.messages.append(Outbound(commit, to: .allReplicas))
        checkCommitted(sequence, &effects)
    }

    /// 2f prepares (quorum - 1), or one fewer in the broken variant.
    var preparedThreshold: Int {
        configuration.quorum - 1 - (options.deviations.prepareWithOneVoteTooFew ? 1 : 0)
    }

    /// committed-local(m, v, n, i): prepared and a quorum (2f+1) of matching commits, this replica's included.
    mutating func checkCommitted(_ sequence: SequenceNumber, _ effects: inout Effects) {
        guard let slot = log[sequence.rawValue], slot.prepared, !slot.committed, let digest = slot.digest else {
            return
        }
        let needed = configuration.quorum - (options.deviations.commitWithOneVoteTooFew ? 1 : 0)
        guard slot.commits.count(for: digest) >= needed else { return }
        markCommitted(sequence, &effects)
    }

    mutating func markCommitted(_ sequence: SequenceNumber, _ effects: inout Effects) {
        guard var slot = log[sequence.rawValue], !slot.committed, let digest = slot.digest else { return }
        slot.committed = true
        log[sequence.rawValue] = slot
        effects.durable.append(.committed(view: slot.view, sequence: sequence, digest: digest))
        effects.events.append(.committed(view: view, sequence: sequence, digest: digest))
        executeReady(&effects)
    }
}
