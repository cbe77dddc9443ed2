import Adversaries
import ArgumentParser
import BFTClient
import BFTCore
import BFTCrypto
import BFTKeyValue
import BFTNIO
import Foundation
import Histogram
import NIOCore
import NIOPosix
import Synchronization

/// Every setting of one load run; printed first, and kept in the JSON and CSV output.
struct LoadSettings: Codable, Sendable {
    var replication: ReplicationProtocol
    var replicas: Int
    var clients: Int
    var outstanding: Int
    /// Connections per replica the client loops share (one `BFTClientPool` each); nil in runs recorded before
    /// pools, where every loop had its own.
    var connections: Int?
    /// Event-loop threads the client connections are spread over (nil in runs recorded before it: one).
    var clientThreads: Int? = nil
    var requestBytes: Int
    var replyBytes: Int
    var batch: Int
    var tickMilliseconds: Int
    /// L, the log window in sequence numbers (nil in runs recorded before it: 256).
    var logWindow: Int? = nil
    var authentication: String
    var adversary: String?
    var sync: String
    var inProcess: Bool
    var warmupSeconds: Double
    var durationSeconds: Double

    var line: String {
        "protocol=\(replication) n=\(replicas) clients=\(clients) outstanding=\(outstanding) "
            + "connections=\(connections.map(String.init) ?? "one per loop") client-threads=\(clientThreads ?? 1) "
            + "request=\(requestBytes)B reply=\(replyBytes)B batch=\(batch) batch-timeout=\(tickMilliseconds)ms "
            + "log-window=\(logWindow ?? 256) "
            + "auth=\(authentication) adversary=\(adversary ?? "none") sync=\(sync) "
            + "cluster=\(inProcess ? "in-process" : "processes") warmup=\(warmupSeconds)s duration=\(durationSeconds)s"
    }
}

extension ReplicationProtocol: ExpressibleByArgument, Codable {}

/// `bftbench run`: closed-loop clients against a local cluster; throughput, latency percentiles (HDR histogram),
/// CPU time per operation per process, peak memory per replica, view changes.
struct LoadBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Closed-loop clients against a local cluster: throughput, latency, CPU and memory.",
        discussion: """
            Starts n bftreplica processes on loopback (next to this executable; --in-process runs them as \
            ReplicaNodes inside this process instead), then clients × outstanding closed loops (each loop is its own \
            client identity with one request at a time) that send null operations of --request-bytes and get \
            --reply-bytes back. The loops share --connections connections per replica (a client process each, with \
            its requests and the replicas' replies coalesced per loop turn); --connections equal to the loops gives \
            every loop its own, like separate client processes. Nothing is recorded during --warmup; then for \
            --duration every completed request's latency goes into an HDR histogram. CPU seconds per operation come \
            from /proc (utime + stime over the \
            measured interval), bytes written to disk per operation from /proc/PID/io (write_bytes: the replica's \
            log appends, syncs and compactions), peak memory from VmHWM, view changes from the replicas' view at the end.

            Profiling: BFTBENCH_REPLICA_WRAPPER="/usr/bin/valgrind --tool=callgrind" (any command with an absolute \
            path) runs the replica processes under that command; BFTBENCH_WRAP_REPLICAS=0 only replica 0 (ids \
            separated by commas). Or attach perf to a running replica: perf record -e cpu-clock -p PID.

            Examples:
              bftbench run --protocol zyzzyva --clients 16
              bftbench run --clients 4 --outstanding 8 --batch 32 --json out.json
              bftbench run --smoke
              bftbench run --clients 512 --batch 256 --auth macs --max-steal 5 --attempts 5
            """
    )

    @Option(name: .customLong("protocol"), help: "pbft or zyzzyva.") var replication: ReplicationProtocol = .pbft
    @Option(help: "Replicas n.") var replicas = 4
    @Option(help: "Client identities.") var clients = 4
    @Option(help: "Requests in flight per client (each its own closed loop).") var outstanding = 1
    @Option(help: "Connections per replica the loops share (client processes); at most the number of loops.")
    var connections = 1
    @Option(help: ArgumentHelp("Event-loop threads of this process the connections are spread over (as client "
        + "processes each would have their own); at most --connections."))
    var clientThreads = 1
    @Option(help: "Bytes of each request's payload (a null operation).") var requestBytes = 0
    @Option(help: "Bytes of each reply.") var replyBytes = 0
    @Option(help: "Most requests per batch.") var batch = 64
    @Option(help: "Batch timeout: the replicas' tick in milliseconds.") var batchTimeoutMs = 10
    @Option(help: ArgumentHelp("L, the replicas' log window in sequence numbers: a multiple of the checkpoint "
        + "interval (128), at most 1024."))
    var logWindow = 256
    @Option(
        help: """
            Client authentication: signatures (Ed25519 on requests and replies), macs (authenticators), or \
            signed-requests (Ed25519 requests, replies MAC'd for their client).
            """)
    var auth = "signatures"
    @Option(help: ArgumentHelp("A catalog behaviour run by f replicas: the first f (replica 0 is the primary) for "
        + "behaviours named '…primary', the last f backups for the others."))
    var adversary: String?
    @Option(help: "Replica storage commits: always, batch or none.") var sync = "batch"
    @Flag(help: "Run the replicas inside this process instead of as bftreplica processes.") var inProcess = false
    @Option(help: "Seconds before measuring.") var warmup = 2.0
    @Option(help: "Seconds measured.") var duration = 10.0
    @Option(help: "Write the settings and figures as JSON to this file.") var json: String?
    @Option(help: "Write them as one CSV row (with a header) to this file.") var csv: String?
    @Flag(help: "A run of a few seconds with small settings, to show the benchmark works (CI runs it).") var smoke = false
    @OptionGroup var steal: StealRetry

    func validate() throws {
        guard (4...64).contains(replicas), clients >= 1, outstanding >= 1, clients * outstanding <= 1024 else {
            throw ValidationError("--replicas 4…64; --clients and --outstanding at least 1, at most 1024 loops")
        }
        guard connections >= 1, connections <= clients * outstanding else {
            throw ValidationError("--connections between 1 and clients × outstanding")
        }
        guard (1...16).contains(clientThreads), clientThreads <= connections else {
            throw ValidationError("--client-threads between 1 and 16, at most --connections")
        }
        guard requestBytes >= 0, replyBytes >= 0, requestBytes <= 1 << 20, replyBytes <= 1 << 20 else {
            throw ValidationError("--request-bytes and --reply-bytes between 0 and 1 MiB")
        }
        guard (1...1024).contains(batch), batchTimeoutMs >= 1, warmup >= 0, duration > 0 else {
            throw ValidationError("--batch 1…1024, --batch-timeout-ms ≥ 1, --duration > 0")
        }
        guard logWindow >= 128, logWindow <= 1024, logWindow % 128 == 0 else {
            throw ValidationError("--log-window: 128, 256, … 1024 (a multiple of the checkpoint interval, 128)")
        }
        guard ClientAuthentication(rawValue: auth) != nil else { throw ValidationError("--auth: signatures, macs or signed-requests") }
        guard ["always", "batch", "none"].contains(sync) else { throw ValidationError("--sync always|batch|none") }
        if let adversary, AdversaryCatalog.named(adversary) == nil {
            throw ValidationError("unknown adversary '\(adversary)'; known: \(AdversaryCatalog.names.joined(separator: ", "))")
        }
    }

    var settings: LoadSettings {
        LoadSettings(
            replication: replication, replicas: replicas, clients: smoke ? 2 : clients,
            outstanding: smoke ? 1 : outstanding, connections: smoke ? 1 : connections,
            clientThreads: smoke ? 1 : clientThreads, requestBytes: requestBytes,
            replyBytes: replyBytes, batch: batch,
            tickMilliseconds: batchTimeoutMs, logWindow: logWindow, authentication: auth, adversary: adversary, sync: sync,
            inProcess: inProcess, warmupSeconds: smoke ? 0.5 : warmup, durationSeconds: smoke ? 2 : duration)
    }

    func run() async throws {
        let settings = settings
        print("bftbench run: \(settings.line)")
        let report = try await steal.measure(settings, LoadRun.measure)
        print(report.table)
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: URL(fileURLWithPath: json))
        }
        if let csv { try (LoadReport.csvHeader + "\n" + report.csvRow + "\n").write(toFile: csv, atomically: true, encoding: .utf8) }
        if report.completed == 0 { throw BenchError("no request completed") }
    }
}

/// The closed loops and the measurement.
enum LoadRun {
    static func measure(_ settings: LoadSettings) async throws -> LoadReport {
        let cluster = try await BenchCluster.start(settings)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: settings.clientThreads ?? 1)
        do {
            let report = try await drive(settings, cluster, group)
            await cluster.stop()
            try? await group.shutdownGracefully()
            return report
        } catch {
            await cluster.stop()
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private static func drive(
        _ settings: LoadSettings, _ cluster: BenchCluster, _ group: MultiThreadedEventLoopGroup
    ) async throws -> LoadReport {
        let loops = settings.clients * settings.outstanding
        let connections = max(1, min(settings.connections ?? loops, loops))
        let threads = (0..<(settings.clientThreads ?? 1)).map { _ in group.next() }
        let pools = try (0..<connections).map { index in
            let members = loops / connections + (index < loops % connections ? 1 : 0)
            return try BFTClientPool(
                cluster: cluster.file, signers: (0..<members).map { _ in Ed25519Signer() }, suite: SodiumCryptoSuite(),
                loop: threads[index % threads.count])
        }
        let operation = KeyValueCommand.null(
            payload: [UInt8](repeating: 0x5a, count: settings.requestBytes), replyBytes: UInt32(settings.replyBytes)
        ).encoded()
        // The replicas take a moment to connect to each other: one request per loop, all at once, before the clock.
        try await withThrowingTaskGroup(of: Void.self) { warmups in
            for pool in pools {
                for member in pool.ids.indices {
                    warmups.addTask { _ = try await pool.submit(operation, as: member, timeout: .seconds(30)) }
                }
            }
            try await warmups.waitForAll()
        }
        let start = NIODeadline.now()
        let measureFrom = start + .milliseconds(Int64(settings.warmupSeconds * 1000))
        let end = measureFrom + .milliseconds(Int64(settings.durationSeconds * 1000))
        // One recorder per thread, each driving the pools on its loop.
        let recorders = threads.map { _ in ClosedLoops(operation: operation, measureFrom: measureFrom, end: end) }
        let pids = cluster.measured.map(\.pid)
        async let cpuBefore: (processes: [Double], disk: [Double], machine: ProcessStats.MachineTicks?) = {
            try? await Task.sleep(for: .nanoseconds(max(0, (measureFrom - NIODeadline.now()).nanoseconds)))
            return (pids.map { ProcessStats.cpuSeconds(pid: $0) }, pids.map { ProcessStats.diskBytesWritten(pid: $0) },
                    ProcessStats.machineTicks())
        }()
        let ticker = Task { await ClosedLoops.showProgress(recorders) }
        let latencies = try await withThrowingTaskGroup(of: [UInt64].self) { running in
            for (index, recorder) in recorders.enumerated() {
                let mine = pools.enumerated().filter { $0.offset % threads.count == index }.map(\.element)
                running.addTask { try await recorder.run(mine, on: threads[index]) }
            }
            return try await running.reduce(into: []) { $0 += $1 }
        }
        ticker.cancel()
        FileHandle.standardError.write(Data("\r".utf8))
        let cpuAfter = cluster.measured.map { ProcessStats.cpuSeconds(pid: $0.pid) }
        let diskAfter = cluster.measured.map { ProcessStats.diskBytesWritten(pid: $0.pid) }
        let machineAfter = ProcessStats.machineTicks()
        let (before, diskBefore, machineBefore) = await cpuBefore
        let memory = cluster.measured.map { ProcessStats.peakMemoryMegabytes(pid: $0.pid) }
        let (views, meanBatch, syncsPerBatch) = cluster.replicaFigures()
        var (retransmissions, commitPath, certificates, resent) = (0, 0, 0, 0)
        for pool in pools {
            let counts = try await pool.loop.submit {
                (pool.retransmissions, pool.commitPathCompletions, pool.certificatesSent, pool.certificatesResent)
            }.get()
            retransmissions += counts.0
            commitPath += counts.1
            certificates += counts.2
            resent += counts.3
        }
        for pool in pools { await pool.close() }
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        for latency in latencies { histogram.record(latency) }
        let completed = latencies.count
        var figures: [LoadReport.ProcessFigures] = []
        for (index, process) in cluster.measured.enumerated() {
            let cpu = (cpuAfter[index] - before[index]) * 1_000_000 / Double(max(1, completed))
            let disk = (diskAfter[index] - diskBefore[index]) / Double(max(1, completed))
            figures.append(.init(name: process.name, cpuMicrosecondsPerOperation: cpu, peakMemoryMegabytes: memory[index],
                                 diskBytesPerOperation: disk))
        }
        var percentiles: [String: Double] = [:]
        for (name, value) in [("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9)] {
            percentiles[name] = Double(histogram.valueAtPercentile(value))
        }
        return LoadReport(
            settings: settings, completed: completed,
            failed: recorders.reduce(0) { $0 + $1.failed.load(ordering: .relaxed) },
            retransmissions: retransmissions, commitPathCompletions: commitPath, commitCertificatesSent: certificates,
            commitCertificatesResent: resent,
            operationsPerSecond: Double(completed) / settings.durationSeconds, latencyMicroseconds: percentiles,
            processes: figures, viewChanges: views, meanBatch: meanBatch, syncsPerBatch: syncsPerBatch,
            stealPercent: machineBefore.flatMap { from in machineAfter.map { $0.stealPercent(since: from) } },
            idlePercent: machineBefore.flatMap { from in machineAfter.map { $0.idlePercent(since: from) } })
    }
}

/// The closed loops: each identity submits its next request from the previous one's completion, on the pools'
/// event loop (no thread hop per request); latencies of requests sent and completed inside the measured interval
/// are kept. State other than the atomics is touched only on that loop.
final class ClosedLoops: @unchecked Sendable {
    let operation: [UInt8]
    let measureFrom: NIODeadline
    let end: NIODeadline
    let completed = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    private var latencies: [UInt64] = []
    private var running = 0
    private var finished: EventLoopPromise<[UInt64]>?

    init(operation: [UInt8], measureFrom: NIODeadline, end: NIODeadline) {
        self.operation = operation
        self.measureFrom = measureFrom
        self.end = end
    }

    func run(_ pools: [BFTClientPool], on loop: EventLoop) async throws -> [UInt64] {
        let me = UnsafeTransfer(self)
        return try await loop.flatSubmit {
            let loops = me.value
            let promise = loop.makePromise(of: [UInt64].self)
            loops.finished = promise
            for pool in pools {
                for member in pool.ids.indices {
                    loops.running += 1
                    loops.next(pool, member)
                }
            }
            return promise.futureResult
        }.get()
    }

    private func next(_ pool: BFTClientPool, _ member: Int) {
        let sent = NIODeadline.now()
        guard sent < end else {
            running -= 1
            if running == 0 { finished?.succeed(latencies) }
            return
        }
        pool.submit(operation, as: member) { [self] result in
            let now = NIODeadline.now()
            switch result {
            case .success:
                if sent >= measureFrom, now <= end {
                    latencies.append(UInt64((now - sent).nanoseconds / 1000))
                    completed.add(1, ordering: .relaxed)
                }
            case .failure: failed.add(1, ordering: .relaxed)
            }
            next(pool, member)
        }
    }

    /// A progress line on standard error, once a second, over all recorders.
    static func showProgress(_ recorders: [ClosedLoops]) async {
        guard let measureFrom = recorders.first?.measureFrom, let end = recorders.first?.end else { return }
        while NIODeadline.now() < end {
            try? await Task.sleep(for: .seconds(1))
            if Task.isCancelled { return }
            let done = recorders.reduce(0) { $0 + $1.completed.load(ordering: .relaxed) }
            let elapsed = max(0.5, Double((NIODeadline.now() - measureFrom).nanoseconds) / 1e9)
            let phase = NIODeadline.now() < measureFrom ? "warming up" : "\(Int(Double(done) / elapsed)) ops/s so far"
            FileHandle.standardError.write(Data("\r  \(phase), \(done) measured   ".utf8))
        }
    }
}
