import ArgumentParser
import BFTClient
import BFTCore
import BFTCrypto
import BFTKeyValue
import BFTNIO
import Foundation
import NIOPosix

struct LocalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local",
        abstract: "Starts a whole cluster on loopback as child processes, for a demo; Ctrl-C stops them all.",
        discussion: """
            Writes a cluster file and keys into --dir (a new temporary directory by default), starts one \
            'bftreplica run' child per replica, and prints where each listens. With --demo N it then runs N \
            operations from one client (put, get, append, compare-and-set on a few keys), prints what happened \
            and the throughput and median latency of that closed loop, and stops the cluster.
            """
    )

    @Option(help: "Number of replicas n.") var replicas = 4
    @Option(name: .customLong("protocol"), help: "Agreement protocol: pbft, or zyzzyva (the speculative fast path).")
    var replication: ReplicationProtocol = .pbft
    @Option(name: .customLong("client-auth"), help: "Client authentication: signatures, macs or signed-requests (see 'init --help').")
    var clientAuthentication: ClientAuthentication = .signatures
    @Option(help: "Port of replica 0; replica i gets base-port + i.") var basePort = 7100
    @Option(help: "Directory for the cluster file, keys and data (default: a new temporary directory).")
    var dir: String?
    @Option(help: "Run this many client operations, print the outcome, and stop (0: run until Ctrl-C).")
    var demo = 0
    @Option(help: "Log level of the replicas.") var logLevel: LogLevelArgument = .init(.warning)
    @Option(help: "Storage commits of the replicas: always, batch or none (see 'bftreplica run --help').")
    var sync: SyncModeArgument = .batch

    func run() async throws {
        let base = dir ?? NSTemporaryDirectory() + "bft-local-\(ProcessInfo.processInfo.processIdentifier)"
        let cluster = try InitCommand.initialize(
            replicas: replicas, faulty: nil, host: "127.0.0.1", basePort: basePort, out: base, replication: replication,
            clientAuthentication: clientAuthentication)
        var children: [Process] = []
        for member in cluster.replicas {
            let process = try Self.spawn(
                directory: base, id: member.id, logLevel: logLevel.level.rawValue, sync: sync.mode.rawValue)
            children.append(process)
            print("replica \(member.id) (pid \(process.processIdentifier)) listening on \(member.host):\(member.port)")
        }
        print("cluster file: \(base)/cluster.json   (bftclient --cluster \(base)/cluster.json get KEY)")
        defer { Self.stop(children) }
        if demo > 0 {
            try await runDemo(cluster, operations: demo)
        } else {
            print("Ctrl-C stops the cluster.")
            await Self.waitForTermination()
        }
    }

    func runDemo(_ cluster: ClusterFile, operations: Int) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = try BFTClient(
            cluster: cluster, signer: Ed25519Signer(), suite: SodiumCryptoSuite(), loop: group.next())
        var latencies: [Double] = []
        let clock = ContinuousClock()
        let start = clock.now
        for index in 0..<operations {
            let key = Array("key\(index / 4 % 4)".utf8)  // put, get, append, cas on one key, then the next
            let command: KeyValueCommand =
                switch index % 4 {
                case 0: .put(key: key, value: Array("v\(index)".utf8))
                case 1: .get(key: key)
                case 2: .append(key: key, suffix: Array("+\(index)".utf8))
                default: .compareAndSet(key: key, expected: nil, new: Array("c\(index)".utf8))
                }
            let began = clock.now
            let result = try await client.submit(command.encoded())
            latencies.append(Self.milliseconds(clock.now - began))
            if index < 8 || index == operations - 1 {
                print("  \(command) → \(KeyValueResult.decode(result).map { "\($0)" } ?? "\(result.count) bytes")")
            } else if index == 8 {
                print("  …")
            }
        }
        let seconds = Self.milliseconds(clock.now - start) / 1000
        latencies.sort()
        print("demo: \(operations) operations from one client in \(String(format: "%.2f", seconds)) s: "
            + "\(Int(Double(operations) / seconds)) operations/s, median latency "
            + "\(String(format: "%.2f", latencies[latencies.count / 2])) ms, p99 "
            + "\(String(format: "%.2f", latencies[min(latencies.count - 1, latencies.count * 99 / 100)])) ms")
        await client.close()
        try? await group.shutdownGracefully()
    }

    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    /// Starts `bftreplica run` for replica `id` of the cluster in `directory` as a child process.
    static func spawn(directory: String, id: UInt32, logLevel: String, sync: String, extra: [String] = []) throws
        -> Process
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = [
            "run", "--cluster", "\(directory)/cluster.json", "--id", "\(id)", "--key", "\(directory)/replica-\(id).key",
            "--data", "\(directory)/data-\(id)", "--log-level", logLevel, "--sync", sync,
        ] + extra
        do { try process.run() } catch { throw Failure("cannot start replica \(id): \(error)") }
        return process
    }

    static func stop(_ children: [Process], quiet: Bool = false) {
        for child in children where child.isRunning { child.terminate() }
        for child in children { child.waitUntilExit() }
        if !quiet { print("stopped \(children.count) replicas") }
    }

    static func waitForTermination() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let once = Once()
            let sources = RunCommand.onTermination { if once.first() { continuation.resume() } }
            once.keep(sources)
        }
    }
}

/// Lets a signal handler resume a continuation only once, and keeps the signal sources alive meanwhile.
final class Once: @unchecked Sendable {
    private let lock = NSLock()
    private var fired = false
    private var kept: [DispatchSourceSignal] = []

    func first() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if fired { return false }
        fired = true
        return true
    }

    func keep(_ sources: [DispatchSourceSignal]) {
        lock.lock()
        kept = sources
        lock.unlock()
    }
}
