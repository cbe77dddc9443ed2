/// Client requests, exactly-once, batching and execution (PBFT §4.1, §4.2 and §5.1.4).
extension Replica {
    /// The digest of a batch: SHA-256 over the canonical encoding of its request envelopes.
    public static func batchDigest(_ batch: [Envelope], suite: some CryptoSuite) -> Digest {
        var writer = ByteWriter(capacity: batch.reduce(4) { $0 + $1.signedBytes.count + 68 })
        writer.list(batch, WireFormat.writeNested)
        return suite.digest(writer.bytes)
    }

    func batchDigest(_ batch: [Envelope]) -> Digest { Self.batchDigest(batch, suite: suite) }

    mutating func handleRequest(_ envelope: Envelope, _ request: Request, _ effects: inout Effects) {
        guard let client = envelope.sender.clientID else { return reject(.unknownSender, envelope, &effects) }
        let ignoreTable = options.deviations.ignoreReplyTable
        if let cached = replies[client], !ignoreTable {
            // PBFT §4.1: a repeated request gets the cached reply again; an older one is ignored.
            if request.timestamp == cached.timestamp {
                // Signed now, in the current view, so the client also learns who the primary is.
                effects.messages.append(Outbound(response(cached, to: envelope), to: .client(client)))
                return
            }
            if request.timestamp < cached.timestamp { return reject(.staleRequest, envelope, &effects) }
        }
        // Known and not executed: it runs the view-change timer, and survives a view change (PBFT §4.4).
        if waiting[client].map({ $0.timestampOfRequest < request.timestamp }) ?? true { waiting[client] = envelope }
        guard isPrimary, viewActive else {
            // A backup relays the request to the primary (PBFT §4.1, client retransmission); the client's own
            // signature travels with it, so the primary can check it.
            if !isPrimary { effects.messages.append(Outbound(envelope, to: .replica(primary))) }
            return
        }
        if !ignoreTable {
            if let queued = pending.timestamp(of: client), queued >= request.timestamp {
                return reject(.duplicate, envelope, &effects)
            }
            if let inFlight = ordered[client], inFlight >= request.timestamp {
                return reject(.duplicate, envelope, &effects)
            }
        }
        pending.insert(client, request.timestamp, envelope, size: request.operation.count)
        if !options.cutBatchesAtTurnEnd { cutBatches(force: false, &effects) }
    }

    /// The primary assigns sequence numbers to queued requests. While fewer than `maxInFlightBatches` batches wait
    /// for execution, every request goes out at once; beyond that requests queue into full batches, and a tick
    /// (`force`) sends whatever is queued. Nothing is assigned above the high watermark, nor, under the speculative
    /// protocol, above `orderingLimit`.
    mutating func cutBatches(force: Bool, _ effects: inout Effects) {
        guard isPrimary, viewActive, transfer == nil else { return }
        let limit = isSpeculative ? orderingLimit : highWatermark
        while !pending.isEmpty && nextSequence <= limit {
            let inFlight = Int(nextSequence.rawValue - 1) - Int(lastExecuted.rawValue)
            guard force || inFlight < options.maxInFlightBatches || pending.count >= options.maxBatchRequests else {
                return
            }
            let batch = pending.take(maxCount: options.maxBatchRequests, maxBytes: options.maxBatchBytes)
            guard !batch.isEmpty else { break }
            if isSpeculative { issueOrderRequest(batch, &effects) } else { issuePrePrepare(batch, &effects) }
        }
        if isSpeculative && lastExecuted.next < nextSequence { executeReady(&effects) }
    }

    /// Zyzzyva's primary executes as it orders, so PBFT's in-flight window never holds it back, and only the
    /// watermarks bound how far it runs ahead of its backups. A backup one checkpoint behind it (its stable checkpoint
    /// K lower: it has not yet executed the next one) refuses order-reqs above its own H, which later come back only
    /// by fill-hole or state transfer; unbatched runs with two client connections stalled on that for seconds. So the
    /// speculative primary orders at most L - K above its stable checkpoint: within the window of any backup at most
    /// one checkpoint behind. Never below the next checkpoint (h + K), which must be ordered for h to move: with
    /// L = K there is no room to hold back.
    var orderingLimit: SequenceNumber {
        let interval = options.checkpointInterval
        return SequenceNumber(lowWatermark.rawValue + max(interval, options.logWindow - interval))
    }

    mutating func issuePrePrepare(_ batch: [Envelope], _ effects: inout Effects) {
        let sequence = nextSequence
        nextSequence = nextSequence.next
        let digest = batchDigest(batch)
        let envelope = sign(.prePrepare(PrePrepare(view: view, sequence: sequence, digest: digest, batch: batch)))
        var slot = Slot(view: view)
        slot.prePrepare = envelope
        slot.batch = batch
        slot.digest = digest
        log[sequence.rawValue] = slot
        noteOrdered(batch)
        effects.durable.append(.prePrepare(envelope))
        effects.messages.append(Outbound(envelope, to: .allReplicas))
        if options.deviations.executeBeforeCommit { markCommitted(sequence, &effects) }
    }

    mutating func noteOrdered(_ batch: [Envelope]) {
        for envelope in batch {
            guard let client = envelope.sender.clientID, case .request(let request) = envelope.message else { continue }
            if ordered[client].map({ $0 < request.timestamp }) ?? true { ordered[client] = request.timestamp }
        }
    }

    /// Executes committed slots strictly in sequence order (PBFT §4.2): slot n runs only after n-1.
    mutating func executeReady(_ effects: inout Effects) {
        while let slot = log[lastExecuted.rawValue + 1], let digest = slot.digest, isExecutable(slot, digest) {
            let sequence = lastExecuted.next
            let executed = executeBatch(slot.batch, at: sequence, history: slot.history, &effects)
            lastExecuted = sequence
            if isSpeculative { speculation.executedHistory = slot.history }
            noteProgress()
            viewTimer.progressed(at: ticks, stillWaiting: isWaitingForRequests)
            effects.events.append(.executed(sequence: sequence, batchDigest: digest, requests: executed))
            if sequence.rawValue % options.checkpointInterval == 0 {
                takeCheckpoint(sequence, &effects)
                // Zyzzyva §3.4: the checkpoint is announced once a certificate shows this history committed.
                if isSpeculative { voteForHistory(sequence, slot.history, &effects) }
            }
        }
        if isPrimary && !isSpeculative { cutBatches(force: false, &effects) }
    }

    private mutating func executeBatch(
        _ batch: [Envelope], at sequence: SequenceNumber, history: Digest, _ effects: inout Effects
    ) -> [ExecutedRequest] {
        var executed: [ExecutedRequest] = []
        for envelope in batch {
            guard let client = envelope.sender.clientID, case .request(let request) = envelope.message else { continue }
            // Exactly once: a request ordered twice (a retransmission, or a faulty primary) runs only the first time.
            if let cached = replies[client], request.timestamp <= cached.timestamp,
                !options.deviations.ignoreReplyTable
            {
                continue
            }
            let result = application.apply(request.operation)
            let cached = CachedReply(timestamp: request.timestamp, result: result, sequence: sequence, history: history)
            replies[client] = cached
            effects.messages.append(Outbound(response(cached, to: envelope), to: .client(client)))
            pending.remove(client, upTo: request.timestamp)
            if let known = waiting[client], known.timestampOfRequest <= request.timestamp { waiting[client] = nil }
            if let inFlight = ordered[client], inFlight <= request.timestamp { ordered[client] = nil }
            executed.append(
                ExecutedRequest(
                    client: client, timestamp: request.timestamp, operation: request.operation, result: result))
        }
        return executed
    }
}

extension Envelope {
    /// The timestamp of the request this envelope carries (0 for any other message).
    var timestampOfRequest: Timestamp {
        if case .request(let request) = message { request.timestamp } else { 0 }
    }
}
