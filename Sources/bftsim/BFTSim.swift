import Adversaries
import ArgumentParser
import BFTCore
import BFTCrypto
import BFTSimulator

@main
struct BFTSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bftsim",
        abstract: "Seeded deterministic simulations of a PBFT group: single runs and sweeps, and adversarial sweeps.",
        subcommands: [Run.self, Sweep.self],
        defaultSubcommand: Run.self
    )
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Runs replicas and clients in a seeded deterministic simulation and checks the safety and liveness "
            + "invariants.",
        discussion: """
            A run is a function of its seed and options: the same command reproduces the same run exactly. The \
            network delays, loses, duplicates and reorders messages and isolates backups until --heal-ms; after \
            that it is reliable, and every request must complete within --liveness-ms. On a violation the \
            command prints the invariant, the last messages delivered and a 'reproduce with:' line, and exits 1.

            Examples:
              bftsim --seed 42
              bftsim --seeds 1..200 --loss 0.05 --duplication 0.05 --partitions
              bftsim --seeds 1..20 --real-crypto
            """
    )

    @Option(name: .customLong("protocol"), help: "Agreement protocol: pbft, or zyzzyva (the speculative fast path).")
    var replication: ReplicationProtocol = .pbft

    @Option(name: .customLong("client-auth"), help: "Client authentication: signatures, macs (authenticators), or signed-requests (replies MAC'd).")
    var clientAuthentication: ClientAuthentication = .signatures

    @Option(name: .customLong("events"), help: ArgumentHelp("With --seed: print what replica R executed, and its "
        + "view changes, rollbacks, state transfers and restarts, in virtual time."))
    var eventsOf: UInt32?

    @Option(help: ArgumentHelp("A Byzantine behaviour from the catalog on --faulty replicas (as in 'bftsim sweep': "
        + "replicas 0… on even seeds, the last ones on odd seeds).", valueName: "name"))
    var adversary: String?

    @Option(help: "How many replicas run --adversary (at most f).")
    var faulty = 1

    @Option(help: "Run one seed.")
    var seed: UInt64?

    @Option(help: "Run a range of seeds, A..B inclusive, and summarise.")
    var seeds: SeedRange?

    @Option(help: "Number of replicas n (f is the largest with n ≥ 3f+1).")
    var replicas = 4

    @Option(help: "Number of clients, each with one request outstanding at a time.")
    var clients = 4

    @Option(help: "Requests per client.")
    var requests = 25

    @Option(help: "Distinct keys the workload touches.")
    var keys = 4

    @Option(help: "Probability of losing a message before the heal.")
    var loss = 0.0

    @Option(help: "Probability of delivering a message twice before the heal.")
    var duplication = 0.0

    @Flag(help: "Isolate random sets of backups (the primary too with --isolate-primary) before the heal.")
    var partitions = false

    @Flag(help: "Isolate the current primary for long spans before the heal, forcing view changes.")
    var isolatePrimary = false

    @Flag(help: """
        Crash up to f replicas at a time (often the primary) and restart them from their durable records. Every \
        crash is a power loss: records persisted since the last one a message had to wait for are gone.
        """)
    var crashes = false

    @Flag(help: "Crash every replica at once, then restart them all from their durable records.")
    var clusterRestarts = false

    @Option(help: "Checkpoint interval K (the log window L is 2K); small values exercise checkpoints and state transfer.")
    var checkpointInterval: UInt64 = 128

    @Option(help: ArgumentHelp(
        "A faulty client to add (repeatable).",
        discussion: "One of: \(FaultyClient.allCases.map(\.rawValue).joined(separator: ", "))."))
    var faultyClient: [FaultyClientArgument] = []

    @Option(help: "Scale each replica's tick interval by its own factor in [1-s, 1+s].")
    var tickSkew = 0.0

    @Option(help: "Virtual milliseconds after which the network is reliable and connected.")
    var healMs: UInt64 = 2_000

    @Option(help: "Virtual milliseconds after the heal within which every request must complete.")
    var livenessMs: UInt64 = 10_000

    @Flag(help: ArgumentHelp("Zyzzyva: the clients share commit certificates as one bftclient pool's sessions do.",
        discussion: "One client's certificate on a batch's history then completes the other clients' requests in it."))
    var shareCommits = false

    @Flag(help: "Use libsodium Ed25519 and libcrypto SHA-256 instead of the simulated crypto.")
    var realCrypto = false

    @Flag(help: "Print every seed's outcome in a sweep, not only the failures.")
    var verbose = false

    func validate() throws {
        guard (seed == nil) != (seeds == nil) else { throw ValidationError("give exactly one of --seed or --seeds") }
        guard replicas >= 1, clients >= 1, requests >= 1, keys >= 1 else {
            throw ValidationError("replicas, clients, requests and keys must be at least 1")
        }
        guard (1...128).contains(checkpointInterval) else {
            throw ValidationError("--checkpoint-interval must be between 1 and 128")
        }
        guard (0..<1).contains(tickSkew) else { throw ValidationError("--tick-skew must be in [0, 1)") }
        guard (0...1).contains(loss), (0...1).contains(duplication) else {
            throw ValidationError("--loss and --duplication are probabilities between 0 and 1")
        }
        let configuration: Configuration
        do { configuration = try Configuration(replicas: replicas) } catch { throw ValidationError(error.description) }
        if let adversary {
            guard AdversaryCatalog.named(adversary) != nil else {
                throw ValidationError("unknown adversary '\(adversary)'; known: \(AdversaryCatalog.names.joined(separator: ", "))")
            }
            guard (1...max(1, configuration.faultTolerance)).contains(faulty), configuration.faultTolerance > 0 else {
                throw ValidationError("--faulty must be between 1 and f = \(configuration.faultTolerance)")
            }
        }
    }

    func options() -> SimulationOptions {
        var options = SimulationOptions()
        options.replication = replication
        options.clientAuthentication = clientAuthentication
        options.replicas = replicas
        options.clients = clients
        options.requestsPerClient = requests
        options.keys = keys
        options.loss = loss
        options.duplication = duplication
        options.partitions = partitions
        options.isolatePrimary = isolatePrimary
        options.crashes = crashes
        options.clusterRestarts = clusterRestarts
        options.tickSkew = tickSkew
        options.clientsShareCommits = shareCommits
        options.faultyClients = faultyClient.map(\.kind)
        options.replicaOptions.checkpointInterval = checkpointInterval
        options.replicaOptions.logWindow = 2 * checkpointInterval
        options.healTime = healMs * 1000
        options.livenessBound = livenessMs * 1000
        if realCrypto {
            options.realCrypto = RealCryptoFactory(
                makeSuite: { SodiumCryptoSuite() },
                // Deterministic keys from the identity number, so runs reproduce with real crypto too.
                makeSigner: { Ed25519Signer.deterministic(identity: $0) })
        }
        return options
    }

    func run() throws {
        let range = seeds.map { $0.range } ?? (seed!...seed!)  // validate() guarantees exactly one is set
        let options = options()
        print("bftsim settings: seeds \(range.lowerBound)...\(range.upperBound) \(options.flags) --heal-ms \(healMs) "
            + "--liveness-ms \(livenessMs)")
        let clock = ContinuousClock()
        let start = clock.now
        var failed: [UInt64] = []
        var completed = 0
        var totals = SimulationStats()
        let sweep = AdversarySweep(options: options, faulty: faulty)
        let entry = adversary.flatMap(AdversaryCatalog.named)
        for seed in range {
            let simulation = try Simulation(seed: seed, options: sweep.options(for: seed, running: entry))
            let result = simulation.run()
            completed += result.stats.completedRequests
            totals.add(result.stats)
            if !result.passed { failed.append(seed) }
            if !result.passed || verbose || range.count == 1 { print(result.report) }
            if let replica = eventsOf, range.count == 1 { print(Self.events(of: replica, in: simulation)) }
        }
        let seconds = Self.seconds(clock.now - start)
        print("summary: \(range.count) seed(s), \(range.count - failed.count) passed, \(failed.count) with violations; "
            + "\(completed) requests completed in \(Self.format(seconds)) s wall time "
            + "(\(Int(Double(completed) / max(seconds, 1e-9))) committed requests per second)")
        print("faults: \(totals.crashes) crashes (\(totals.recordsLostAtCrashes) unsynced records lost), "
            + "\(totals.viewChanges) view changes installed (by any replica), \(totals.stateTransfers) state transfers")
        if replication == .zyzzyva {
            print("speculation: \(totals.fastCompletions) of \(completed) completions on the fast path, "
                + "\(totals.ridingCompletions) by another client's certificate, "
                + "\(totals.rollbacks) rollbacks, \(totals.complaints) complaints")
        }
        if !failed.isEmpty {
            print("failing seeds: \(failed.map(String.init).joined(separator: " "))")
            throw ExitCode(1)
        }
    }

    /// A replica's log as lines: executions (sequence, batch, requests), and the other events, by virtual time.
    static func events(of replica: UInt32, in simulation: Simulation) -> String {
        guard Int(replica) < simulation.logs.count else { return "no replica r\(replica)" }
        let log = simulation.logs[Int(replica)]
        var lines: [(UInt64, String)] = log.executed.map { entry in
            let requests = entry.requests.map { "\($0.client) \($0.timestamp)" }.joined(separator: ", ")
            return (entry.time, "executed \(entry.sequence) \(entry.batch.description.prefix(8)) [\(requests)]")
        }
        lines += log.viewsInstalled.map { ($0.time, "view \($0.view) installed") }
        lines += log.stateTransfers.map { ($0.time, "state transferred at \($0.sequence)") }
        lines += log.restarts.map { ($0, "restarted") }
        lines += log.rollbackTimes.map { ($0.time, "rolled back from \($0.from) to \($0.to)") }
        let status = simulation.status(of: ReplicaID(replica))
        let end = "  at the end: view \(status.view)\(status.viewActive ? "" : " (changing)"), executed "
            + "\(status.lastExecuted), watermarks \(status.lowWatermark)–\(status.highWatermark), \(status.logEntries) "
            + "log entries, \(status.pendingRequests) queued requests"
        return (lines.sorted { $0.0 < $1.0 }.map { "  \(Double($0.0) / 1000) ms r\(replica): \($0.1)" } + [end])
            .joined(separator: "\n")
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func format(_ value: Double) -> String { String(Double(Int(value * 100)) / 100) }
}

extension ReplicationProtocol: ExpressibleByArgument {}
extension ClientAuthentication: ExpressibleByArgument {}

struct SeedRange: ExpressibleByArgument {
    let range: ClosedRange<UInt64>

    init?(argument: String) {
        let parts = argument.split(separator: ".", omittingEmptySubsequences: true)
        guard argument.contains(".."), parts.count == 2, let low = UInt64(parts[0]), let high = UInt64(parts[1]),
            low <= high
        else { return nil }
        range = low...high
    }
}

struct FaultyClientArgument: ExpressibleByArgument {
    let kind: FaultyClient
    init?(argument: String) {
        guard let kind = FaultyClient(rawValue: argument) else { return nil }
        self.kind = kind
    }
    static var allValueStrings: [String] { FaultyClient.allCases.map(\.rawValue) }
}
