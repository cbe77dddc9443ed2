import BFTCore
import BFTRuntime

/// The nemesis: faults injected before the network heals, each drawn from the nemesis stream at the time it
/// strikes, so it can aim at whichever replica is primary then. Isolations and crashes are benign faults: a
/// crashed replica comes back from its durable records, and the checkers still count it as correct.
extension Simulation {
    /// The primary of the view that most running correct replicas are in (ties go to the higher view).
    public var currentPrimary: ReplicaID {
        var counts: [UInt64: Int] = [:]
        for replica in correctReplicas where !down.contains(replica) {
            counts[status(of: replica).view.rawValue, default: 0] += 1
        }
        let view = counts.keys.sorted().max { (counts[$0] ?? 0) < (counts[$1] ?? 0) } ?? 0
        return configuration.primary(of: ViewNumber(view))
    }

    func scheduleNemesis() {
        if options.partitions { schedule(spans: 20_000...420_000) { .isolate(size: $0, includePrimary: $1) } }
        if options.isolatePrimary && !options.partitions {
            schedule(spans: 100_000...1_500_000) { _, _ in .isolate(size: 1, includePrimary: true) }
        }
        if options.crashes {
            schedule(spans: 50_000...1_000_000) { size, primary in
                .crash(count: min(size, self.configuration.faultTolerance), includePrimary: primary)
            }
        }
        if options.clusterRestarts {
            // Early, while the workload runs: a whole-cluster crash after the last request would prove nothing.
            let at = 20_000 + nemesis.next() % 100_000
            queue.push(at, .crash(count: options.replicas, includePrimary: true))
        }
    }

    /// Faults one after another until the heal: each lasts a random span in `spans`, then a quiet gap.
    private func schedule(spans: ClosedRange<UInt64>, _ make: (Int, Bool) -> SimulationEvent) {
        var start = 50_000 + nemesis.next() % 200_000
        let maxSize = max(1, min(options.replicas - 1, 2 * configuration.faultTolerance))
        while start < options.healTime {
            let size = 1 + Int(nemesis.next() % UInt64(maxSize))
            let includePrimary = options.isolatePrimary && nemesis.next() % 4 != 0
            let span = spans.lowerBound + nemesis.next() % (spans.upperBound - spans.lowerBound + 1)
            let event = make(size, includePrimary)
            queue.push(start, event)
            if case .isolate = event { queue.push(min(start + span, options.healTime), .heal) }
            if case .crash = event { queue.push(min(start + span, options.healTime), .restartAll) }
            start += span + 20_000 + nemesis.next() % 300_000
        }
    }

    /// Picks `count` distinct replicas from `candidates`, `first` (if given) leading.
    private func pick(_ count: Int, from candidates: [ReplicaID], first: ReplicaID?) -> [ReplicaID] {
        var rest = candidates.filter { $0 != first }
        for i in stride(from: rest.count - 1, to: 0, by: -1) { rest.swapAt(i, Int(nemesis.next() % UInt64(i + 1))) }
        let lead = first.map { [$0] } ?? []
        return Array((lead + rest).prefix(count))
    }

    func isolate(size: Int, includePrimary: Bool) {
        let primary = currentPrimary
        let candidates = includePrimary ? configuration.replicas : configuration.replicas.filter { $0 != primary }
        isolated = Set(pick(size, from: candidates, first: includePrimary ? primary : nil))
    }

    /// Crashes up to `count` running correct replicas; a whole-cluster crash takes every replica at once.
    func crash(count: Int, includePrimary: Bool) {
        let running = correctReplicas.filter { !down.contains($0) }
        let whole = count >= options.replicas
        let budget = whole ? running.count : max(0, configuration.faultTolerance - down.count)
        let primary = currentPrimary
        let first = includePrimary && running.contains(primary) ? primary : nil
        for replica in pick(min(count, budget), from: running, first: first) { crash(replica) }
        if whole { queue.push(time + 50_000 + nemesis.next() % 200_000, .restartAll) }
    }

    /// Crashes one replica now (also for scripted measurements); it stays down until `restart(_:)`. Every crash is
    /// a power loss, the worst case: its store keeps only what it had synced.
    public func crash(_ replica: ReplicaID) {
        guard down.insert(replica).inserted else { return }
        transports[Int(replica.rawValue)].outbox.removeAll()
        stats.recordsLostAtCrashes += stores[Int(replica.rawValue)].losePower()
        stats.crashes += 1
    }

    /// A crashed replica comes back as a fresh process would: a new `Replica` rebuilt from its durable records.
    func restartAll() {
        for replica in down.sorted() { restart(replica) }
    }

    public func restart(_ replica: ReplicaID) {
        guard down.remove(replica) != nil else { return }
        let index = Int(replica.rawValue)
        // The in-memory store cannot fail to load.
        guard let (host, events) = try? ReplicaHost.recovering(
            makeReplica[index](), configuration: configuration, transport: transports[index], store: stores[index],
            limits: options.replicaOptions.limits)
        else { preconditionFailure("the in-memory store of \(replica) failed to load") }
        hosts[index] = host
        record(events, at: replica)
        flush(from: replica)
    }
}
