import BFTCore
import BFTCrypto
import BFTKeyValue
import BFTNIO
import Foundation
import NIOCore
import NIOPosix
import Testing

/// Real `bftreplica` processes on loopback. Each wait is bounded; every process is stopped at the end.
@Suite("Replica processes", .serialized)
struct ProcessClusterTests {
    func key(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("operations complete; the cluster survives kill -9 of a backup and then of the primary; restarted replicas catch up; a whole-cluster restart loses nothing",
          arguments: ReplicationProtocol.allCases)
    func crashesAndRestarts(replication: ReplicationProtocol) async throws {
        let cluster = try ProcessCluster(replication: replication)
        try cluster.startAll()
        let client = try TestClient(cluster.cluster)
        var written: [String: String] = [:]
        func put(_ k: String, _ v: String) async throws {
            #expect(try await client.run(.put(key: key(k), value: key(v))) == .ok)
            written[k] = v
        }
        for i in 0..<20 { try await put("k\(i % 5)", "a\(i)") }

        cluster.kill9(3)  // a backup
        for i in 0..<20 { try await put("k\(i % 5)", "b\(i)") }
        try cluster.start(3)
        for i in 0..<40 { try await put("k\(i % 5)", "c\(i)") }
        let target = cluster.committedSequence(1)
        // The catch-up bounds are as generous as the client's (60 s): alone this test takes about 7 s, but in the
        // full parallel `swift test` the simulator sweeps starve the replica processes of CPU, and a 15 s bound
        // failed there once (the test as a whole took 330 s).
        #expect(cluster.wait(seconds: 60) { cluster.committedSequence(3) >= target }, "the backup catches up")

        cluster.kill9(0)  // the primary of view 0
        for i in 0..<20 { try await put("k\(i % 5)", "d\(i)") }
        #expect(cluster.log(1).contains("view v1 installed") || cluster.log(2).contains("view v1 installed"))
        try cluster.start(0)
        for i in 0..<40 { try await put("k\(i % 5)", "e\(i)") }
        let latest = cluster.committedSequence(2)
        #expect(cluster.wait(seconds: 60) { cluster.committedSequence(0) >= latest }, "the old primary catches up")

        #expect(cluster.terminate(1) == 0, "SIGTERM stops a replica gracefully, with exit status 0")
        #expect(cluster.log(1).contains("stopped"))
        for index in 0..<4 { cluster.kill9(index) }
        try cluster.startAll()
        for (k, v) in written.sorted(by: { $0.key < $1.key }) {
            #expect(try await client.run(.get(key: key(k))) == .value(key(v)), "\(k) survives a whole-cluster restart")
        }
        await client.close()
    }

    @Test("garbage, truncated, oversized and forged frames and idle connections are refused; the replica keeps serving")
    func badInput() async throws {
        let cluster = try ProcessCluster()
        try cluster.startAll()
        let client = try TestClient(cluster.cluster)
        #expect(try await client.run(.put(key: key("x"), value: key("1"))) == .ok)
        let target = cluster.cluster.replicas[1]
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        func connection() async throws -> Channel {
            try await ClientBootstrap(group: group).connect(host: target.host, port: target.port).get()
        }
        func send(_ bytes: [UInt8], on channel: Channel) async throws {
            var buffer = channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            try await channel.writeAndFlush(buffer).get()
        }
        func frame(_ payload: [UInt8]) -> [UInt8] {
            let n = UInt32(payload.count)
            return [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + payload
        }
        let idle = try await connection()  // half-open: says nothing
        let garbage = try await connection()
        try await send(frame((0..<200).map { UInt8(truncatingIfNeeded: $0 &* 37) }), on: garbage)
        let oversized = try await connection()
        try await send([0x7f, 0xff, 0xff, 0xff, 1, 2, 3], on: oversized)
        let truncated = try await connection()
        try await send(Array(frame([1, 2, 3, 4, 5, 6, 7, 8]).prefix(6)), on: truncated)
        try await truncated.close().get()
        // A prepare claiming to come from replica 2, signed with some other key.
        let forged = Envelope(
            signing: .prepare(Prepare(view: 0, sequence: 1, digest: .zero)), from: .replica(2), with: Ed25519Signer())
        let impostor = try await connection()
        for _ in 0..<50 { try await send(frame(forged.encoded), on: impostor) }
        #expect(cluster.wait(seconds: 5) { !oversized.isActive }, "an oversized length closes the connection")

        for i in 0..<20 {
            #expect(try await client.run(.append(key: key("x"), suffix: key("\(i % 10)"))) != .invalid("undecodable"))
        }
        #expect(try await client.run(.get(key: key("x"))) == .value(key("1" + (0..<20).map { "\($0 % 10)" }.joined())))
        #expect(cluster.isRunning(1), "the replica that got the bad input is still running")
        for channel in [idle, garbage, impostor] { try? await channel.close().get() }
        try await group.shutdownGracefully()
        await client.close()
    }

    @Test("the metrics endpoint reports executed requests, the view and rejected messages in Prometheus format")
    func metrics() async throws {
        let cluster = try ProcessCluster()
        let port = try ProcessCluster.freePorts(1)[0]
        try cluster.start(0, extra: ["--metrics-port", "\(port)"])
        for index in 1..<4 { try cluster.start(index) }
        let client = try TestClient(cluster.cluster)
        for i in 0..<10 { #expect(try await client.run(.put(key: key("m"), value: key("\(i)"))) == .ok) }
        await client.close()
        var text = ""
        #expect(cluster.wait(seconds: 10) {
            text = MetricsServer.fetch(port: port, path: "/metrics")
            return text.contains("bft_requests_executed_total 10")
        }, "\(text)")
        #expect(text.hasPrefix("HTTP/1.1 200 OK"))
        #expect(text.contains("bft_request_latency_seconds_bucket"))
        #expect(text.contains("bft_last_executed_sequence"))
    }

    @Test("bftclient: operations print the agreed result; with no cluster it exits 1 with a one-line reason")
    func clientCommand() throws {
        let cluster = try ProcessCluster()
        try cluster.startAll()
        func bftclient(_ arguments: [String]) throws -> (Int32, String, String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ProcessCluster.executable("bftclient"))
            process.arguments = ["--cluster", cluster.clusterPath] + arguments
            let (out, err) = (Pipe(), Pipe())
            process.standardOutput = out
            process.standardError = err
            try process.run()
            #expect(cluster.wait(seconds: 30) { !process.isRunning })
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            let text = { (pipe: Pipe) in String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
            return (process.terminationStatus, text(out), text(err))
        }
        #expect(try bftclient(["put", "greeting", "hello"]) == (0, "ok\n", ""))
        #expect(try bftclient(["cas", "greeting", "hello", "bonjour"]) == (0, "ok\n", ""))
        #expect(try bftclient(["get", "greeting"]) == (0, "\"bonjour\"\n", ""))
        for index in 0..<4 { cluster.kill9(index) }
        let (status, out, err) = try bftclient(["get", "greeting", "--timeout-ms", "500"])
        #expect(status == 1 && out.isEmpty)
        #expect(err.hasPrefix("bftclient: no f+1 matching replies") && err.split(separator: "\n").count == 1)
    }

    @Test("bad configuration gets a one-line error and a non-zero exit, never a stack trace",
          arguments: ["missingKey", "openPermissions", "portInUse", "tooFewReplicas", "wrongKey"])
    func badConfiguration(kind: String) throws {
        let cluster = try ProcessCluster()
        let keyPath = "\(cluster.directory)/replica-0.key"
        var arguments = ["run", "--cluster", cluster.clusterPath, "--id", "0", "--key", keyPath, "--data",
                         "\(cluster.directory)/data-0"]
        var blocker: Channel?
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        switch kind {
        case "missingKey": arguments[6] = "\(cluster.directory)/nonexistent.key"
        case "openPermissions": chmod(keyPath, 0o644)
        case "wrongKey": arguments[6] = "\(cluster.directory)/replica-1.key"
        case "portInUse":
            let member = cluster.cluster.replicas[0]
            blocker = try ServerBootstrap(group: group).bind(host: member.host, port: member.port).wait()
        default: arguments = ["init", "--replicas", "3", "--faulty", "1", "--out", "\(cluster.directory)/other"]
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ProcessCluster.executable("bftreplica"))
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = Pipe()
        try process.run()
        let finished = cluster.wait(seconds: 20) { !process.isRunning }
        if !finished { process.terminate() }
        process.waitUntilExit()
        try? blocker?.close().wait()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errorLines = text.split(separator: "\n").filter { $0.hasPrefix("Error:") }
        #expect(finished && process.terminationStatus != 0)
        #expect(errorLines.count == 1, "one error line: \(text)")
        #expect(!text.contains("Fatal error") && !text.contains("Stack dump"))
        let expected = ["missingKey": "nonexistent", "openPermissions": "chmod 600", "wrongKey": "not replica 0",
                        "portInUse": "already in use", "tooFewReplicas": "3f+1"][kind] ?? "?"
        #expect(text.contains(expected), "\(text)")
    }
}
