import Adversaries
import BFTCore
import BFTCrypto
import BFTKeyValue
import BFTNIO
import BFTStorage
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The replicas a load run measures: `bftreplica` processes on loopback (the default), or `ReplicaNode`s inside
/// this process. Either way they talk TCP over loopback with the real codec, crypto, storage and shell.
final class BenchCluster {
    let file: ClusterFile
    let directory: String
    private var processes: [Process] = []
    private var metricsPorts: [Int] = []
    private var nodes: [ReplicaNode] = []
    private var groups: [MultiThreadedEventLoopGroup] = []

    /// The process ids whose CPU time and memory the report shows, with a name for each.
    var measured: [(name: String, pid: Int32)] {
        processes.isEmpty
            ? [("bench (replicas and clients)", ProcessInfo.processInfo.processIdentifier)]
            : processes.enumerated().map { ("replica \($0.offset)", $0.element.processIdentifier) }
                + [("bench (clients)", ProcessInfo.processInfo.processIdentifier)]
    }

    private init(file: ClusterFile, directory: String) {
        self.file = file
        self.directory = directory
    }

    /// Writes a fresh cluster (new keys, free ports) and starts it.
    static func start(_ settings: LoadSettings) async throws -> BenchCluster {
        let directory = NSTemporaryDirectory() + "bftbench-\(ProcessInfo.processInfo.processIdentifier)"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ports = try freePorts(settings.replicas)
        var members: [ClusterFile.Member] = []
        var signers: [Ed25519Signer] = []
        for index in 0..<settings.replicas {
            let signer = Ed25519Signer()
            try KeyFile.writePrivateKey(signer, to: "\(directory)/replica-\(index).key")
            signers.append(signer)
            members.append(.init(id: UInt32(index), host: "127.0.0.1", port: ports[index], publicKey: signer.publicKey.hex))
        }
        var file = ClusterFile(faultTolerance: (settings.replicas - 1) / 3, replicas: members)
        file.protocol = settings.replication.rawValue
        file.clientAuthentication = settings.authentication
        file.maxBatchRequests = settings.batch
        file.tickMilliseconds = settings.tickMilliseconds
        file.logWindow = UInt64(settings.logWindow ?? 256)
        try file.write(to: "\(directory)/cluster.json")
        let cluster = BenchCluster(file: file, directory: directory)
        if settings.inProcess {
            try await cluster.startNodes(signers, settings)
        } else {
            try cluster.startProcesses(settings)
        }
        return cluster
    }

    /// Which replicas run the adversary: f of them; the primary of view 0 (and the next ones) for behaviours that
    /// attack from the primary's seat, the last f backups for every other (so "silent" is a silent backup).
    func isFaulty(_ id: UInt32, _ adversary: String) -> Bool {
        let f = file.faultTolerance
        return adversary.contains("primary") ? Int(id) < f : Int(id) >= file.replicas.count - f
    }

    private func startProcesses(_ settings: LoadSettings) throws {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("bftreplica").path
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw BenchError("\(executable) not found: build it first (swift build -c release)")
        }
        metricsPorts = try Self.freePorts(file.replicas.count)
        let wrapper = Self.profilerWrapper()
        for member in file.replicas {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            var arguments = [
                "run", "--cluster", "\(directory)/cluster.json", "--id", "\(member.id)",
                "--key", "\(directory)/replica-\(member.id).key", "--data", "\(directory)/data-\(member.id)",
                "--sync", settings.sync, "--log-level", "error", "--metrics-port", "\(metricsPorts[Int(member.id)])",
            ]
            if let adversary = settings.adversary, isFaulty(member.id, adversary) { arguments += ["--adversary", adversary] }
            if let wrapper, wrapper.replicas?.contains(Int(member.id)) ?? true {
                // Profiling: run this replica under, say, valgrind (BFTBENCH_REPLICA_WRAPPER).
                process.executableURL = URL(fileURLWithPath: wrapper.command[0])
                arguments = Array(wrapper.command.dropFirst()) + [executable] + arguments
            }
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try process.run()
            processes.append(process)
            ChildProcesses.started(process.processIdentifier)
        }
    }

    /// `BFTBENCH_REPLICA_WRAPPER="/usr/bin/valgrind --tool=callgrind"` runs replicas under that command (an absolute
    /// path first); `BFTBENCH_WRAP_REPLICAS=0,2` limits it to those replica ids (default: every replica).
    private static func profilerWrapper() -> (command: [String], replicas: Set<Int>?)? {
        let environment = ProcessInfo.processInfo.environment
        guard let line = environment["BFTBENCH_REPLICA_WRAPPER"] else { return nil }
        let command = line.split(separator: " ").map(String.init)
        guard !command.isEmpty else { return nil }
        let replicas = environment["BFTBENCH_WRAP_REPLICAS"].map { Set($0.split(separator: ",").compactMap { Int($0) }) }
        return (command, replicas)
    }

    private func startNodes(_ signers: [Ed25519Signer], _ settings: LoadSettings) async throws {
        for member in file.replicas {
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            groups.append(group)
            let store = try LogFileStore(
                path: "\(directory)/replica-\(member.id).log", sync: SyncMode(rawValue: settings.sync) ?? .batch,
                limits: file.replicaOptions.limits)
            var nodeSettings = ReplicaNode.Settings()
            nodeSettings.sync = SyncMode(rawValue: settings.sync) ?? .batch
            if let adversary = settings.adversary, isFaulty(member.id, adversary) {
                nodeSettings.adversary = AdversaryCatalog.named(adversary)
            }
            var logger = Logger(label: "bftbench.replica.\(member.id)")
            logger.logLevel = .error
            let node = try await ReplicaNode.start(
                id: ReplicaID(member.id), cluster: file, signer: signers[Int(member.id)], suite: SodiumCryptoSuite(),
                application: KeyValueStore(), store: store, loop: group.next(), settings: nodeSettings, logger: logger,
                onFatal: { _ in }
            ).get()
            nodes.append(node)
        }
    }

    /// What the replicas report at the end: the highest view (the view changes the run saw), replica 0's mean
    /// batch size over the whole run (requests executed per sequence number) and each replica's `fdatasync`s per
    /// sequence number executed. Processes report on their metrics endpoint, in-process replicas through their
    /// status (which counts no requests, so no batch size or syncs).
    func replicaFigures() -> (view: UInt64, meanBatch: Double?, syncsPerBatch: [Double]?) {
        if !nodes.isEmpty { return (nodes.map { $0.status.view.rawValue }.max() ?? 0, nil, nil) }
        let scraped = metricsPorts.map { port -> [String: Double] in
            var values: [String: Double] = [:]
            for line in MetricsServer.fetch(port: port, path: "/metrics").split(separator: "\n")
            where !line.hasPrefix("#") {
                let parts = line.split(separator: " ")
                if parts.count == 2, let value = Double(parts[1]) { values[String(parts[0])] = value }
            }
            return values
        }
        let view = scraped.compactMap { $0["bft_view"].map { UInt64($0) } }.max() ?? 0
        let syncs = scraped.map { values -> Double? in
            guard let sequences = values["bft_last_executed_sequence"], sequences > 0 else { return nil }
            return (values["bft_storage_syncs_total"] ?? 0) / sequences
        }
        let syncsPerBatch = syncs.contains(nil) ? nil : syncs.compactMap { $0 }
        guard let first = scraped.first, let requests = first["bft_requests_executed_total"],
            let sequences = first["bft_last_executed_sequence"], sequences > 0
        else { return (view, nil, syncsPerBatch) }
        return (view, requests / sequences, syncsPerBatch)
    }

    func stop() async {
        for node in nodes { try? await node.stop().get() }
        for group in groups { try? await group.shutdownGracefully() }
        for process in processes where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            ChildProcesses.stopped(process.processIdentifier)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Ports the kernel hands out for port 0, released again at once.
    static func freePorts(_ count: Int) throws -> [Int] {
        var ports: [Int] = []
        var sockets: [Int32] = []
        defer { for socket in sockets { close(socket) } }
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw BenchError("cannot open a socket to find a free port") }
            sockets.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
                }
            }
            guard bound else { throw BenchError("cannot bind a socket to find a free port") }
            ports.append(Int(UInt16(bigEndian: address.sin_port)))
        }
        return ports
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The replica processes a run started: an interrupted benchmark (Ctrl-C, SIGTERM, a closed terminal) kills them
/// before it exits, so no replica outlives its benchmark.
enum ChildProcesses {
    private static let pids = Mutex<Set<Int32>>([])
    private static let handlers = Mutex<[DispatchSourceSignal]>([])

    static func started(_ pid: Int32) {
        installHandlersOnce()
        pids.withLock { _ = $0.insert(pid) }
    }

    static func stopped(_ pid: Int32) { pids.withLock { _ = $0.remove(pid) } }

    private static func installHandlersOnce() {
        handlers.withLock { installed in
            guard installed.isEmpty else { return }
            for signal in [SIGINT, SIGTERM, SIGHUP] {
                Foundation.signal(signal, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
                source.setEventHandler {
                    for pid in pids.withLock({ Array($0) }) { kill(pid, SIGKILL) }
                    exit(128 + signal)
                }
                source.resume()
                installed.append(source)
            }
        }
    }
}
