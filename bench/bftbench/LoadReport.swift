import Foundation

/// What one run measured.
struct LoadReport: Codable, Sendable {
    struct ProcessFigures: Codable, Sendable {
        var name: String
        var cpuMicrosecondsPerOperation: Double
        var peakMemoryMegabytes: Double
        /// Bytes written to disk per operation over the measured interval (absent in runs recorded before it).
        var diskBytesPerOperation: Double?
    }
    var settings: LoadSettings
    var completed: Int
    var failed: Int
    /// Requests the clients sent again to every replica after a timeout (absent in runs recorded before pools).
    var retransmissions: Int?
    /// Zyzzyva: completions off the request's own fast path (by a certificate, or on a batch-mate's commit), over
    /// the whole run.
    var commitPathCompletions: Int?
    /// Zyzzyva: commit certificates the clients sent, over the whole run (absent in runs recorded before they were
    /// shared per batch).
    var commitCertificatesSent: Int?
    /// Zyzzyva: certificates sent again to replicas that had not answered (absent in runs recorded before they
    /// were counted apart; earlier `commitCertificatesSent` included them).
    var commitCertificatesResent: Int?
    var operationsPerSecond: Double
    var latencyMicroseconds: [String: Double]
    var processes: [ProcessFigures]
    var viewChanges: UInt64
    /// Requests per sequence number at replica 0 over the whole run (processes only).
    var meanBatch: Double?
    /// Each replica's `fdatasync` calls per sequence number executed, over the whole run (processes only; absent in
    /// runs recorded before it).
    var syncsPerBatch: [Double]?
    /// Share of the machine's CPU time the hypervisor gave to other guests during the measured interval (steal in
    /// /proc/stat), in percent: on a shared VM the figures above are only comparable between runs with similar steal.
    var stealPercent: Double?
    /// Share of the machine's CPU time that was idle (idle + iowait in /proc/stat) during the measured interval, in
    /// percent: capacity the pipeline left unused (absent in runs recorded before it).
    var idlePercent: Double?

    var table: String {
        let latency = ["p50", "p90", "p99", "p99.9"].map { "\($0) \(Self.format(latencyMicroseconds[$0] ?? 0 / 1))" }
        var lines = [
            "throughput  \(Int(operationsPerSecond)) operations/s (\(completed) completed, \(failed) failed, "
                + "\(retransmissions ?? 0) retransmitted)",
            "latency µs  " + latency.joined(separator: "  "),
            "views       \(viewChanges) view change(s)",
            "slow path   \(commitPathCompletions ?? 0) completion(s) off the fast path, "
                + "\(commitCertificatesSent ?? 0) certificate(s) sent, \(commitCertificatesResent ?? 0) resent "
                + "(zyzzyva; whole run)",
        ]
        if let meanBatch { lines.append("batches     \(Self.format(meanBatch)) requests per batch (replica 0, whole run)") }
        if let syncsPerBatch {
            let figures = syncsPerBatch.enumerated().map { "replica \($0.offset) \(Double(Int(($0.element * 100).rounded())) / 100)" }
            lines.append("syncs       fdatasyncs per batch (whole run): " + figures.joined(separator: ", "))
        }
        if let stealPercent {
            let idle = idlePercent.map { ", \(Self.format($0)) % idle" } ?? ""
            lines.append("machine     \(Self.format(stealPercent)) % of CPU time stolen by the host\(idle) while measuring")
        }
        for process in processes {
            let disk = process.diskBytesPerOperation.map { "\(Int($0)) B to disk/op, " } ?? ""
            lines.append("  \(process.name): \(Self.format(process.cpuMicrosecondsPerOperation)) µs CPU/op, \(disk)"
                + "peak memory \(Self.format(process.peakMemoryMegabytes)) MB")
        }
        return lines.joined(separator: "\n")
    }

    static let csvHeader = "protocol,replicas,clients,outstanding,connections,request_bytes,reply_bytes,batch,"
        + "batch_timeout_ms,"
        + "auth,adversary,cluster,ops_per_s,p50_us,p90_us,p99_us,p999_us,view_changes,failed,mean_batch,steal_pct,idle_pct,"
        + "client_threads"

    var csvRow: String {
        let s = settings
        let fields: [String] = [
            s.replication.rawValue, "\(s.replicas)", "\(s.clients)", "\(s.outstanding)",
            s.connections.map(String.init) ?? "", "\(s.requestBytes)",
            "\(s.replyBytes)", "\(s.batch)", "\(s.tickMilliseconds)", s.authentication, s.adversary ?? "none",
            s.inProcess ? "in-process" : "processes", Self.format(operationsPerSecond),
        ] + ["p50", "p90", "p99", "p99.9"].map { Self.format(latencyMicroseconds[$0] ?? 0) }
            + ["\(viewChanges)", "\(failed)", meanBatch.map(Self.format) ?? "", stealPercent.map(Self.format) ?? "",
                idlePercent.map(Self.format) ?? "", "\(s.clientThreads ?? 1)"]
        return fields.joined(separator: ",")
    }

    static func format(_ value: Double) -> String { String(Double(Int((value * 10).rounded())) / 10) }

    /// A ratio or share to two decimals (one decimal hides the differences the targets are about: 0.75 against 0.84).
    static func ratio(_ value: Double) -> String { String(Double(Int((value * 100).rounded())) / 100) }
}
