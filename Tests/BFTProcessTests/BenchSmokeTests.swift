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
        let json = NSTemporaryDirectory() + "bftbench-smoke-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: json) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ProcessCluster.executable("bftbench"))
        process.arguments = ["run", "--smoke", "--protocol", replication, "--auth", authentication, "--json", json]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("protocol=\(replication)") && text.contains("auth=\(authentication)"))
        #expect(text.contains("throughput") && text.contains("p99.9"))
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
        #expect((report?["completed"] as? Int ?? 0) > 0, "\(String(describing: report))")
        #expect((report?["processes"] as? [Any])?.count == 5, "four replicas and the clients")
    }
}
