/// Checkpoints, watermarks and log truncation (PBFT §4.3), and status-driven retransmission.
extension Replica {
    /// The bytes a checkpoint digest covers: the application snapshot and the reply table (PBFT §4.3: the reply
    /// table is part of the state, or exactly-once would not survive state transfer). Clients in ascending order.
    /// The table enters as (client, timestamp, result), never as the signed reply: each replica signs its own
    /// replies, so their bytes differ, and the digest must be the same on every correct replica.
    ///
    /// Under the speculative protocol the state also holds h at the checkpoint and, per client, where its last
    /// request ran (n, h_n), so that a replica that fetched the state answers retransmissions as the others do.
    func checkpointState() -> [UInt8] {
        var writer = ByteWriter()
        writer.byteString(application.snapshot())
        let clients = replies.keys.sorted()
        writer.u32(UInt32(clients.count))
        for client in clients {
            guard let cached = replies[client] else { continue }
            writer.u64(client.rawValue)
            writer.u64(cached.timestamp.rawValue)
            writer.byteString(cached.result)
            if isSpeculative {
                writer.u64(cached.sequence.rawValue)
                writer.digest(cached.history)
            }
        }
        if isSpeculative { writer.digest(speculation.executedHistory) }
        return writer.bytes
    }

    mutating func takeCheckpoint(_ sequence: SequenceNumber, _ effects: inout Effects) {
        let state = checkpointState()
        let digest = suite.digest(state)
        let checkpoint = Checkpoint(
            sequence: sequence, stateDigest: digest, history: isSpeculative ? speculation.executedHistory : .zero)
        let envelope = sign(.checkpoint(checkpoint))
        var record = checkpoints[sequence.rawValue] ?? CheckpointRecord()
        record.own = (digest, envelope, state)
        // Speculative: announced by `announceCheckpoints` once a commit certificate covers it.
        record.announced = !isSpeculative
        if !isSpeculative {
            _ = record.votes.add(id, checkpoint)
            record.envelopes[id] = envelope
        }
        checkpoints[sequence.rawValue] = record
        guard !isSpeculative else { return }
        effects.messages.append(Outbound(envelope, to: .allReplicas))
        checkStable(sequence, &effects)
    }

    mutating func handleCheckpoint(_ envelope: Envelope, _ checkpoint: Checkpoint, _ effects: inout Effects) {
        guard let sender = envelope.sender.replicaID else { return reject(.unknownSender, envelope, &effects) }
        guard checkpoint.sequence.rawValue % options.checkpointInterval == 0 else {
            return reject(.misalignedCheckpoint, envelope, &effects)
        }
        if checkpoint.sequence > highWatermark { return handleFarCheckpoint(sender, envelope, checkpoint, &effects) }
        // Checkpoints at or below h are settled.
        guard inWindow(checkpoint.sequence) else { return reject(.outsideWatermarks, envelope, &effects) }
        var record = checkpoints[checkpoint.sequence.rawValue] ?? CheckpointRecord()
        switch record.votes.add(sender, checkpoint) {
        case .duplicate: return reject(.duplicate, envelope, &effects)
        case .conflicting: return reject(.conflictingDigest, envelope, &effects)
        case .added: break
        }
        record.envelopes[sender] = envelope
        checkpoints[checkpoint.sequence.rawValue] = record
        checkStable(checkpoint.sequence, &effects)
    }

    /// A checkpoint above H cannot be logged (a Byzantine replica would grow the table), but 2f+1 matching ones
    /// prove this replica is behind by more than its window: it adopts that checkpoint and fetches its state.
    /// Only the two newest per sender are kept, which holds both a peer's stable proof and its latest checkpoint.
    private mutating func handleFarCheckpoint(
        _ sender: ReplicaID, _ envelope: Envelope, _ checkpoint: Checkpoint, _ effects: inout Effects
    ) {
        heardAhead = true
        var kept = farCheckpoints[sender] ?? []
        guard !kept.contains(where: { $0.checkpoint == checkpoint }) else { return reject(.duplicate, envelope, &effects) }
        kept.append((checkpoint, envelope))
        kept.sort { $0.checkpoint.sequence > $1.checkpoint.sequence }
        farCheckpoints[sender] = Array(kept.prefix(2))
        let proof = configuration.replicas.compactMap { replica in
            farCheckpoints[replica]?.first { $0.checkpoint == checkpoint }?.envelope
        }
        guard proof.count >= configuration.quorum else { return }
        adoptStableCheckpoint(checkpoint.sequence, checkpoint.stateDigest, proof: proof, &effects)
    }

    /// A checkpoint is stable at a quorum (2f+1) of matching messages. If this replica's own checkpoint is among
    /// them, h moves to it. If the quorum certified a state this replica has not reached, it gives its own
    /// execution a status interval to get there (it is usually just a little slower) and then fetches the state.
    mutating func checkStable(_ sequence: SequenceNumber, _ effects: inout Effects) {
        guard let record = checkpoints[sequence.rawValue] else { return }
        let candidates = configuration.replicas.compactMap { record.envelopes[$0] }
        guard let certified = quorumCheckpoint(candidates) else { return }
        let digest = certified.stateDigest
        let proof = candidates.filter {
            if case .checkpoint(let c) = $0.message { c == certified } else { false }
        }
        if record.own == nil && lastExecuted < sequence {
            if (certifiedAhead?.sequence ?? 0) < sequence {
                certifiedAhead = (sequence, digest, proof, certifiedAhead?.since ?? ticks)
            }
            return
        }
        adoptStableCheckpoint(sequence, digest, proof: proof, &effects)
    }

    /// Fetches a certified checkpoint this replica has not reached by itself within a status interval.
    mutating func adoptCertifiedIfStillBehind(_ effects: inout Effects) {
        guard let ahead = certifiedAhead else { return }
        if ahead.sequence <= lowWatermark {
            certifiedAhead = nil
        } else if ticks - ahead.since >= UInt64(options.statusIntervalTicks) {
            certifiedAhead = nil
            adoptStableCheckpoint(ahead.sequence, ahead.digest, proof: ahead.proof, &effects)
        }
    }

    /// The checkpoint that a quorum of the given (already verified) checkpoint messages agree on, if any.
    private func quorumCheckpoint(_ envelopes: [Envelope]) -> Checkpoint? {
        var votes = QuorumTracker<Checkpoint>()
        for envelope in envelopes {
            guard let voter = envelope.sender.replicaID, case .checkpoint(let c) = envelope.message else { continue }
            if case .added(let count) = votes.add(voter, c), count >= configuration.quorum { return c }
        }
        return nil
    }

    /// Makes the certified checkpoint (sequence, digest) this replica's stable one. With its own matching
    /// checkpoint it truncates at once; behind it, it moves h anyway (peers have discarded what lies below) and
    /// fetches the state, which it installs once the digest checks.
    mutating func adoptStableCheckpoint(
        _ sequence: SequenceNumber, _ digest: Digest, proof: [Envelope], _ effects: inout Effects
    ) {
        guard sequence > lowWatermark else { return }
        if let own = checkpoints[sequence.rawValue]?.own, own.digest == digest {
            return makeStable(StableCheckpoint(sequence: sequence, stateDigest: digest, proof: proof, state: own.snapshot),
                              &effects)
        }
        // A correct replica that executed past the checkpoint reached the same state (determinism); under the
        // speculative protocol only if its history agrees, else it undoes its speculation and fetches the state.
        // Behind it, the fetched state replaces whatever it executed speculatively above its own stable checkpoint.
        if isSpeculative && (lastExecuted < sequence || executedHistory(at: sequence) != proofHistory(proof)) {
            rollBack(&effects)
        }
        guard lastExecuted < sequence else { return }
        lowWatermark = sequence
        speculation.stableHistory = proofHistory(proof) ?? .zero
        stableProof = proof
        stableStateDigest = digest
        stableState = nil
        truncate(upTo: sequence)
        if sequence > reportedBehind {
            reportedBehind = sequence
            effects.events.append(.fellBehind(stableSequence: sequence))
        }
        beginStateTransfer(sequence, digest, proof: proof, &effects)
    }

    /// h moves to the checkpoint and everything at or below it is discarded, so memory stays bounded by L.
    mutating func makeStable(_ checkpoint: StableCheckpoint, _ effects: inout Effects) {
        if isSpeculative {
            // Zyzzyva §3.4: a stable checkpoint is of a committed history; its slots are final.
            for number in (lowWatermark.rawValue + 1)...max(lowWatermark.rawValue + 1, checkpoint.sequence.rawValue) {
                guard number <= checkpoint.sequence.rawValue, let slot = log[number], let digest = slot.digest else {
                    continue
                }
                effects.events.append(.committed(view: slot.view, sequence: SequenceNumber(number), digest: digest))
            }
            speculation.stableHistory = proofHistory(checkpoint.proof) ?? .zero
        }
        lowWatermark = checkpoint.sequence
        stableProof = checkpoint.proof
        stableStateDigest = checkpoint.stateDigest
        stableState = checkpoint.state
        truncate(upTo: checkpoint.sequence)
        noteProgress()
        effects.durable.append(.stableCheckpoint(checkpoint))
        effects.events.append(.checkpointStable(sequence: checkpoint.sequence, stateDigest: checkpoint.stateDigest))
        if isPrimary { cutBatches(force: false, &effects) }
    }

    mutating func truncate(upTo sequence: SequenceNumber) {
        log = log.filter { $0.key > sequence.rawValue }
        checkpoints = checkpoints.filter { $0.key > sequence.rawValue }
        preparedCertificates = preparedCertificates.filter { $0.key > sequence.rawValue }
        farCheckpoints = farCheckpoints.compactMapValues { kept in
            let above = kept.filter { $0.checkpoint.sequence > sequence }
            return above.isEmpty ? nil : above
        }
        if nextSequence <= sequence {
            nextSequence = sequence.next
            speculation.orderedHistory = speculation.stableHistory
        }
        if let transfer, transfer.sequence <= sequence, lastExecuted >= transfer.sequence { self.transfer = nil }
    }

    // MARK: Status and retransmission

    /// Whether anything is waiting on other replicas: an unexecuted slot, a queued request, an unstable checkpoint.
    var isWaiting: Bool {
        !pending.isEmpty || log.values.contains { !$0.committed } || !checkpoints.isEmpty || !viewActive
            || heardAhead || !waiting.isEmpty || lastExecuted < peerExecuted
    }

    /// Where peers should retransmit from: after the last executed slot, or before the first slot of this view
    /// that is not committed here. After a view change a replica re-commits slots it executed long ago (others
    /// may need its commit), and votes sent before it installed the view were refused as from a later view.
    var retransmitFrom: SequenceNumber {
        var first = lastExecuted.rawValue
        for (sequence, slot) in log where !slot.committed && sequence <= first { first = sequence - 1 }
        return SequenceNumber(first)
    }

    /// A replica stuck with work waiting multicasts its status, so peers send what it lacks, and re-multicasts its
    /// own messages for the slots it has not executed, since the peers it waits on may lack them and not know it.
    /// An idle replica also sends its status, five times less often (as the status messages of Castro's BFT
    /// library do): a replica that missed the last slots before traffic stopped would otherwise never learn.
    mutating func sendStatusIfStuck(_ effects: inout Effects) {
        let interval = UInt64(options.statusIntervalTicks) * (isWaiting ? 1 : 5)
        guard statusDue || ticks - lastProgressTick >= interval else { return }
        statusDue = false
        lastProgressTick = ticks
        heardAhead = false
        // While changing views, the view-change is what the others need (PBFT §4.4 retransmission).
        if !viewActive, let own = viewChanges[id], own.view == view {
            effects.messages.append(Outbound(own.envelope, to: .allReplicas))
        }
        for vote in speculation.ownVotes { effects.messages.append(Outbound(vote, to: .allReplicas)) }
        let from = retransmitFrom
        let status = sign(.status(Status(view: view, lastExecuted: from, stableSequence: lowWatermark)))
        effects.messages.append(Outbound(status, to: .allReplicas))
        retransmitSlots(after: from, to: .allReplicas, &effects)
        for sequence in checkpoints.keys.sorted() {
            if let record = checkpoints[sequence], record.announced, let own = record.own {
                effects.messages.append(Outbound(own.envelope, to: .allReplicas))
            }
        }
    }

    /// Resends, for up to `retransmitSlots` slots after `sequence`, the pre-prepare (signed by the primary, so any
    /// replica may relay it) and this replica's own prepare and commit.
    func retransmitSlots(after sequence: SequenceNumber, to destination: Destination, _ effects: inout Effects) {
        let first = max(sequence.rawValue, lowWatermark.rawValue) + 1
        let last = min(first + options.retransmitSlots - 1, highWatermark.rawValue)
        guard first <= last else { return }
        for number in first...last {
            guard let slot = log[number] else { continue }
            if let prePrepare = slot.prePrepare { effects.messages.append(Outbound(prePrepare, to: destination)) }
            if let prepare = slot.ownPrepare { effects.messages.append(Outbound(prepare, to: destination)) }
            if let commit = slot.ownCommit { effects.messages.append(Outbound(commit, to: destination)) }
        }
    }

    /// Answers a peer's status by retransmitting, to it alone, what it lacks: for the slots after its last executed
    /// one, the pre-prepare (signed by the primary, so any replica may relay it) and this replica's own prepare and
    /// commit; and this replica's checkpoints above its stable one. At most once per status interval per peer, so
    /// a Byzantine peer cannot use status messages to amplify traffic.
    mutating func handleStatus(_ envelope: Envelope, _ status: Status, _ effects: inout Effects) {
        guard let sender = envelope.sender.replicaID else { return reject(.unknownSender, envelope, &effects) }
        if status.view > view { heardAhead = true }
        // A peer that executed further means there is something to fetch (a liar only makes this replica ask
        // once per status interval).
        if status.view == view { peerExecuted = max(peerExecuted, status.lastExecuted) }
        guard mayAnswer(sender) else { return reject(.duplicate, envelope, &effects) }
        let to = Destination.replica(sender)
        if status.view == view && viewActive { retransmitSlots(after: status.lastExecuted, to: to, &effects) }
        if status.view < view && viewActive, let newView = acceptedNewView {
            effects.messages.append(Outbound(newView, to: to))
        }
        for sequence in checkpoints.keys.sorted() where sequence > status.stableSequence.rawValue {
            if let record = checkpoints[sequence], record.announced, let own = record.own {
                effects.messages.append(Outbound(own.envelope, to: to))
            }
        }
        if status.stableSequence < lowWatermark {
            // The peer is behind this replica's stable checkpoint: the proof tells it so, and it fetches the state.
            for proof in stableProof { effects.messages.append(Outbound(proof, to: to)) }
        }
    }
}
