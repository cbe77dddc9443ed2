/// Zyzzyva's speculative normal case (Kotla et al., SOSP 2007 §3) in the same replica as PBFT: the primary's
/// pre-prepare is the order-req, carrying h_n = H(h_{n-1}, d); a replica that accepts it executes at once, in
/// order, and answers the client with a signed spec-response. There are no prepares or commits. A client that
/// gets 2f+1 but not 3f+1 matching spec-responses sends them back as a commit certificate, which replicas whose
/// history agrees acknowledge with a local-commit (§3.3).
///
/// Checkpoints need a commit certificate first (§3.4): at every checkpoint boundary replicas exchange history
/// votes, and a replica announces its checkpoint only once 2f+1 replicas vouched for the same history, so a
/// stable checkpoint is always of a history that any later view change keeps.
extension Replica {
    var isSpeculative: Bool { options.replication == .zyzzyva }

    /// h_n = H(h_{n-1}, d_n): the history digest chains every batch ordered so far.
    func chained(_ previous: Digest, _ batch: Digest) -> Digest {
        suite.digest(previous.bytes + batch.bytes)
    }

    /// This replica's history digest at `sequence`, for a sequence number it has executed.
    func executedHistory(at sequence: SequenceNumber) -> Digest? {
        guard sequence <= lastExecuted else { return nil }
        if sequence == lowWatermark { return speculation.stableHistory }
        guard sequence > lowWatermark, let slot = log[sequence.rawValue], slot.digest != nil else { return nil }
        return slot.history
    }

    // MARK: Ordering (the primary)

    /// ⟨ORDER-REQ, v, n, h_n, d⟩σp: the primary executes its own order-req like everyone else.
    mutating func issueOrderRequest(_ batch: [Envelope], _ effects: inout Effects) {
        let sequence = nextSequence
        nextSequence = nextSequence.next
        let digest = batchDigest(batch)
        let history = chained(speculation.orderedHistory, digest)
        speculation.orderedHistory = history
        let order = PrePrepare(view: view, sequence: sequence, digest: digest, batch: batch, history: history)
        let envelope = sign(.prePrepare(order))
        log[sequence.rawValue] = acceptedSlot(envelope, order)
        noteOrdered(batch)
        effects.durable.append(.prePrepare(envelope))
        effects.messages.append(Outbound(envelope, to: .allReplicas))
    }

    func acceptedSlot(_ envelope: Envelope, _ order: PrePrepare) -> Slot {
        var slot = Slot(view: order.view)
        slot.prePrepare = envelope
        slot.batch = order.batch
        slot.digest = order.digest
        slot.history = order.history
        slot.committed = true
        return slot
    }

    // MARK: Accepting an order-req (a backup)

    /// Called once the order-req passed PBFT's pre-prepare checks (primary, view, watermarks, digest, requests).
    mutating func acceptOrderRequest(_ envelope: Envelope, _ order: PrePrepare, _ effects: inout Effects) {
        let number = order.sequence.rawValue
        if let existing = log[number]?.prePrepare {
            guard existing != envelope else { return reject(.duplicate, envelope, &effects) }
            // Two order-reqs for one slot from one primary: a proof of misbehaviour (§3.5).
            return exposeMisbehaviour(existing, envelope, &effects)
        }
        for neighbour in [number - 1, number + 1] {
            guard let other = log[neighbour]?.prePrepare, case .prePrepare(let o) = other.message, o.view == order.view
            else { continue }
            let (lower, upper) = neighbour < number ? (o, order) : (order, o)
            if chained(lower.history, upper.digest) != upper.history {
                return exposeMisbehaviour(other, envelope, &effects)
            }
        }
        log[number] = acceptedSlot(envelope, order)
        noteOrdered(order.batch)
        effects.durable.append(.prePrepare(envelope))
        executeReady(&effects)
        if lastExecuted.rawValue + 1 < order.sequence.rawValue { askToFillHole(toAll: false, &effects) }
    }

    /// Whether the next slot may run: under PBFT once committed; speculatively once its history chains onto
    /// what this replica executed, in an active view.
    func isExecutable(_ slot: Slot, _ digest: Digest) -> Bool {
        guard isSpeculative else { return slot.committed }
        return viewActive && speculation.pendingView == nil && transfer == nil
            && slot.history == chained(speculation.executedHistory, digest)
    }

    /// The answer for a request executed at (n, h_n): a PBFT reply or a spec-response, signed, or sealed for its
    /// client alone when replies are MAC'd (MAC mode, for a request that came with an authenticator, and
    /// signed-requests mode). A MAC-sealed spec-response carries the signed history vote for (v, n, h_n), one
    /// signature per batch, so the client can still build a commit certificate that every replica can check.
    mutating func response(_ cached: CachedReply, to request: Envelope) -> Envelope {
        var key: (any SessionKey)?
        if Self.repliesSealedForClient(request, options.clientAuthentication),
            let client = directory.verifyingKey(for: request, suite: suite, bindings: sessionKeys)
        {
            key = sessionKeys.key(for: client)
        }
        let recipient = request.sender.clientID ?? 0
        guard isSpeculative else {
            let reply = Reply(view: view, timestamp: cached.timestamp, client: recipient, result: cached.result)
            return Self.seal(.reply(reply), for: key, as: id, signer: signer)
        }
        var response = SpecResponse(
            view: view, sequence: cached.sequence, history: cached.history, timestamp: cached.timestamp,
            client: recipient, result: cached.result)
        guard let key else { return sign(.specResponse(response)) }
        let vote = HistoryVote(view: view, sequence: cached.sequence, history: cached.history)
        if case .historyVote(vote)? = speculation.responseVote?.message {} else {
            speculation.responseVote = sign(.historyVote(vote))
        }
        response.vote = speculation.responseVote
        return Envelope(authenticating: .specResponse(response), from: .replica(id), keys: [key])
    }

    // MARK: Fill-hole (§3.3.1)

    /// Asks the primary (then, if that does not help within half a status interval, every replica) for the
    /// order-reqs between the last executed slot and the next one held.
    mutating func askToFillHole(toAll: Bool, _ effects: inout Effects) {
        let first = lastExecuted.next
        if let asked = speculation.holeAsked, asked.sequence == first, asked.toAll || !toAll,
            ticks - asked.tick < UInt64(max(1, options.statusIntervalTicks / 2))
        {
            return
        }
        guard let held = log.keys.filter({ $0 > first.rawValue }).min() else { return }
        speculation.holeAsked = (first, ticks, toAll)
        let message = sign(.fillHole(FillHole(view: view, from: first, to: SequenceNumber(held - 1))))
        effects.messages.append(Outbound(message, to: toAll ? .allReplicas : .replica(primary)))
    }

    mutating func handleFillHole(_ envelope: Envelope, _ request: FillHole, _ effects: inout Effects) {
        guard let sender = envelope.sender.replicaID, request.view == view, viewActive, request.from <= request.to
        else { return reject(.staleView, envelope, &effects) }
        // One answer per peer per tick: a Byzantine peer cannot turn fill-holes into a flood.
        guard speculation.fillAnswered[sender] != ticks else { return reject(.rateLimited, envelope, &effects) }
        speculation.fillAnswered[sender] = ticks
        let last = min(request.to.rawValue, request.from.rawValue + options.retransmitSlots - 1)
        for number in request.from.rawValue...max(request.from.rawValue, last) {
            if let order = log[number]?.prePrepare { effects.messages.append(Outbound(order, to: .replica(sender))) }
        }
    }

    /// A hole not filled by the primary within half a status interval is asked of every replica.
    mutating func tickSpeculation(_ effects: inout Effects) {
        guard viewActive, let asked = speculation.holeAsked, !asked.toAll, asked.sequence == lastExecuted.next,
            ticks - asked.tick >= UInt64(max(1, options.statusIntervalTicks / 2))
        else { return }
        askToFillHole(toAll: true, &effects)
    }

    // MARK: Dispatch

    mutating func handleSpeculativeMessage(_ envelope: Envelope, _ effects: inout Effects) {
        switch envelope.message {
        case .fillHole(let request): handleFillHole(envelope, request, &effects)
        case .misbehaviourProof(let proof): handleMisbehaviourProof(envelope, proof, &effects)
        case .hateThePrimary(let complaint): handleComplaint(envelope, complaint, &effects)
        case .historyVote(let vote): handleHistoryVote(envelope, vote, &effects)
        default: reject(.unexpectedMessage, envelope, &effects)
        }
    }
}

/// What the speculative protocol adds to a replica's state.
struct SpeculationState {
    /// h at the last executed sequence number, and at the stable checkpoint.
    var executedHistory = Digest.zero
    var stableHistory = Digest.zero
    /// Primary only: h at the last sequence number it assigned.
    var orderedHistory = Digest.zero
    /// The highest commit certificate this replica holds (by view, then sequence number), consistent with its
    /// history; it goes into its view-changes.
    var certificate: HistoryCertificate?
    /// The latest history votes from each replica (at most `votesKept` each).
    var votes: [ReplicaID: [Envelope]] = [:]
    /// This replica's latest votes, resent with its status so a lost one cannot stall a checkpoint.
    var ownVotes: [Envelope] = []
    /// A new-view checked and voted for; the view is entered when 2f+1 replicas vote for its history.
    var pendingView: PendingView?
    /// The latest view each replica complained about.
    var complaints: [ReplicaID: ViewNumber] = [:]
    var holeAsked: (sequence: SequenceNumber, tick: UInt64, toAll: Bool)?
    var fillAnswered: [ReplicaID: UInt64] = [:]
    /// MAC mode: the signed vote that goes into every spec-response of the last executed batch.
    var responseVote: Envelope?

    static let votesKept = 4
}

/// A commit certificate: 2f+1 replicas vouched (by spec-response or history vote) that their history in `view`
/// has digest `history` at `sequence`.
public struct HistoryCertificate: Hashable, Sendable {
    public var view: ViewNumber
    public var sequence: SequenceNumber
    public var history: Digest
    public var votes: [Envelope]

    /// Certificates rank by view first (Abraham et al.), then by how much history they cover.
    func outranks(_ other: HistoryCertificate?) -> Bool {
        guard let other else { return true }
        return (view, sequence) > (other.view, other.sequence)
    }
}

/// A new-view a replica checked and voted for (Zyzzyva's view-confirm, TOCS 2009 §4.5).
struct PendingView {
    var envelope: Envelope
    var plan: Replica.NewViewPlan
    var prePrepares: [Envelope]

    var view: ViewNumber {
        if case .newView(let message) = envelope.message { message.view } else { 0 }
    }
}
