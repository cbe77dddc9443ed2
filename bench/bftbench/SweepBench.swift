import Adversaries
import ArgumentParser
import BFTCore
import Foundation

/// A grid of load runs: PBFT against the speculative path over growing load and batch sizes, then under each
/// attack; writes every run as CSV and JSON, a summary, and two SVG charts.
struct SweepBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "PBFT against the speculative path: throughput-latency curves and throughput under each attack.",
        discussion: """
            First the load grid: every batch size × client count × protocol, fault-free. Then the attack grid: \
            every protocol with one faulty replica running each catalog behaviour (and fault-free, for \
            reference) at --attack-clients and --attack-batch. The protocols alternate within each setting, so \
            the two runs compared are seconds apart and a host that drifts over the sweep moves both alike; \
            --rounds R walks each grid R times and reports each setting's median run, with the protocols' \
            ratio in every round. Every run is a 'bftbench run' (see its help) against real bftreplica \
            processes. Writes into --out: runs.csv and runs.json (every run), summary.txt (also printed), \
            throughput-latency.svg and attacks.svg. Build with -c release for meaningful figures.

            Example (about 8 minutes with the defaults):
              swift run -c release bftbench sweep --out bench-results
            """
    )

    @Option(help: "Protocols, comma-separated.") var protocols = "pbft,zyzzyva"
    @Option(help: "Client authentication for every run: signatures, macs or signed-requests.") var auth = "macs"
    @Option(help: "Client counts of the load grid, comma-separated (each client one closed loop).")
    var clients = "1,4,16,64"
    @Option(help: "Batch sizes of the load grid, comma-separated.") var batches = "1,64"
    @Option(help: ArgumentHelp("Attacks: 'all' (fault-free and every catalog behaviour), 'skip', or a "
        + "comma-separated list where 'none' is the fault-free run."))
    var attacks = "all"
    @Option(help: "Clients in the attack grid.") var attackClients = 16
    @Option(help: "Batch size in the attack grid.") var attackBatch = 64
    @Option(help: "Connections per replica the clients share in every run (at most the client count).")
    var connections = 1
    @Option(help: "Event-loop threads the connections are spread over in every run (at most the connections).")
    var clientThreads = 1
    @Option(help: "Request and reply payload bytes.") var payloadBytes = 0
    @Option(help: "Seconds of warm-up per run.") var warmup = 1.0
    @Option(help: "Seconds measured per run.") var duration = 5.0
    @Option(help: ArgumentHelp("Times each grid is run; summary and charts take each setting's median run "
        + "(by throughput), and the comparison gives the protocols' ratio in each round."))
    var rounds = 1
    @Option(help: "Directory for the results (created; existing files are replaced).") var out = "bench-results"
    @OptionGroup var steal: StealRetry
    @Flag(help: ArgumentHelp("Run nothing: rewrite summary.txt and the charts from --out's runs.json (a sweep made "
        + "with the same grid options)."))
    var replot = false

    func validate() throws {
        guard ClientAuthentication(rawValue: auth) != nil else { throw ValidationError("--auth: signatures, macs or signed-requests") }
        guard !protocolList.isEmpty, protocolList.count == list(protocols).count else {
            throw ValidationError("--protocols: pbft and/or zyzzyva")
        }
        guard !clientCounts.isEmpty, !batchSizes.isEmpty else { throw ValidationError("--clients and --batches need numbers") }
        for name in attackList where name != "none" && AdversaryCatalog.named(name) == nil {
            throw ValidationError("--attacks: unknown behaviour '\(name)' (see 'bftreplica run --help')")
        }
        guard duration > 0, warmup >= 0, attackClients > 0, attackBatch > 0, connections > 0,
            (1...16).contains(clientThreads) else {
            throw ValidationError("durations and counts must be positive, --client-threads 1…16")
        }
        guard (1...10).contains(rounds) else { throw ValidationError("--rounds 1…10") }
    }

    private func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
    private var protocolList: [ReplicationProtocol] { list(protocols).compactMap(ReplicationProtocol.init(rawValue:)) }
    private var clientCounts: [Int] { list(clients).compactMap(Int.init).filter { $0 > 0 } }
    private var batchSizes: [Int] { list(batches).compactMap(Int.init).filter { $0 > 0 } }
    private var attackList: [String] {
        switch attacks {
        case "skip": []
        case "all": ["none"] + AdversaryCatalog.names
        default: list(attacks)
        }
    }

    private func settings(_ replication: ReplicationProtocol, clients: Int, batch: Int, adversary: String?)
        -> LoadSettings
    {
        LoadSettings(
            replication: replication, replicas: 4, clients: clients, outstanding: 1,
            connections: min(connections, clients), clientThreads: min(clientThreads, connections, clients),
            requestBytes: payloadBytes,
            replyBytes: payloadBytes, batch: batch, tickMilliseconds: 10, authentication: auth, adversary: adversary,
            sync: "batch", inProcess: false, warmupSeconds: warmup, durationSeconds: duration)
    }

    func run() async throws {
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        // The protocols alternate within each setting: host drift over the sweep cannot decide their comparison.
        var grid: [LoadSettings] = []
        for batch in batchSizes {
            for count in clientCounts {
                for replication in protocolList {
                    grid.append(settings(replication, clients: count, batch: batch, adversary: nil))
                }
            }
        }
        var attackGrid: [LoadSettings] = []
        for name in attackList {
            for replication in protocolList {
                attackGrid.append(settings(
                    replication, clients: attackClients, batch: attackBatch, adversary: name == "none" ? nil : name))
            }
        }
        if replot {
            let runs = try JSONDecoder().decode([LoadReport].self, from: Data(contentsOf: URL(fileURLWithPath: "\(out)/runs.json")))
            let expected = (grid.count + attackGrid.count) * rounds
            guard runs.count == expected else {
                throw ValidationError("\(out)/runs.json holds \(runs.count) runs, this grid and --rounds make \(expected)")
            }
            return try write(Array(runs.prefix(grid.count * rounds)), Array(runs.dropFirst(grid.count * rounds)))
        }
        print("bftbench sweep: \(grid.count) load runs and \(attackGrid.count) attack runs of \(warmup)+\(duration) s, "
            + "\(rounds) round(s); auth=\(auth) payload=\(payloadBytes)B n=4 tick=10ms; results in \(out)/")
        var loadReports: [LoadReport] = []
        for round in 1...rounds {
            for (index, settings) in grid.enumerated() {
                loadReports.append(try await measure(settings, "\(roundLabel(round))\(index + 1)/\(grid.count)"))
            }
        }
        var attackReports: [LoadReport] = []
        for round in 1...rounds {
            for (index, settings) in attackGrid.enumerated() {
                attackReports.append(try await measure(
                    settings, "\(roundLabel(round))attack \(index + 1)/\(attackGrid.count)"))
            }
        }
        try write(loadReports, attackReports)
    }

    private func roundLabel(_ round: Int) -> String { rounds > 1 ? "round \(round)/\(rounds) " : "" }

    private func measure(_ settings: LoadSettings, _ position: String) async throws -> LoadReport {
        let report = try await steal.measure(settings, LoadRun.measure)
        let p50 = LoadReport.format((report.latencyMicroseconds["p50"] ?? 0) / 1000)
        let p99 = LoadReport.format((report.latencyMicroseconds["p99"] ?? 0) / 1000)
        print("  [\(position)] \(settings.replication) batch=\(settings.batch) clients=\(settings.clients) "
            + "adversary=\(settings.adversary ?? "none"): \(Int(report.operationsPerSecond)) ops/s, "
            + "p50 \(p50) ms, p99 \(p99) ms, batches \(report.meanBatch.map(LoadReport.format) ?? "?"), "
            + "view changes \(report.viewChanges), host steal \(report.stealPercent.map(LoadReport.format) ?? "?") %")
        fflush(nil)  // one line per run as it ends, also when the output goes to a file
        return report
    }

    /// Every run of `rounds` rounds (load runs, then attack runs, each in grid order per round).
    private func write(_ loadRuns: [LoadReport], _ attackRuns: [LoadReport]) throws {
        let all = loadRuns + attackRuns
        let load = SweepSummary.medians(loadRuns)
        let attacked = SweepSummary.medians(attackRuns)
        let perRound = loadRuns.count / rounds
        let roundsOfLoad = (0..<rounds).map { Array(loadRuns[($0 * perRound)..<(($0 + 1) * perRound)]) }
        let csv = ([LoadReport.csvHeader] + all.map(\.csvRow)).joined(separator: "\n") + "\n"
        try csv.write(toFile: "\(out)/runs.csv", atomically: true, encoding: .utf8)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(all).write(to: URL(fileURLWithPath: "\(out)/runs.json"))
        let summary = SweepSummary(load: load, attacked: attacked, protocols: protocolList, rounds: roundsOfLoad).text
        try summary.write(toFile: "\(out)/summary.txt", atomically: true, encoding: .utf8)
        print(summary)
        try SweepSummary.curves(load, protocols: protocolList, batches: batchSizes, auth: auth)
            .write(toFile: "\(out)/throughput-latency.svg", atomically: true, encoding: .utf8)
        if !attacked.isEmpty {
            try SweepSummary.attackBars(attacked, protocols: protocolList, attacks: attackList)
                .write(toFile: "\(out)/attacks.svg", atomically: true, encoding: .utf8)
        }
        print("wrote \(out)/runs.csv, runs.json, summary.txt, throughput-latency.svg"
            + (attacked.isEmpty ? "" : ", attacks.svg"))
    }
}
