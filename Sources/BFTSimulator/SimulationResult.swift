import BFTCore

/// The outcome of one run: the invariants violated (none, one hopes), figures, and how to reproduce it.
public struct SimulationResult: Sendable {
    public let seed: UInt64
    public let flags: String
    public let violations: [Violation]
    public let stats: SimulationStats
    public let virtualTime: UInt64
    public let requests: Int
    public let trace: [String]
    public let rejected: [RejectReason: Int]
    /// Frames the replicas' hosts could not decode (since their last restart).
    public let undecodableAtReplicas: Int

    init(simulation: Simulation, violations: [Violation]) {
        seed = simulation.seed
        flags = simulation.options.flags
        self.violations = violations
        stats = simulation.stats
        virtualTime = simulation.time
        requests = simulation.options.clients * simulation.options.requestsPerClient
        trace = simulation.trace.lines()
        var rejected: [RejectReason: Int] = [:]
        for log in simulation.logs { rejected.merge(log.rejected, uniquingKeysWith: +) }
        self.rejected = rejected
        undecodableAtReplicas = simulation.hosts.reduce(0) { $0 + $1.counters.undecodable }
    }

    public var passed: Bool { violations.isEmpty }

    public var reproduce: String { "bftsim --seed \(seed) \(flags)" }

    /// Several lines: the outcome, and on a violation the violated invariants, a short trace and the reproduction.
    public var report: String {
        var lines = [
            "seed \(seed): \(passed ? "ok" : "VIOLATION") — \(stats.completedRequests)/\(requests) requests completed, "
                + "\(stats.delivered) messages delivered, \(stats.dropped) dropped, virtual time "
                + "\(virtualTime / 1000) ms"
        ]
        if !passed {
            for violation in violations.prefix(10) { lines.append("  violated \(violation)") }
            if violations.count > 10 { lines.append("  … and \(violations.count - 10) more") }
            let reasons = rejected.sorted { ($0.value, $0.key.rawValue) > ($1.value, $1.key.rawValue) }
            lines.append("  rejected: " + reasons.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", "))
            lines.append("  last messages delivered:")
            lines += trace.map { "    \($0)" }
            lines.append("  reproduce with: \(reproduce)")
        }
        return lines.joined(separator: "\n")
    }
}

/// The last few deliveries, decoded only when a report needs them.
struct TraceBuffer {
    private var entries: [(time: UInt64, from: Node, to: Node, frame: [UInt8])] = []
    private var next = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    mutating func record(time: UInt64, from: Node, to: Node, frame: [UInt8]) {
        if entries.count < capacity {
            entries.append((time, from, to, frame))
        } else {
            entries[next] = (time, from, to, frame)
        }
        next = (next + 1) % capacity
    }

    func lines() -> [String] {
        let ordered = entries.count < capacity ? entries : Array(entries[next...] + entries[..<next])
        return ordered.map { entry in
            let what: String
            if let envelope = try? Envelope.decode(entry.frame) {
                what = Self.describe(envelope.message)
            } else {
                what = "undecodable frame of \(entry.frame.count) bytes"
            }
            return "\(entry.time / 1000).\(entry.time % 1000 / 100) ms \(entry.from) → \(entry.to): \(what)"
        }
    }

    static func describe(_ message: Message) -> String {
        switch message {
        case .request(let m): "request \(m.timestamp)"
        case .prePrepare(let m): "pre-prepare \(m.view) \(m.sequence) \(m.digest) (\(m.batch.count) requests)"
        case .prepare(let m): "prepare \(m.view) \(m.sequence) \(m.digest)"
        case .commit(let m): "commit \(m.view) \(m.sequence) \(m.digest)"
        case .reply(let m): "reply \(m.view) \(m.timestamp)"
        case .checkpoint(let m): "checkpoint \(m.sequence) \(m.stateDigest)"
        case .status(let m): "status \(m.view) executed \(m.lastExecuted) stable \(m.stableSequence)"
        default: message.kind.description
        }
    }
}
