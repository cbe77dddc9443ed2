import ArgumentParser
import BFTCore
import BFTSimulator

/// How long recovery takes in the seeded simulator, in virtual time and messages: a view change after the primary
/// crashes, and a replica catching up after missing many operations. Virtual time follows the simulator's network
/// (0.2–2 ms per message) and ticks (10 ms); it measures the protocol, not this machine.
struct RecoveryBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recovery",
        abstract: "View-change and catch-up time in the simulator: virtual milliseconds and messages.",
        discussion: """
            view change: clients run a steady workload; the primary crashes once --crash-after requests have \
            completed. Reported per seed (median, min, max): detection (crash → first view-change sent, bounded \
            by the client retransmission and view-change timers), protocol (first view-change → 2f+1 replicas \
            in the new view), first completion after the crash, and the messages delivered during the protocol \
            part. catch-up: one replica is down from the start while the others execute --behind operations; it \
            then restarts with nothing, and the figure is the time until it has executed as far as the others.
            """
    )

    @Option(help: "Cluster sizes for the view-change measurement.")
    var replicas: [Int] = [4, 7]

    @Option(help: "Seeds per measurement.")
    var seeds: UInt64 = 10

    @Option(help: "Requests completed before the primary crashes.")
    var crashAfter = 200

    @Option(help: "Operations the lagging replica misses in the catch-up measurement.")
    var behind = 10_000

    @Option(help: "Clients in the catch-up measurement (each runs behind/clients requests).")
    var clients = 50

    func validate() throws {
        guard !replicas.isEmpty, replicas.allSatisfy({ $0 >= 4 && $0 <= 64 }) else {
            throw ValidationError("--replicas must be between 4 and 64")
        }
        guard seeds > 0, crashAfter > 0, behind >= clients, clients > 0 else {
            throw ValidationError("--seeds, --crash-after and --clients must be positive, --behind ≥ --clients")
        }
    }

    func run() throws {
        print("bftbench recovery")
        print("settings: seeds=\(seeds) crash-after=\(crashAfter) behind=\(behind) clients=\(clients) "
            + "tick=10ms latency=0.2-2ms view-change-timeout=\(ReplicaOptions().viewChangeTimeoutTicks) ticks "
            + "client-retransmit=\(ClientOptions().retransmitTicks) ticks K=\(ReplicaOptions().checkpointInterval)")
        for n in replicas { try measureViewChange(replicas: n) }
        try measureCatchUp()
    }

    func measureViewChange(replicas n: Int) throws {
        var detection: [Double] = [], protocolTime: [Double] = [], firstCompletion: [Double] = []
        var messages: [Double] = [], viewChangeMessages: [Double] = [], bytes: [Double] = []
        for seed in 1...seeds {
            var options = SimulationOptions()
            options.replicas = n
            options.clients = 8
            options.requestsPerClient = crashAfter  // far more than run before the crash
            let simulation = try Simulation(seed: seed, options: options)
            let quorum = simulation.configuration.quorum
            guard simulation.run(until: { $0.stats.completedRequests >= crashAfter }, limit: 60_000_000) else {
                throw ValidationError("seed \(seed): the workload did not reach \(crashAfter) requests")
            }
            let primary = simulation.currentPrimary
            simulation.crash(primary)
            let crashed = simulation.time
            let completedAtCrash = simulation.stats.completedRequests
            let started = { (s: Simulation) in s.logs.contains { $0.viewChangesStarted > 0 } }
            guard simulation.run(until: started, limit: crashed + 60_000_000) else { throw failure(seed, "no view change") }
            let firstViewChange = simulation.time
            let before = simulation.stats
            let installed = { (s: Simulation) in
                s.configuration.replicas.count(where: { r in r != primary && s.status(of: r).view > 0 && s.status(of: r).viewActive }) >= quorum
            }
            guard simulation.run(until: installed, limit: crashed + 60_000_000) else { throw failure(seed, "no new view") }
            let newView = simulation.time
            let after = simulation.stats
            guard simulation.run(until: { $0.stats.completedRequests > completedAtCrash }, limit: crashed + 60_000_000)
            else { throw failure(seed, "no completion after the view change") }
            detection.append(Double(firstViewChange - crashed) / 1000)
            protocolTime.append(Double(newView - firstViewChange) / 1000)
            firstCompletion.append(Double(simulation.time - crashed) / 1000)
            messages.append(Double(after.delivered - before.delivered))
            let kinds = [MessageKind.viewChange, .newView].map { Int($0.rawValue) }
            viewChangeMessages.append(Double(kinds.reduce(0) { $0 + after.deliveredByKind[$1] - before.deliveredByKind[$1] }))
            bytes.append(Double(after.deliveredBytes - before.deliveredBytes))
        }
        print("view change, n = \(n), primary crashed after \(crashAfter) requests, \(seeds) seeds: median [min, max]")
        print("  detection (crash → first view-change)        \(Self.summary(detection)) ms")
        print("  protocol (first view-change → 2f+1 in view)  \(Self.summary(protocolTime)) ms")
        print("  crash → first completion in the new view     \(Self.summary(firstCompletion)) ms")
        print("  messages delivered during the protocol part  \(Self.summary(messages)) "
            + "(view-change and new-view: \(Self.summary(viewChangeMessages))), bytes \(Self.summary(bytes))")
    }

    func measureCatchUp() throws {
        var virtual: [Double] = [], messages: [Double] = [], bytes: [Double] = [], transfers: [Double] = []
        var slots: [Double] = []
        let clock = ContinuousClock()
        var wall: [Double] = []
        for seed in 1...seeds {
            var options = SimulationOptions()
            options.clients = clients
            options.requestsPerClient = behind / clients
            let simulation = try Simulation(seed: seed, options: options)
            let lagging = ReplicaID(3)
            simulation.crash(lagging)
            let total = options.clients * options.requestsPerClient
            guard simulation.run(until: { $0.stats.completedRequests == total }, limit: 600_000_000) else {
                throw failure(seed, "the workload did not finish")
            }
            let target = simulation.status(of: 0).lastExecuted
            let before = simulation.stats
            let start = simulation.time
            let wallStart = clock.now
            simulation.restart(lagging)
            guard simulation.run(until: { $0.status(of: lagging).lastExecuted >= target }, limit: start + 600_000_000)
            else { throw failure(seed, "the replica did not catch up") }
            wall.append(Double((clock.now - wallStart).components.attoseconds) / 1e15
                + Double((clock.now - wallStart).components.seconds) * 1000)
            virtual.append(Double(simulation.time - start) / 1000)
            messages.append(Double(simulation.stats.delivered - before.delivered))
            bytes.append(Double(simulation.stats.deliveredBytes - before.deliveredBytes))
            transfers.append(Double(simulation.stats.stateTransfers - before.stateTransfers))
            slots.append(Double(target.rawValue))
        }
        print("catch-up, n = 4, one replica missed \(behind) operations (\(Self.summary(slots)) sequence numbers), "
            + "restarted with an empty disk, \(seeds) seeds: median [min, max]")
        print("  restart → executed as far as the others      \(Self.summary(virtual)) ms virtual "
            + "(\(Self.summary(wall)) ms wall)")
        print("  messages delivered meanwhile (all replicas)  \(Self.summary(messages)), bytes \(Self.summary(bytes)), "
            + "state transfers \(Self.summary(transfers))")
    }

    func failure(_ seed: UInt64, _ what: String) -> ValidationError { ValidationError("seed \(seed): \(what)") }

    static func summary(_ values: [Double]) -> String {
        let sorted = values.sorted()
        func format(_ value: Double) -> String { value >= 100 ? String(Int(value.rounded())) : String(Double(Int(value * 10)) / 10) }
        guard let first = sorted.first, let last = sorted.last else { return "-" }
        return "\(format(sorted[sorted.count / 2])) [\(format(first)), \(format(last))]"
    }
}
