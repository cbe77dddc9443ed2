import BFTCore

/// Invariant 5, no rollback of completion (speculative protocol): the histories clients saw complete, taken in
/// sequence order, each extend the one before (so every later completed history extends every earlier one), and
/// the final history of every correct replica that got that far extends the highest of them.
///
/// It trusts nothing the replicas say about their logs: it follows history digests back through the order-reqs
/// that crossed the network (alone, or re-issued in a new-view), which are signed facts about which batch a
/// primary put after which history, and recomputes every link h_n = H(h_{n-1}, d_n) itself.
public struct NoRollbackCheck {
    /// (sequence number, history) → the batch digests order-reqs named with it (a Byzantine primary may sign a
    /// history that does not match its batch; only a matching one links back).
    private var orders: [SequenceNumber: [Digest: Set<Digest>]] = [:]
    private var completions: [(label: String, sequence: SequenceNumber, history: Digest)] = []
    private let chain: (Digest, Digest) -> Digest

    /// `suite` must hash as the replicas do.
    public init(suite: any CryptoSuite) {
        chain = { previous, batch in suite.digest(previous.bytes + batch.bytes) }
    }

    /// Notes the order-reqs a frame carries (decoding only pre-prepares and new-views).
    public mutating func observe(frame: [UInt8]) {
        // version | sender (0x00 + u32, or 0x01 + u64) | tag
        guard frame.count > 10 else { return }
        let tag = frame[1] == 0 ? frame[6] : frame[10]
        guard tag == MessageKind.prePrepare.rawValue || tag == MessageKind.newView.rawValue,
            let envelope = try? Envelope.decode(frame)
        else { return }
        observe(envelope)
    }

    public mutating func observe(_ envelope: Envelope) {
        switch envelope.message {
        case .prePrepare(let p): note(p)
        case .newView(let message):
            for case .prePrepare(let p) in message.prePrepares.map(\.message) { note(p) }
        default: return
        }
    }

    private mutating func note(_ order: PrePrepare) {
        orders[order.sequence, default: [:]][order.history, default: []].insert(order.digest)
    }

    /// A client saw `label` complete at `sequence` with history `history`.
    public mutating func completed(_ label: String, sequence: SequenceNumber, history: Digest) {
        completions.append((label, sequence, history))
    }

    /// Whether history `later` at `laterSequence` extends `earlier` at `earlierSequence`: walking back from
    /// `later`, one observed order-req at a time, reaches `earlier`.
    public func extends(
        _ later: Digest, at laterSequence: SequenceNumber, _ earlier: Digest, at earlierSequence: SequenceNumber
    ) -> Bool {
        walkBack(later, at: laterSequence, to: earlier, at: earlierSequence) == nil
    }

    /// Nil if `later` extends `earlier`; otherwise why not.
    func walkBack(
        _ later: Digest, at laterSequence: SequenceNumber, to earlier: Digest, at earlierSequence: SequenceNumber
    ) -> String? {
        guard laterSequence >= earlierSequence else { return "it is shorter" }
        var current = later
        var sequence = laterSequence
        while sequence > earlierSequence {
            guard let batches = orders[sequence]?[current] else {
                return "no order-req was sent for its history at \(sequence)"
            }
            let previous = SequenceNumber(sequence.rawValue - 1)
            let candidates = previous == 0 ? [Digest.zero] : (orders[previous].map { Array($0.keys) } ?? [])
            let parents = candidates.filter { candidate in batches.contains { chain(candidate, $0) == current } }
            guard let parent = parents.first else {
                return "no order-req sent at \(previous) is the parent of its history at \(sequence)"
            }
            current = parent
            sequence = previous
        }
        return current == earlier ? nil : "it holds another history at \(earlierSequence)"
    }

    /// The violations, given where each correct replica's history ends.
    public func violations(finalHistories: [(ReplicaID, SequenceNumber, Digest)]) -> [Violation] {
        let sorted = completions.sorted { ($0.sequence, $0.history) < ($1.sequence, $1.history) }
        var found: [Violation] = []
        for (earlier, later) in zip(sorted, sorted.dropFirst()) {
            guard let why = walkBack(later.history, at: later.sequence, to: earlier.history, at: earlier.sequence)
            else { continue }
            found.append(Violation(invariant: .noRollback, detail:
                "\(later.label) completed with a history at \(later.sequence) that does not extend the one "
                + "\(earlier.label) completed with at \(earlier.sequence) (\(why))"))
        }
        guard let highest = sorted.last else { return found }
        for (replica, sequence, history) in finalHistories
        where sequence >= highest.sequence && !extends(history, at: sequence, highest.history, at: highest.sequence) {
            found.append(Violation(invariant: .noRollback, detail:
                "\(replica) ends at \(sequence) with a history that drops what \(highest.label) saw complete at "
                + "\(highest.sequence)"))
        }
        return found
    }
}

extension Checkers {
    func noRollback() -> [Violation] {
        guard simulation.options.replication == .zyzzyva else { return [] }
        var check = simulation.orders
        for operation in simulation.history {
            guard operation.completed != nil, let sequence = operation.sequence, let history = operation.history else {
                continue
            }
            check.completed("\(operation.client) \(operation.timestamp)", sequence: sequence, history: history)
        }
        return check.violations(finalHistories: simulation.correctReplicas.map { replica in
            let status = simulation.status(of: replica)
            return (replica, status.lastExecuted, status.history)
        })
    }
}
