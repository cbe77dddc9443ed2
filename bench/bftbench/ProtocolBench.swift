import Adversaries
import ArgumentParser
import BFTCore
import BFTSimulator

/// PBFT against the speculative path in the seeded simulator, counted in the units protocols are compared in:
/// messages delivered per request and latency in message delays. Every message takes exactly --delay-us of
/// virtual time, so a latency divided by it is a number of message delays; the figures describe the protocols,
/// not this machine.
struct ProtocolBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "protocols",
        abstract: "PBFT and Zyzzyva in the simulator: messages per request and latency in message delays.",
        discussion: """
            Runs one closed-loop client (one request outstanding) against n replicas for each protocol, fault-free \
            and with one silent backup (the last replica: it runs the protocol and sends nothing). Messages are \
            all those delivered until the last completion (requests, ordering, votes, replies, checkpoints, \
            status) divided by the requests; latency is from submission to completion. With a silent backup the \
            speculative client waits --commit-ticks before it sends a commit certificate, so that timer shows up \
            in the latency: it is a setting, not a protocol cost.
            """
    )

    @Option(help: "Replicas n.") var replicas = 4
    @Option(help: "Requests per run.") var requests = 500
    @Option(help: "Seeds per configuration.") var seeds: UInt64 = 3
    @Option(help: "Virtual microseconds per message delay (every message takes exactly this long).")
    var delayUs: UInt64 = 1_000
    @Option(help: "Speculative client: ticks (10 ms) to wait for 3f+1 spec-responses before committing with 2f+1.")
    var commitTicks: UInt64 = 10

    func validate() throws {
        guard (4...64).contains(replicas), requests > 0, seeds > 0, delayUs > 0, commitTicks > 0 else {
            throw ValidationError("--replicas 4…64; --requests, --seeds, --delay-us and --commit-ticks positive")
        }
    }

    func run() throws {
        print("bftbench protocols")
        print("settings: n=\(replicas) requests=\(requests) seeds=\(seeds) clients=1 (closed loop) "
            + "message-delay=\(delayUs)us tick=10ms commit-ticks=\(commitTicks) K=\(ReplicaOptions().checkpointInterval) "
            + "batch=up to \(ReplicaOptions().maxBatchRequests)")
        print("protocol".padded(10) + "faults".padded(16) + "msgs/request".padded(14) + "latency p50".padded(13)
            + "p90".padded(8) + "fast path")
        for replication in ReplicationProtocol.allCases {
            for silent in [false, true] {
                let row = try measure(replication, silentBackup: silent)
                print(replication.rawValue.padded(10) + (silent ? "1 silent backup" : "none").padded(16)
                    + format(row.messages).padded(14) + (format(row.p50) + " delays").padded(13)
                    + format(row.p90).padded(8) + (replication == .zyzzyva ? "\(Int(row.fastShare * 100)) %" : "-"))
            }
        }
    }

    struct Row {
        var messages = 0.0, p50 = 0.0, p90 = 0.0, fastShare = 0.0
    }

    func measure(_ replication: ReplicationProtocol, silentBackup: Bool) throws -> Row {
        var latencies: [Double] = []
        var messages = 0
        var completed = 0
        var fast = 0
        for seed in 1...seeds {
            var options = SimulationOptions()
            options.replication = replication
            options.replicas = replicas
            options.clients = 1
            options.requestsPerClient = requests
            options.minimumLatency = delayUs
            options.maximumLatency = delayUs
            options.healTime = 0
            options.livenessBound = 600_000_000
            options.clientOptions.commitTicks = commitTicks
            if silentBackup, let silent = AdversaryCatalog.named("silent") {
                options.behaviors[ReplicaID(UInt32(replicas - 1))] = { replica, signer, suite in
                    silent.make(AdversaryContext(replica: replica, signer: signer, suite: suite, seed: seed))
                }
            }
            let simulation = try Simulation(seed: seed, options: options)
            guard simulation.run(until: { $0.stats.completedRequests == requests }, limit: 3_600_000_000) else {
                throw ValidationError("\(replication), seed \(seed): the requests did not complete")
            }
            messages += simulation.stats.delivered
            completed += simulation.stats.completedRequests
            fast += simulation.stats.fastCompletions
            for operation in simulation.history {
                guard let done = operation.completed else { continue }
                latencies.append(Double(done - operation.invoked) / Double(delayUs))
            }
        }
        let sorted = latencies.sorted()
        return Row(
            messages: Double(messages) / Double(max(1, completed)), p50: sorted[sorted.count / 2],
            p90: sorted[min(sorted.count - 1, sorted.count * 9 / 10)], fastShare: Double(fast) / Double(max(1, completed)))
    }

    func format(_ value: Double) -> String { String(Double(Int((value * 10).rounded())) / 10) }
}
