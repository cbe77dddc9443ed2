import Adversaries
import ArgumentParser
import BFTClient
import BFTCore
import BFTCrypto
import BFTKeyValue
import BFTNIO
import Foundation
import NIOCore
import NIOPosix

/// `bftreplica suite`: the adversarial suite against real processes. For each behaviour it starts a local cluster
/// whose first f replicas run it, drives concurrent clients that append unique tokens to a few shared keys,
/// checks the history, and prints one row per behaviour.
struct SuiteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "suite",
        abstract: "Runs catalog behaviours in real replica processes and checks what concurrent clients saw.",
        discussion: """
            Every client appends unique tokens to shared keys; an append returns the key's whole new value, so the \
            results pin down an order. The check (linearizability of this append-only workload): every completed \
            append's token appears exactly once in the key's final value, the value an append returned is a prefix \
            of the final value ending in its token, and an append that completed before another was invoked comes \
            first. Throughput is relative to a run of the same workload with no adversary.
            """
    )

    @Option(help: "A behaviour's name, or 'all'.") var adversary = "all"
    @Option(name: .customLong("protocol"), help: "Agreement protocol: pbft or zyzzyva.")
    var replication: ReplicationProtocol = .pbft
    @Option(help: "Number of replicas n; the first f run the behaviour.") var replicas = 4
    @Option(help: "Concurrent clients.") var clients = 4
    @Option(help: "Appends per client.") var operations = 30
    @Option(help: "Port of replica 0 (replica i gets base-port + i).") var basePort = 7400

    func run() async throws {
        let entries = adversary == "all" ? AdversaryCatalog.all : AdversaryCatalog.named(adversary).map { [$0] } ?? []
        guard !entries.isEmpty else {
            throw Failure("unknown adversary '\(adversary)'; known: \(AdversaryCatalog.names.joined(separator: ", "))")
        }
        print("bftreplica suite: n = \(replicas), \(clients) clients × \(operations) appends on 3 keys")
        let baseline = try await runOne(nil)
        print("behaviour".padded(22) + "completed".padded(11) + "violations".padded(12) + "ops/s".padded(8)
            + "vs fault-free")
        print("fault-free".padded(22) + "\(baseline.completed)".padded(11) + "\(baseline.violations.count)".padded(12)
            + "\(Int(baseline.rate))".padded(8) + "1.0")
        var failed = !baseline.violations.isEmpty
        for entry in entries {
            let outcome = try await runOne(entry)
            failed = failed || !outcome.violations.isEmpty
            let ratio = String(format: "%.2f", outcome.rate / max(baseline.rate, 1e-9))
            print(entry.name.padded(22) + "\(outcome.completed)".padded(11) + "\(outcome.violations.count)".padded(12)
                + "\(Int(outcome.rate))".padded(8) + ratio)
            for violation in outcome.violations.prefix(3) { print("  \(violation)") }
        }
        if failed { throw ExitCode(1) }
    }

    struct Outcome {
        var completed = 0
        var violations: [String] = []
        var rate = 0.0
    }

    func runOne(_ entry: AdversaryEntry?) async throws -> Outcome {
        let directory = NSTemporaryDirectory() + "bft-suite-\(ProcessInfo.processInfo.processIdentifier)-\(entry?.name ?? "none")"
        try? FileManager.default.removeItem(atPath: directory)
        let cluster = try InitCommand.initialize(
            replicas: replicas, faulty: nil, host: "127.0.0.1", basePort: basePort, out: directory,
            replication: replication)
        let f = cluster.faultTolerance
        let children = try cluster.replicas.map { member in
            try LocalCommand.spawn(
                directory: directory, id: member.id, logLevel: "error", sync: "batch",
                extra: entry.map { member.id < f ? ["--adversary", $0.name] : [] } ?? [])
        }
        defer {
            LocalCommand.stop(children, quiet: true)
            try? FileManager.default.removeItem(atPath: directory)
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let clock = ContinuousClock()
        let start = clock.now
        var history: [AppendRecord] = []
        try await withThrowingTaskGroup(of: [AppendRecord].self) { tasks in
            for index in 0..<clients {
                tasks.addTask {
                    try await Self.appendWorkload(cluster, client: index, operations: operations, loop: group.next(), clock: clock)
                }
            }
            for try await records in tasks { history += records }
        }
        let elapsed = LocalCommand.milliseconds(clock.now - start) / 1000
        var finals: [String: String] = [:]
        let reader = try BFTClient(cluster: cluster, signer: Ed25519Signer(), suite: SodiumCryptoSuite(), loop: group.next())
        for key in ["a", "b", "c"] {
            if let result = try? await reader.submit(KeyValueCommand.get(key: Array(key.utf8)).encoded()),
                case .value(let bytes)? = KeyValueResult.decode(result)
            {
                finals[key] = String(decoding: bytes, as: UTF8.self)
            } else {
                finals[key] = ""
            }
        }
        await reader.close()
        try? await group.shutdownGracefully()
        let completed = history.filter { $0.result != nil }
        return Outcome(
            completed: completed.count, violations: AppendRecord.check(history, finals: finals),
            rate: Double(completed.count) / max(elapsed, 1e-9))
    }

    static func appendWorkload(
        _ cluster: ClusterFile, client: Int, operations: Int, loop: any EventLoop, clock: ContinuousClock
    ) async throws -> [AppendRecord] {
        let session = try BFTClient(cluster: cluster, signer: Ed25519Signer(), suite: SodiumCryptoSuite(), loop: loop)
        var records: [AppendRecord] = []
        for index in 0..<operations {
            let key = ["a", "b", "c"][(client + index) % 3]
            let token = "<\(client).\(index)>"
            var record = AppendRecord(key: key, token: token, invoked: clock.now)
            if let bytes = try? await session.submit(
                KeyValueCommand.append(key: Array(key.utf8), suffix: Array(token.utf8)).encoded(), timeout: .seconds(20)),
                case .value(let value)? = KeyValueResult.decode(bytes)
            {
                record.result = String(decoding: value, as: UTF8.self)
                record.completed = clock.now
            }
            records.append(record)
        }
        await session.close()
        return records
    }
}

/// One append as a client saw it: the value it returned pins its place in the key's history.
struct AppendRecord {
    var key: String
    var token: String
    var invoked: ContinuousClock.Instant
    var completed: ContinuousClock.Instant?
    var result: String?

    init(key: String, token: String, invoked: ContinuousClock.Instant) {
        self.key = key
        self.token = token
        self.invoked = invoked
    }

    /// The linearizability conditions of the append-only workload (see `SuiteCommand`'s discussion).
    static func check(_ history: [AppendRecord], finals: [String: String]) -> [String] {
        var found: [String] = []
        for record in history {
            guard let result = record.result else { continue }
            let final = finals[record.key] ?? ""
            if !result.hasSuffix(record.token) { found.append("\(record.token) on \(record.key) returned a value not ending in it") }
            if !final.hasPrefix(result) { found.append("\(record.token) on \(record.key) returned a value that is not a prefix of the final one") }
            if final.components(separatedBy: record.token).count != 2 {
                found.append("\(record.token) appears \(final.components(separatedBy: record.token).count - 1) times in \(record.key)")
            }
        }
        for a in history where a.result != nil {
            for b in history where b.key == a.key && b.result != nil {
                guard let done = a.completed, done < b.invoked, let ra = a.result, let rb = b.result else { continue }
                if ra.count >= rb.count { found.append("\(a.token) completed before \(b.token) was invoked but is ordered after it") }
            }
        }
        return found
    }
}

extension String {
    func padded(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
