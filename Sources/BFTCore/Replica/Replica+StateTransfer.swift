/// State transfer (PBFT §4.3 and TOCS §6.2, simplified to a flat snapshot in chunks): a replica behind a
/// checkpoint that 2f+1 replicas certified fetches that checkpoint's state from one of them, chunk by chunk,
/// checks the whole against the certified digest and installs it. A sender whose chunks do not add up to the
/// digest, or that stops answering, is dropped for the next one; a Byzantine replica can delay, never corrupt.
extension Replica {
    mutating func beginStateTransfer(
        _ sequence: SequenceNumber, _ digest: Digest, proof: [Envelope], _ effects: inout Effects
    ) {
        if let current = transfer, current.sequence >= sequence { return }
        // The replicas that certified the digest, starting at a different one per replica and checkpoint so that
        // several replicas catching up do not all ask the same peer.
        let sources = proof.compactMap { $0.sender.replicaID }.filter { $0 != id }
        guard !sources.isEmpty else { return }
        let start = Int((UInt64(id.rawValue) + sequence.rawValue / options.checkpointInterval) % UInt64(sources.count))
        transfer = StateTransfer(
            sequence: sequence, digest: digest, proof: proof, sources: Array(sources[start...] + sources[..<start]))
        requestChunk(&effects)
    }

    func requestChunk(_ effects: inout Effects) {
        guard let transfer else { return }
        let request = StateRequest(sequence: transfer.sequence, stateDigest: transfer.digest, chunkIndex: transfer.nextChunk)
        effects.messages.append(Outbound(sign(.stateRequest(request)), to: .replica(transfer.source)))
    }

    mutating func tickStateTransfer(_ effects: inout Effects) {
        guard var current = transfer else { return }
        current.idleTicks += 1
        if current.idleTicks >= options.stateTransferTimeoutTicks { current.switchSource() }
        transfer = current
        if current.idleTicks == 0 { requestChunk(&effects) }
    }

    /// Serves a chunk of the state at a checkpoint this replica holds: its stable one, or one of its own above it.
    mutating func handleStateRequest(_ envelope: Envelope, _ request: StateRequest, _ effects: inout Effects) {
        guard let sender = envelope.sender.replicaID else { return reject(.unknownSender, envelope, &effects) }
        let served = chunksServed[sender].flatMap { $0.tick == ticks ? $0.count : nil } ?? 0
        guard served < options.stateChunksPerTick else { return reject(.rateLimited, envelope, &effects) }
        chunksServed[sender] = (ticks, served + 1)
        let state: [UInt8]?
        if request.sequence == lowWatermark && request.stateDigest == stableStateDigest {
            state = stableState
        } else if let own = checkpoints[request.sequence.rawValue]?.own, own.digest == request.stateDigest {
            state = own.snapshot
        } else {
            state = nil
        }
        let size = options.stateChunkBytes
        guard let state else { return reject(.noSuchState, envelope, &effects) }
        let count = max(1, (state.count + size - 1) / size)
        guard Int(request.chunkIndex) < count else { return reject(.noSuchState, envelope, &effects) }
        let start = Int(request.chunkIndex) * size
        let chunk = StateChunk(
            sequence: request.sequence, stateDigest: request.stateDigest, chunkIndex: request.chunkIndex,
            chunkCount: UInt32(count), data: Array(state[start..<min(start + size, state.count)]))
        effects.messages.append(Outbound(sign(.stateChunk(chunk)), to: .replica(sender)))
    }

    mutating func handleStateChunk(_ envelope: Envelope, _ chunk: StateChunk, _ effects: inout Effects) {
        guard var current = transfer, chunk.sequence == current.sequence, chunk.stateDigest == current.digest,
            envelope.sender == .replica(current.source), chunk.chunkIndex == current.nextChunk
        else { return reject(.unexpectedChunk, envelope, &effects) }
        let maxChunks = max(1, options.maxStateBytes / options.stateChunkBytes)
        guard chunk.chunkCount >= 1, chunk.chunkCount <= maxChunks, chunk.chunkIndex < chunk.chunkCount,
            current.chunkCount == nil || current.chunkCount == chunk.chunkCount,
            chunk.data.count <= options.stateChunkBytes
        else {
            current.switchSource()
            transfer = current
            requestChunk(&effects)
            return reject(.unexpectedChunk, envelope, &effects)
        }
        current.chunkCount = chunk.chunkCount
        current.received += chunk.data
        current.nextChunk += 1
        current.idleTicks = 0
        transfer = current
        guard current.nextChunk == chunk.chunkCount else { return requestChunk(&effects) }
        let matches = options.deviations.skipStateDigestCheck || suite.digest(current.received) == current.digest
        guard matches, installState(current, &effects) else {
            // The sender's chunks do not add up to the certified digest: ask the next replica.
            current.switchSource()
            transfer = current
            requestChunk(&effects)
            return reject(.stateDigestMismatch, envelope, &effects)
        }
    }

    /// Replaces the application state and reply table with the transferred ones and resumes execution after
    /// the checkpoint. False, changing nothing, if the bytes do not decode.
    mutating func installState(_ fetched: StateTransfer, _ effects: inout Effects) -> Bool {
        guard lastExecuted < fetched.sequence else {
            transfer = nil
            return true
        }
        guard let (snapshot, table, history) = decodeCheckpointState(fetched.received),
            !isSpeculative || history == proofHistory(fetched.proof)
        else { return false }
        var restored = application
        guard restored.restore(snapshot) else { return false }
        application = restored
        replies = table
        speculation.executedHistory = history
        for client in waiting.keys.sorted() {
            if let cached = replies[client], let request = waiting[client], request.timestampOfRequest <= cached.timestamp {
                waiting[client] = nil
            }
        }
        transfer = nil
        lastExecuted = fetched.sequence
        let checkpoint = StableCheckpoint(
            sequence: fetched.sequence, stateDigest: fetched.digest, proof: fetched.proof, state: fetched.received)
        // Reported first: a primary may execute (its own order-reqs) as soon as the checkpoint is stable.
        effects.events.append(.stateTransferred(sequence: fetched.sequence))
        makeStable(checkpoint, &effects)
        statusDue = true
        executeReady(&effects)
        return true
    }

    /// Reads what `checkpointState()` writes: the application snapshot, the reply table and (speculative protocol)
    /// h at the checkpoint, which is zero under PBFT.
    func decodeCheckpointState(_ bytes: [UInt8]) -> ([UInt8], [ClientID: CachedReply], Digest)? {
        var reader = ByteReader(bytes[...])
        do throws(DecodeError) {
            let snapshot = try reader.byteString("snapshot", limit: bytes.count)
            let count = try reader.u32()
            guard Int(count) <= reader.remaining / 20 else { return nil }
            var table: [ClientID: CachedReply] = [:]
            for _ in 0..<count {
                let client = ClientID(try reader.u64())
                let timestamp = Timestamp(try reader.u64())
                var cached = CachedReply(timestamp: timestamp, result: try reader.byteString("result", limit: bytes.count))
                if isSpeculative {
                    cached.sequence = SequenceNumber(try reader.u64())
                    cached.history = try reader.digest()
                }
                table[client] = cached
            }
            let history = isSpeculative ? try reader.digest() : Digest.zero
            try reader.expectEnd()
            return (snapshot, table, history)
        } catch {
            return nil
        }
    }
}

/// A state transfer in progress: what is fetched, from whom, and the chunks so far.
struct StateTransfer {
    var sequence: SequenceNumber
    var digest: Digest
    var proof: [Envelope]
    /// The replicas that certified the digest, in the order they are asked.
    var sources: [ReplicaID]
    var attempt = 0
    var chunkCount: UInt32?
    var received: [UInt8] = []
    var nextChunk: UInt32 = 0
    var idleTicks: UInt64 = 0

    var source: ReplicaID { sources[attempt % sources.count] }

    init(sequence: SequenceNumber, digest: Digest, proof: [Envelope], sources: [ReplicaID]) {
        self.sequence = sequence
        self.digest = digest
        self.proof = proof
        self.sources = sources
    }

    /// Starts over with the next replica that certified the digest.
    mutating func switchSource() {
        attempt += 1
        chunkCount = nil
        received = []
        nextChunk = 0
        idleTicks = 0
    }
}
