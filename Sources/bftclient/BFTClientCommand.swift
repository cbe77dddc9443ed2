import ArgumentParser
import BFTClient
import BFTCore
import BFTCrypto
import BFTKeyValue
import BFTNIO
import Foundation
import NIOCore
import NIOPosix

@main
struct BFTClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bftclient",
        abstract: "Runs one key-value operation against a replica group and prints the agreed result.",
        discussion: """
            The result is printed once f+1 replicas sent matching replies; without them before --timeout-ms the \
            command exits 1. The client's identity is an Ed25519 key: --key, or DIR/client.key next to the \
            cluster file, created on first use (its id is derived from the key, so the group needs no \
            registration).

            Examples:
              bftclient --cluster cluster.json put greeting hello
              bftclient --cluster cluster.json get greeting
              bftclient --cluster cluster.json cas greeting hello bonjour      (OLD '-' means: absent)
              bftclient --cluster cluster.json bench --operations 2000
            """,
        subcommands: [Put.self, Get.self, Delete.self, CompareAndSet.self, Append.self, Bench.self]
    )

    // Declared here too, so the options may come before the operation: bftclient --cluster FILE get K.
    @OptionGroup var options: ClientOptionsGroup
}

struct ClientOptionsGroup: ParsableArguments {
    @Option(help: "The cluster file written by 'bftreplica init'.") var cluster: String
    @Option(help: "The client's private key file (default: client.key next to the cluster file, made if missing).")
    var key: String?
    @Option(help: "Milliseconds to wait for f+1 matching replies.") var timeoutMs: Int64 = 10_000

    func connect(group: EventLoopGroup) throws -> BFTClient {
        let file: ClusterFile
        do { file = try ClusterFile.load(cluster) } catch { throw ValidationError(error.description) }
        let path = key ?? URL(fileURLWithPath: cluster).deletingLastPathComponent().appendingPathComponent("client.key").path
        let signer: Ed25519Signer
        if key == nil && !FileManager.default.fileExists(atPath: path) {
            signer = Ed25519Signer()
            do { try KeyFile.writePrivateKey(signer, to: path) } catch { throw ValidationError(error.description) }
        } else {
            do { signer = try KeyFile.readPrivateKey(from: path) } catch { throw ValidationError(error.description) }
        }
        return try BFTClient(cluster: file, signer: signer, suite: SodiumCryptoSuite(), loop: group.next())
    }

    /// Runs one command and prints its result; a timeout is a one-line error and exit status 1.
    func perform(_ command: KeyValueCommand) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = try connect(group: group)
        let outcome: Result<[UInt8], Error>
        do {
            outcome = .success(try await client.submit(command.encoded(), timeout: .milliseconds(timeoutMs)))
        } catch {
            outcome = .failure(error)
        }
        await client.close()
        try? await group.shutdownGracefully()
        switch outcome {
        case .failure(let error):
            FileHandle.standardError.write(Data("bftclient: \(error)\n".utf8))
            throw ExitCode(1)
        case .success(let bytes):
            guard let result = KeyValueResult.decode(bytes) else { throw ValidationError("undecodable result") }
            print(result)
            if case .invalid = result { throw ExitCode(2) }
        }
    }
}

struct Put: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Sets KEY to VALUE.")
    @OptionGroup var options: ClientOptionsGroup
    @Argument var key: String
    @Argument var value: String
    func run() async throws { try await options.perform(.put(key: Array(key.utf8), value: Array(value.utf8))) }
}

struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Prints KEY's value.")
    @OptionGroup var options: ClientOptionsGroup
    @Argument var key: String
    func run() async throws { try await options.perform(.get(key: Array(key.utf8))) }
}

struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Removes KEY.")
    @OptionGroup var options: ClientOptionsGroup
    @Argument var key: String
    func run() async throws { try await options.perform(.delete(key: Array(key.utf8))) }
}

struct CompareAndSet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cas", abstract: "Sets KEY to NEW if its value is OLD ('-': if KEY is absent).")
    @OptionGroup var options: ClientOptionsGroup
    @Argument var key: String
    @Argument var old: String
    @Argument var new: String
    func run() async throws {
        try await options.perform(
            .compareAndSet(key: Array(key.utf8), expected: old == "-" ? nil : Array(old.utf8), new: Array(new.utf8)))
    }
}

struct Append: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Appends VALUE to KEY's value (creating it).")
    @OptionGroup var options: ClientOptionsGroup
    @Argument var key: String
    @Argument var value: String
    func run() async throws { try await options.perform(.append(key: Array(key.utf8), suffix: Array(value.utf8))) }
}

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "One client's closed loop: operations per second and latency percentiles (not the full benchmark).")
    @OptionGroup var options: ClientOptionsGroup
    @Option(help: "Operations to run (after 50 of warm-up).") var operations = 2000
    @Option(help: "Bytes per value.") var valueBytes = 16

    func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = try options.connect(group: group)
        let clock = ContinuousClock()
        var latencies: [Double] = []
        let value = [UInt8](repeating: 0x61, count: valueBytes)
        var start = clock.now
        for index in -50..<operations {
            if index == 0 { start = clock.now }
            let began = clock.now
            _ = try await client.submit(KeyValueCommand.put(key: Array("bench\(index % 16)".utf8), value: value).encoded(),
                                        timeout: .milliseconds(options.timeoutMs))
            if index >= 0 { latencies.append(LocalSeconds.milliseconds(clock.now - began)) }
        }
        let seconds = LocalSeconds.milliseconds(clock.now - start) / 1000
        await client.close()
        try? await group.shutdownGracefully()
        latencies.sort()
        func percentile(_ p: Double) -> String {
            String(format: "%.3f", latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))])
        }
        print("bftclient bench: cluster \(options.cluster), 1 client, 1 outstanding request, put of \(valueBytes) B, "
            + "\(operations) operations after 50 of warm-up")
        print("throughput \(Int(Double(operations) / seconds)) operations/s; latency ms p50 \(percentile(0.5)) "
            + "p90 \(percentile(0.9)) p99 \(percentile(0.99)) max \(percentile(1))")
    }
}

enum LocalSeconds {
    static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }
}
