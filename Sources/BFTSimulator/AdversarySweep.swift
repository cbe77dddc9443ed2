import Adversaries
import BFTCore
import BFTRuntime

/// Runs one catalog behaviour on `faulty` replicas over a range of seeds, next to the same seeds without it, and
/// sums up what happened: safety violations, liveness failures, and throughput relative to the fault-free runs.
/// Even seeds put the adversaries on replicas 0… (the first primary among them), odd seeds on the last replicas.
public struct AdversarySweep {
    public struct Outcome: Sendable {
        public var behaviour: String
        public var seeds = 0
        public var safetyViolations = 0
        public var livenessFailures = 0
        public var completed = 0
        public var relativeThroughput = 0.0
        public var failingSeeds: [UInt64] = []
        public var reports: [String] = []
    }

    public var options: SimulationOptions
    public var faulty: Int

    public init(options: SimulationOptions, faulty: Int) {
        self.options = options
        self.faulty = faulty
    }

    /// The replicas that run the behaviour for `seed`.
    public func faultyReplicas(seed: UInt64) -> [ReplicaID] {
        let n = options.replicas
        let ids = seed % 2 == 0 ? Array(0..<faulty) : Array((n - faulty)..<n)
        return ids.map { ReplicaID(UInt32($0)) }
    }

    /// `options` with `entry` running on the replicas it takes for `seed`.
    public func options(for seed: UInt64, running entry: AdversaryEntry?) -> SimulationOptions {
        var attackOptions = options
        guard let entry else { return attackOptions }
        attackOptions.adversary = (entry.name, faulty)
        for replica in faultyReplicas(seed: seed) {
            attackOptions.behaviors[replica] = { replica, signer, suite in
                entry.make(AdversaryContext(replica: replica, signer: signer, suite: suite, seed: seed))
            }
        }
        return attackOptions
    }

    public func run(_ entry: AdversaryEntry?, seeds: ClosedRange<UInt64>) throws -> Outcome {
        var outcome = Outcome(behaviour: entry?.name ?? "fault-free")
        var attacked = (completed: 0, time: UInt64(0))
        var baseline = (completed: 0, time: UInt64(0))
        for seed in seeds {
            let attackOptions = options(for: seed, running: entry)
            let result = try Simulation(seed: seed, options: attackOptions).run()
            outcome.seeds += 1
            outcome.completed += result.stats.completedRequests
            attacked.completed += result.stats.completedRequests
            attacked.time += result.stats.lastCompletion
            let safety = result.violations.filter { $0.invariant != .liveness && $0.invariant != .durability }
            if !safety.isEmpty { outcome.safetyViolations += 1 }
            if safety.count < result.violations.count { outcome.livenessFailures += 1 }
            if !result.passed {
                outcome.failingSeeds.append(seed)
                if outcome.reports.count < 3 { outcome.reports.append(result.report) }
            }
            if entry != nil {
                let clean = try Simulation(seed: seed, options: options).run()
                baseline.completed += clean.stats.completedRequests
                baseline.time += clean.stats.lastCompletion
            }
        }
        if entry == nil { baseline = attacked }
        let attackRate = Double(attacked.completed) / Double(max(1, attacked.time))
        let baseRate = Double(baseline.completed) / Double(max(1, baseline.time))
        outcome.relativeThroughput = baseRate > 0 ? attackRate / baseRate : 0
        return outcome
    }

    /// The network faults every adversarial sweep runs with: loss, duplication, reordering, and partitions that
    /// mostly include the current primary.
    public static func defaultOptions(replicas: Int = 4) -> SimulationOptions {
        var options = SimulationOptions()
        options.replicas = replicas
        options.requestsPerClient = 10
        options.loss = 0.02
        options.duplication = 0.02
        options.partitions = true
        // Isolations aim at the current primary, so view changes happen with the adversaries in them.
        options.isolatePrimary = true
        options.replicaOptions.checkpointInterval = 8
        options.replicaOptions.logWindow = 16
        return options
    }
}
