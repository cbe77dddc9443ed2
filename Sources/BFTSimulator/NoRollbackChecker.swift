import BFTCore

/// Every order-req that crossed the simulated network (alone, or re-issued in a new-view): signed facts about
/// which batch a primary put after which history. The no-rollback checker follows history digests back through
/// them, so it needs nothing from the replicas' own logs.
struct ObservedOrders {
    /// (sequence number, history) → batch digest.
    private(set) var orders: [SequenceNumber: [Digest: Digest]] = [:]

    mutating func observe(_ frame: [UInt8]) {
        // version | sender (0x00 + u32, or 0x01 + u64) | tag: decode only pre-prepares and new-views.
        guard frame.count > 10 else { return }
        let tag = frame[1] == 0 ? frame[6] : frame[10]
        guard tag == MessageKind.prePrepare.rawValue || tag == MessageKind.newView.rawValue,
            let envelope = try? Envelope.decode(frame)
        else { return }
        switch envelope.message {
        case .prePrepare(let p): note(p)
        case .newView(let message):
            for case .prePrepare(let p) in message.prePrepares.map(\.message) { note(p) }
        default: return
        }
    }

    private mutating func note(_ order: PrePrepare) {
        orders[order.sequence, default: [:]][order.history] = order.digest
    }

    /// Whether the history `later` at `laterSequence` extends `earlier` at `earlierSequence`: walking back from
    /// `later`, one observed order-req at a time, reaches `earlier`. `chain` computes h_n from h_{n-1} and d_n.
    func extends(
        _ later: Digest, at laterSequence: SequenceNumber, _ earlier: Digest, at earlierSequence: SequenceNumber,
        chain: (Digest, Digest) -> Digest
    ) -> Bool {
        guard laterSequence >= earlierSequence else { return false }
        var current = later
        var sequence = laterSequence
        while sequence > earlierSequence {
            guard let batch = orders[sequence]?[current] else { return false }
            let previous = SequenceNumber(sequence.rawValue - 1)
            let candidates = previous == 0 ? [Digest.zero] : (orders[previous].map { Array($0.keys) } ?? [])
            guard let parent = candidates.first(where: { chain($0, batch) == current }) else { return false }
            current = parent
            sequence = previous
        }
        return current == earlier
    }
}

extension Checkers {
    /// 5. No rollback of completion (speculative protocol): the histories clients saw complete, in sequence
    /// order, each extend the one before (so every later completed history extends every earlier one), and the
    /// final history of every correct replica that got that far extends the highest of them.
    func noRollback() -> [Violation] {
        guard simulation.options.replication == .zyzzyva else { return [] }
        let orders = simulation.orders
        let suite = simulation.checkerSuite
        let chain = { (previous: Digest, batch: Digest) in suite.digest(previous.bytes + batch.bytes) }
        let completed = simulation.history.compactMap { operation -> (Operation, SequenceNumber, Digest)? in
            guard operation.completed != nil, let sequence = operation.sequence, let history = operation.history else {
                return nil
            }
            return (operation, sequence, history)
        }.sorted { ($0.1, $0.2) < ($1.1, $1.2) }
        var found: [Violation] = []
        for (earlier, later) in zip(completed, completed.dropFirst())
        where !orders.extends(later.2, at: later.1, earlier.2, at: earlier.1, chain: chain) {
            found.append(Violation(invariant: .noRollback, detail:
                "\(later.0.client) \(later.0.timestamp) completed with a history at \(later.1) that does not extend "
                + "the one \(earlier.0.client) \(earlier.0.timestamp) completed with at \(earlier.1)"))
        }
        guard let highest = completed.last else { return found }
        for replica in simulation.correctReplicas {
            let status = simulation.status(of: replica)
            guard status.lastExecuted >= highest.1,
                !orders.extends(status.history, at: status.lastExecuted, highest.2, at: highest.1, chain: chain)
            else { continue }
            found.append(Violation(invariant: .noRollback, detail:
                "\(replica) ends at \(status.lastExecuted) with a history that drops what \(highest.0.client) "
                + "\(highest.0.timestamp) saw complete at \(highest.1)"))
        }
        return found
    }
}
