import Foundation
import Testing

/// `bftbench run --smoke` in CI, so the benchmark cannot rot: it must start a cluster of real processes, complete
/// requests, print its settings and figures, and write them as JSON. No figure is judged here (tests check
/// behaviour; benchmarks measure).
@Suite("Benchmark smoke run", .serialized)
struct BenchSmokeTests {
    @Test("bftbench run --smoke completes requests and reports every figure",
          arguments: [("pbft", "signatures"), ("pbft", "macs"), ("zyzzyva", "macs")])
    func smoke(replication: String, authentication: String) throws {
        let (status, text, report) = try Self.run(["--smoke", "--protocol", replication, "--auth", authentication])
        #expect(status == 0, "\(text)")
        #expect(text.contains("protocol=\(replication)") && text.contains("auth=\(authentication)"))
        #expect(text.contains("throughput") && text.contains("p99.9"))
        #expect((report?["completed"] as? Int ?? 0) > 0, "\(String(describing: report))")
        let processes = report?["processes"] as? [[String: Any]] ?? []
        #expect(processes.count == 5, "four replicas and the clients")
        #expect(processes.allSatisfy { $0["diskBytesPerOperation"] is Double }, "\(processes)")
        #expect(text.contains("B to disk/op"))
        let syncs = report?["syncsPerBatch"] as? [Double] ?? []
        #expect(syncs.count == 4 && syncs.allSatisfy { $0 > 0 }, "every replica synced its log: \(syncs)")
        #expect((0...100).contains(report?["idlePercent"] as? Double ?? -1), "\(String(describing: report))")
    }

    @Test("bftbench run spreads the client connections over event-loop threads and sets the log window; every loop completes requests")
    func clientThreads() throws {
        let (status, text, report) = try Self.run([
            "--clients", "6", "--connections", "3", "--client-threads", "2", "--auth", "macs", "--batch", "4",
            "--warmup", "0.2", "--duration", "1", "--log-window", "512",
        ])
        #expect(status == 0, "\(text)")
        #expect(text.contains("connections=3 client-threads=2") && text.contains("log-window=512"))
        let settings = report?["settings"] as? [String: Any]
        #expect(settings?["clientThreads"] as? Int == 2 && settings?["logWindow"] as? Int == 512, "\(String(describing: settings))")
        // Before the clock each of the six loops completes one request, on whichever thread its pool runs.
        #expect((report?["completed"] as? Int ?? 0) > 0 && report?["failed"] as? Int == 0, "\(String(describing: report))")
    }

    @Test("""
        bftbench sweep alternates the protocols within each setting, and with --rounds summarises each setting \
        once (its median run) and gives the protocols' ratio round by round
        """)
    func sweepRounds() throws {
        let out = NSTemporaryDirectory() + "bftbench-sweep-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let (status, text) = try Self.execute([
            "sweep", "--clients", "1,2", "--batches", "1", "--attacks", "skip", "--warmup", "0", "--duration", "0.5",
            "--rounds", "2", "--out", out,
        ])
        #expect(status == 0, "\(text)")
        let csv = (try? String(contentsOfFile: out + "/runs.csv", encoding: .utf8)) ?? ""
        let runs = csv.split(separator: "\n").dropFirst().map { $0.split(separator: ",").map(String.init) }
        // protocol, replicas, clients: every run of both rounds, the protocols side by side.
        #expect(runs.map { "\($0.first ?? "") \($0.dropFirst(2).first ?? "")" }
            == Array(repeating: ["pbft 1", "zyzzyva 1", "pbft 2", "zyzzyva 2"], count: 2).flatMap { $0 }, "\(csv)")
        let summary = (try? String(contentsOfFile: out + "/summary.txt", encoding: .utf8)) ?? ""
        let rows = summary.split(separator: "\n").filter { $0.hasPrefix("pbft ") || $0.hasPrefix("zyzzyva ") }
        #expect(rows.count == 4, "one row per setting, not per run: \(summary)")
        #expect(summary.contains("zyzzyva/pbft at the best batch, round by round: "), "\(summary)")
    }

    /// Runs `bftbench run` with `arguments` plus a JSON file (two minutes at most): exit status, standard output,
    /// and the JSON report.
    static func run(_ arguments: [String]) throws -> (Int32, String, [String: Any]?) {
        let json = NSTemporaryDirectory() + "bftbench-smoke-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: json) }
        let (status, text) = try execute(["run"] + arguments + ["--json", json])
        let report = (try? Data(contentsOf: URL(fileURLWithPath: json)))
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        return (status, text, report)
    }

    /// Runs `bftbench` with `arguments` (two minutes at most): exit status and standard output.
    static func execute(_ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ProcessCluster.executable("bftbench"))
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Read while it runs: a sweep prints more than a pipe holds.
        let reader = OutputReader(output.fileHandleForReading)
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return (process.terminationStatus, reader.text(waitingUntil: deadline.addingTimeInterval(5)))
    }

    @Test("bftbench refuses a steal limit outside 0…100 % and attempts outside 1…20, with a one-line error")
    func stealLimitValidated() throws {
        for arguments in [["--max-steal", "101"], ["--max-steal=-1"], ["--max-steal", "5", "--attempts", "0"]] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ProcessCluster.executable("bftbench"))
            process.arguments = ["run", "--smoke"] + arguments
            let errors = Pipe()
            process.standardOutput = FileHandle.nullDevice
            process.standardError = errors
            try process.run()
            process.waitUntilExit()
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationStatus != 0, "\(arguments)")
            #expect(text.contains("--max-steal 0…100, --attempts 1…20"), "\(text)")
        }
    }
}

/// Reads a pipe to its end on a thread of its own, so the writer never blocks on a full pipe.
final class OutputReader: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private var done = false

    init(_ handle: FileHandle) {
        Thread {
            let all = handle.readDataToEndOfFile()
            self.lock.withLock {
                self.data = all
                self.done = true
            }
        }.start()
    }

    /// What was read, once the writer closed the pipe (or at `deadline`, whatever was read by then: nothing).
    func text(waitingUntil deadline: Date) -> String {
        while !lock.withLock({ done }) && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return lock.withLock { String(decoding: data, as: UTF8.self) }
    }
}
