/// Checkpoints, watermarks and log truncation (PBFT §4.3), and status-driven retransmission.
extension Replica {
    /// The bytes a checkpoint digest covers: the application snapshot and the reply table (PBFT §4.3: the reply
    /// table is part of the state, or exactly-once would not survive state transfer). Clients in ascending order.
    /// The table enters as (client, timestamp, result), never as the signed reply: each replica signs its own
    /// replies, so their bytes differ, and the digest must be the same on every correct replica.
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
        }
        return writer.bytes
    }

    func stateDigest() -> Digest { suite.digest(checkpointState()) }

    mutating func takeCheckpoint(_ sequence: SequenceNumber, _ effects: inout Effects) {
        let state = checkpointState()
        let digest = suite.digest(state)
        let envelope = sign(.checkpoint(Checkpoint(sequence: sequence, stateDigest: digest)))
        var record = checkpoints[sequence.rawValue] ?? CheckpointRecord()
        record.own = (digest, envelope, state)
        _ = record.votes.add(id, digest)
        record.envelopes[id] = envelope
        checkpoints[sequence.rawValue] = record
        effects.messages.append(Outbound(envelope, to: .allReplicas))
        checkStable(sequence, &effects)
    }

    mutating func handleCheckpoint(_ envelope: Envelope, _ checkpoint: Checkpoint, _ effects: inout Effects) {
        guard let sender = envelope.sender.replicaID else { return reject(.unknownSender, envelope, &effects) }
        guard checkpoint.sequence.rawValue % options.checkpointInterval == 0 else {
            return reject(.misalignedCheckpoint, envelope, &effects)
        }
        // Checkpoints at or below h are settled; far above H they cannot be used yet and would let a Byzantine
        // replica grow this table.
        guard inWindow(checkpoint.sequence) else { return reject(.outsideWatermarks, envelope, &effects) }
        var record = checkpoints[checkpoint.sequence.rawValue] ?? CheckpointRecord()
        switch record.votes.add(sender, checkpoint.stateDigest) {
        case .duplicate: return reject(.duplicate, envelope, &effects)
        case .conflicting: return reject(.conflictingDigest, envelope, &effects)
        case .added: break
        }
        record.envelopes[sender] = envelope
        checkpoints[checkpoint.sequence.rawValue] = record
        checkStable(checkpoint.sequence, &effects)
    }

    /// A checkpoint is stable at a quorum (2f+1) of matching messages, this replica's own among them. Then h moves
    /// to it and everything at or below it is discarded, so memory stays bounded by the window.
    mutating func checkStable(_ sequence: SequenceNumber, _ effects: inout Effects) {
        guard let record = checkpoints[sequence.rawValue] else { return }
        guard let own = record.own else {
            // A quorum certified a state this replica has not reached: it is behind (state transfer, issue 4).
            if sequence > reportedBehind, record.votes.voterCount >= configuration.quorum {
                reportedBehind = sequence
                effects.events.append(.fellBehind(stableSequence: sequence))
            }
            return
        }
        guard record.votes.count(for: own.digest) >= configuration.quorum else { return }
        let proof = configuration.replicas.compactMap { replica -> Envelope? in
            guard let envelope = record.envelopes[replica], case .checkpoint(let c) = envelope.message,
                c.stateDigest == own.digest
            else { return nil }
            return envelope
        }
        lowWatermark = sequence
        stableProof = proof
        stableStateDigest = own.digest
        log = log.filter { $0.key > sequence.rawValue }
        checkpoints = checkpoints.filter { $0.key > sequence.rawValue }
        noteProgress()
        effects.durable.append(.stableCheckpoint(sequence: sequence, stateDigest: own.digest))
        effects.events.append(.checkpointStable(sequence: sequence, stateDigest: own.digest))
        if isPrimary { cutBatches(force: false, &effects) }
    }

    // MARK: Status and retransmission

    /// Whether anything is waiting on other replicas: an unexecuted slot, a queued request, an unstable checkpoint.
    var isWaiting: Bool {
        !pending.isEmpty || log.keys.contains { $0 > lastExecuted.rawValue } || !checkpoints.isEmpty
    }

    /// A replica stuck with work waiting multicasts its status, so peers send what it lacks, and re-multicasts its
    /// own messages for the slots it has not executed, since the peers it waits on may lack them and not know it.
    mutating func sendStatusIfStuck(_ effects: inout Effects) {
        guard ticks - lastProgressTick >= UInt64(options.statusIntervalTicks), isWaiting else { return }
        lastProgressTick = ticks
        let status = sign(.status(Status(view: view, lastExecuted: lastExecuted, stableSequence: lowWatermark)))
        effects.messages.append(Outbound(status, to: .allReplicas))
        retransmitSlots(after: lastExecuted, to: .allReplicas, &effects)
        for sequence in checkpoints.keys.sorted() {
            if let own = checkpoints[sequence]?.own { effects.messages.append(Outbound(own.envelope, to: .allReplicas)) }
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
        if let last = lastStatusAnswered[sender], ticks - last < UInt64(options.statusIntervalTicks) {
            return reject(.duplicate, envelope, &effects)
        }
        lastStatusAnswered[sender] = ticks
        let to = Destination.replica(sender)
        if status.view == view { retransmitSlots(after: status.lastExecuted, to: to, &effects) }
        for sequence in checkpoints.keys.sorted() where sequence > status.stableSequence.rawValue {
            if let own = checkpoints[sequence]?.own { effects.messages.append(Outbound(own.envelope, to: to)) }
        }
        if status.stableSequence < lowWatermark {
            // The peer is behind this replica's stable checkpoint: the proof tells it so (it then needs state
            // transfer, which arrives with the view-change issue).
            for proof in stableProof { effects.messages.append(Outbound(proof, to: to)) }
        }
    }
}
