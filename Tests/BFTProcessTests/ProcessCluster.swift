import BFTClient
import BFTCore
import BFTCrypto
import BFTKeyValue
import BFTNIO
import BFTRuntime
import BFTStorage
import Foundation
import NIOCore
import NIOPosix

/// Real `bftreplica` processes on loopback for integration tests: ephemeral ports, a temporary directory, bounded
/// waits, and every process stopped when the cluster is dropped.
final class ProcessCluster: @unchecked Sendable {
    let directory: String
    let cluster: ClusterFile
    let clusterPath: String
    var processes: [Process?]

    init(
        replicas: Int = 4, replication: ReplicationProtocol = .pbft, authentication: ClientAuthentication = .signatures
    ) throws {
        directory = NSTemporaryDirectory() + "bft-process-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let ports = try Self.freePorts(replicas)
        var members: [ClusterFile.Member] = []
        for index in 0..<replicas {
            let signer = Ed25519Signer()
            try KeyFile.writePrivateKey(signer, to: "\(directory)/replica-\(index).key")
            members.append(.init(id: UInt32(index), host: "127.0.0.1", port: ports[index], publicKey: signer.publicKey.hex))
        }
        var file = ClusterFile(faultTolerance: (replicas - 1) / 3, replicas: members)
        file.checkpointInterval = 16
        file.logWindow = 32
        file.viewChangeTimeoutTicks = 50
        file.protocol = replication.rawValue
        file.clientAuthentication = authentication.rawValue
        cluster = file
        clusterPath = "\(directory)/cluster.json"
        try file.write(to: clusterPath)
        processes = Array(repeating: nil, count: replicas)
    }

    deinit {
        for index in processes.indices { kill9(index) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The built executable next to the test bundle (`swift test` builds it first).
    static func executable(_ name: String) -> String {
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [here, here.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/\(name)").path
    }

    static func freePorts(_ count: Int) throws -> [Int] {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let channels = try (0..<count).map { _ in try ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait() }
        let ports = channels.compactMap { $0.localAddress?.port }
        for channel in channels { try channel.close().wait() }
        return ports
    }

    func start(_ index: Int, extra: [String] = []) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable("bftreplica"))
        process.arguments = [
            "run", "--cluster", clusterPath, "--id", "\(index)", "--key", "\(directory)/replica-\(index).key",
            "--data", "\(directory)/data-\(index)", "--log-level", "info",
        ] + extra
        let log = "\(directory)/replica-\(index).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = FileHandle(forWritingAtPath: log)
        handle?.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        processes[index] = process
    }

    func startAll() throws { for index in processes.indices { try start(index) } }

    func kill9(_ index: Int) {
        guard let process = processes[index] else { return }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        processes[index] = nil
    }

    /// Sends SIGTERM and waits at most `seconds` for the exit; returns the exit status (nil: still running).
    func terminate(_ index: Int, seconds: Double = 10) -> Int32? {
        guard let process = processes[index] else { return nil }
        process.terminate()
        guard wait(seconds: seconds, { !process.isRunning }) else { return nil }
        processes[index] = nil
        return process.terminationStatus
    }

    func isRunning(_ index: Int) -> Bool { processes[index]?.isRunning ?? false }

    /// The highest sequence number replica `index` has recorded as committed (its store, read beside it).
    func committedSequence(_ index: Int) -> UInt64 {
        guard let records = try? LogFileStore.peek(path: "\(directory)/data-\(index)/replica.log")
        else { return 0 }
        var highest: UInt64 = 0
        for record in records {
            switch record {
            case .committed(_, let sequence, _): highest = max(highest, sequence.rawValue)
            case .stableCheckpoint(let checkpoint): highest = max(highest, checkpoint.sequence.rawValue)
            default: continue
            }
        }
        return highest
    }

    /// Polls `condition` every 100 ms for at most `seconds`.
    func wait(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return condition()
    }

    func log(_ index: Int) -> String {
        (try? String(contentsOfFile: "\(directory)/replica-\(index).log", encoding: .utf8)) ?? ""
    }
}

/// A client for the tests, with its own loop.
final class TestClient: @unchecked Sendable {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let client: BFTClient

    init(_ cluster: ClusterFile) throws {
        client = try BFTClient(cluster: cluster, signer: Ed25519Signer(), suite: SodiumCryptoSuite(), loop: group.next())
    }

    func run(_ command: KeyValueCommand) async throws -> KeyValueResult {
        // Generous: under `swift test` the simulator sweeps run beside these processes on the same two cores, and a
        // view change plus catch-up can then take far longer than on a quiet machine. Still a bound.
        let bytes = try await client.submit(command.encoded(), timeout: .seconds(60))
        return KeyValueResult.decode(bytes) ?? .invalid("undecodable")
    }

    func close() async {
        await client.close()
        try? await group.shutdownGracefully()
    }
}
