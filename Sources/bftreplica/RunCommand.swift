import Adversaries
import ArgumentParser
import BFTCore
import BFTCrypto
import BFTKeyValue
import BFTNIO
import BFTStorage
import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
import Prometheus

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Runs one replica until SIGTERM or SIGINT (then it commits its storage and exits 0).",
        discussion: """
            The replica recovers its state from DATA/replica.log (created on first start), listens on the \
            address the cluster file gives for its id, connects to every peer (reconnecting with backoff), and \
            serves clients on the same port. It stops with exit status 1 and a one-line error if its storage fails.
            """
    )

    @Option(help: "The cluster file written by 'bftreplica init'.") var cluster: String
    @Option(help: "This replica's id (0…n-1).") var id: UInt32
    @Option(help: "This replica's private key file (mode 0600).") var key: String
    @Option(help: "Directory for this replica's durable state.") var data: String
    @Option(help: """
        When storage commits: always (every step), batch (once per event-loop turn that has records a message \
        waits for; committed marks alone wait for the next one), none (no fsync).
        """)
    var sync: SyncModeArgument = .batch
    @Option(help: "trace, debug, info, notice, warning, error or critical.") var logLevel: LogLevelArgument = .info
    @Option(help: "Serve Prometheus metrics over HTTP on this port (GET /metrics); off if not given.")
    var metricsPort: Int?
    @Option(help: "Address for the metrics endpoint.") var metricsHost = "127.0.0.1"
    @Option(help: ArgumentHelp(
        "Run a Byzantine behaviour instead of the correct protocol, for adversarial tests.",
        discussion: "One of: \(AdversaryCatalog.names.joined(separator: ", ")).")) var adversary: String?
    @Option(help: "Seed of the adversary's random choices.") var adversarySeed: UInt64 = 1

    func run() async throws {
        let level = logLevel.level
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "bftreplica.\(id)")
        let file: ClusterFile
        do { file = try ClusterFile.load(cluster) } catch { throw Failure(error.description) }
        guard Int(id) < file.replicas.count else {
            throw Failure("--id \(id) is not in the cluster (ids 0…\(file.replicas.count - 1))")
        }
        let signer: Ed25519Signer
        do { signer = try KeyFile.readPrivateKey(from: key) } catch { throw Failure(error.description) }
        guard signer.publicKey.hex == file.replicas[Int(id)].publicKey else {
            throw Failure("the key in \(key) is not replica \(id)'s (its public key differs from the cluster file's)")
        }
        let store: LogFileStore
        do {
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            store = try LogFileStore.open(directory: data, sync: sync.mode, limits: file.replicaOptions.limits)
        } catch {
            throw Failure("cannot open the store in \(data): \(error)")
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var metricsChannel: Channel?
        if let metricsPort {
            let registry = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: registry)
            factory.durationHistogramBuckets["bft_request_latency_seconds"] = [
                .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
                .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                .seconds(1), .seconds(5),
            ]
            MetricsSystem.bootstrap(factory)
            do {
                metricsChannel = try await MetricsServer.start(
                    host: metricsHost, port: metricsPort, registry: registry, group: group
                ).get()
            } catch {
                try? await group.shutdownGracefully()
                throw Failure("cannot serve metrics on \(metricsHost):\(metricsPort): \(Self.describe(error))")
            }
        }
        let done = group.next().makePromise(of: String?.self)
        var settings = ReplicaNode.Settings()
        settings.sync = sync.mode
        if let adversary {
            guard let entry = AdversaryCatalog.named(adversary) else {
                throw Failure("unknown adversary '\(adversary)'; known: \(AdversaryCatalog.names.joined(separator: ", "))")
            }
            settings.adversary = entry
            settings.adversarySeed = adversarySeed
            logger.warning("running the Byzantine behaviour '\(entry.name)': \(entry.description)")
        }
        let node: ReplicaNode
        do {
            node = try await ReplicaNode.start(
                id: ReplicaID(id), cluster: file, signer: signer, suite: SodiumCryptoSuite(), application: KeyValueStore(),
                store: store, loop: group.next(), settings: settings, logger: logger,
                onFatal: { done.succeed($0) }
            ).get()
        } catch {
            done.succeed(nil)
            try? await metricsChannel?.close()
            try? await group.shutdownGracefully()
            let member = file.replicas[Int(id)]
            throw Failure("replica \(id) cannot start on \(member.host):\(member.port): \(Self.describe(error))")
        }
        let signals = Self.onTermination { done.succeed(nil) }
        let failure = try await done.futureResult.get()
        withExtendedLifetime(signals) {}  // the sources must live until a signal came (the optimizer frees early)
        try? await node.stop().get()
        try? await metricsChannel?.close()
        try? await group.shutdownGracefully()
        if let failure { throw Failure(failure) }
        logger.info("replica \(id) stopped")
    }

    static func describe(_ error: Error) -> String {
        let text = "\(error)"
        if text.contains("Address already in use") { return "the address is already in use" }
        return text
    }

    /// Runs `action` once on SIGTERM or SIGINT.
    static func onTermination(_ action: @escaping @Sendable () -> Void) -> [DispatchSourceSignal] {
        [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: action)
            source.resume()
            return source
        }
    }
}

struct SyncModeArgument: ExpressibleByArgument {
    let mode: SyncMode
    init(_ mode: SyncMode) { self.mode = mode }
    init?(argument: String) {
        guard let mode = SyncMode(rawValue: argument) else { return nil }
        self.mode = mode
    }
    static let batch = SyncModeArgument(.batch)
    static var allValueStrings: [String] { SyncMode.allCases.map(\.rawValue) }
    var defaultValueDescription: String { mode.rawValue }
}

struct LogLevelArgument: ExpressibleByArgument {
    let level: Logger.Level
    init(_ level: Logger.Level) { self.level = level }
    init?(argument: String) {
        guard let level = Logger.Level(rawValue: argument) else { return nil }
        self.level = level
    }
    static let info = LogLevelArgument(.info)
    static var allValueStrings: [String] { Logger.Level.allCases.map(\.rawValue) }
    var defaultValueDescription: String { level.rawValue }
}
