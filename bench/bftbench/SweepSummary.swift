import BFTCore

/// The sweep's tables, its comparison lines against issue 8's targets, and its two charts.
struct SweepSummary {
    let load: [LoadReport]
    let attacked: [LoadReport]
    let protocols: [ReplicationProtocol]
    /// Every load run, by round (one round: `load` itself).
    var rounds: [[LoadReport]] = []

    /// Each setting's median run by throughput (of an odd count the middle one, of an even count the lower
    /// middle), in the order the settings first appear.
    static func medians(_ runs: [LoadReport]) -> [LoadReport] {
        var order: [String] = []
        var bySetting: [String: [LoadReport]] = [:]
        for run in runs {
            let s = run.settings
            let key = "\(s.replication) \(s.batch) \(s.clients) \(s.adversary ?? "none")"
            if bySetting[key] == nil { order.append(key) }
            bySetting[key, default: []].append(run)
        }
        return order.compactMap { key in
            let sorted = (bySetting[key] ?? []).sorted { $0.operationsPerSecond < $1.operationsPerSecond }
            return sorted.isEmpty ? nil : sorted[(sorted.count - 1) / 2]
        }
    }

    var text: String {
        var lines = ["load grid (fault-free)", row("protocol", "auth", "batch", "clients", "ops/s", "p50 ms", "p99 ms", "requests/batch", "steal %")]
        for report in load {
            let s = report.settings
            lines.append(row(
                "\(s.replication)", s.authentication, "\(s.batch)", "\(s.clients)", "\(Int(report.operationsPerSecond))",
                milliseconds(report, "p50"), milliseconds(report, "p99"), report.meanBatch.map(LoadReport.format) ?? "?",
                report.stealPercent.map(LoadReport.format) ?? "?"))
        }
        lines.append("")
        lines += comparison()
        if !attacked.isEmpty {
            lines.append("")
            lines += attackTable()
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private func comparison() -> [String] {
        var lines = ["comparison"]
        let batchSizes = Array(Set(load.map(\.settings.batch))).sorted()
        func best(_ replication: ReplicationProtocol, batch: Int?) -> LoadReport? {
            load.filter { $0.settings.replication == replication && (batch == nil || $0.settings.batch == batch) }
                .max { $0.operationsPerSecond < $1.operationsPerSecond }
        }
        let groups: [(String, Int?)] = batchSizes.map { ("batch \($0)", $0) } + [("best batch", nil)]
        for (name, batch) in groups {
            let bests = protocols.map { best($0, batch: batch) }
            var line = "  highest throughput, \(name):"
            for (replication, report) in zip(protocols, bests) {
                guard let report else { continue }
                line += " \(replication) \(Int(report.operationsPerSecond)) ops/s (batch \(report.settings.batch), "
                    + "\(report.settings.clients) clients);"
            }
            if bests.count == 2, let a = bests[0], let b = bests[1], a.operationsPerSecond > 0 {
                line += " \(protocols[1])/\(protocols[0]) = \(LoadReport.ratio(b.operationsPerSecond / a.operationsPerSecond))"
            }
            lines.append(line)
        }
        if rounds.count > 1, protocols.count == 2 {
            // Each round's best of each protocol: runs minutes apart at most, so the ratio does not ride on drift.
            let ratios = rounds.map { runs -> String in
                let bests = protocols.map { replication in
                    runs.filter { $0.settings.replication == replication }.map(\.operationsPerSecond).max() ?? 0
                }
                return bests[0] > 0 ? LoadReport.ratio(bests[1] / bests[0]) : "?"
            }
            lines.append("  \(protocols[1])/\(protocols[0]) at the best batch, round by round: "
                + ratios.joined(separator: ", ") + " (the lines above use each setting's median run)")
        }
        let lowest = load.map(\.settings.clients).min() ?? 1
        var line = "  p50 latency at \(lowest) client(s), best of the batch sizes:"
        for replication in protocols {
            let p50 = load.filter { $0.settings.replication == replication && $0.settings.clients == lowest }
                .compactMap { $0.latencyMicroseconds["p50"] }.min()
            if let p50 { line += " \(replication) \(LoadReport.format(p50 / 1000)) ms;" }
        }
        lines.append(line)
        return lines
    }

    private func attackTable() -> [String] {
        let s = attacked[0].settings
        var lines = [
            "under attack (one faulty replica of 4, \(s.clients) clients, batch \(s.batch)): ops/s and share of fault-free",
            row(["behaviour"] + protocols.map { "\($0)" }),
        ]
        for name in attackNames {
            var cells = [name]
            for replication in protocols {
                guard let report = attackReport(replication, name) else {
                    cells.append("-")
                    continue
                }
                let base = attackReport(replication, "none")?.operationsPerSecond ?? 0
                let share = base > 0 ? " (\(LoadReport.ratio(report.operationsPerSecond / base)))" : ""
                let stolen = (report.stealPercent ?? 0) > Self.stealLimit ? " *" : ""
                cells.append("\(Int(report.operationsPerSecond))\(share)\(stolen)")
            }
            lines.append(row(cells))
        }
        if attacked.contains(where: { ($0.stealPercent ?? 0) > Self.stealLimit }) {
            lines.append("* the host stole more than \(Int(Self.stealLimit)) % of the CPU during that run: not comparable")
        }
        return lines
    }

    /// Host steal (percent of CPU time) above which a run's figures are flagged as not comparable.
    static let stealLimit = 10.0

    private var attackNames: [String] {
        var names: [String] = []
        for report in attacked where !names.contains(report.settings.adversary ?? "none") {
            names.append(report.settings.adversary ?? "none")
        }
        return names
    }

    private func attackReport(_ replication: ReplicationProtocol, _ name: String) -> LoadReport? {
        attacked.first { $0.settings.replication == replication && ($0.settings.adversary ?? "none") == name }
    }

    private func milliseconds(_ report: LoadReport, _ percentile: String) -> String {
        LoadReport.format((report.latencyMicroseconds[percentile] ?? 0) / 1000)
    }

    private func row(_ cells: String...) -> String { row(cells) }

    private func row(_ cells: [String]) -> String {
        cells.enumerated().map { $0.offset == 0 ? $0.element.padding(toLength: 22, withPad: " ", startingAt: 0)
            : $0.element.padding(toLength: 16, withPad: " ", startingAt: 0) }.joined()
    }

    // MARK: Charts

    static func curves(_ load: [LoadReport], protocols: [ReplicationProtocol], batches: [Int], auth: String) -> String {
        var series: [SVGPlot.Series] = []
        for replication in protocols {
            for batch in batches {
                let runs = load.filter { $0.settings.replication == replication && $0.settings.batch == batch }
                    .sorted { $0.settings.clients < $1.settings.clients }
                guard !runs.isEmpty else { continue }
                series.append(.init(
                    name: "\(replication), batch \(batch)",
                    points: runs.map { ($0.operationsPerSecond, ($0.latencyMicroseconds["p50"] ?? 0) / 1000) }))
            }
        }
        return SVGPlot.lines(
            title: "Throughput and median latency, n = 4, null operations, \(auth) (load: closed-loop clients)",
            xLabel: "throughput (operations/s)", yLabel: "p50 latency (ms)", series: series)
    }

    static func attackBars(_ attacked: [LoadReport], protocols: [ReplicationProtocol], attacks: [String]) -> String {
        let series = protocols.map { replication in
            SVGPlot.Series(
                name: "\(replication)",
                points: attacks.enumerated().map { index, name in
                    let report = attacked.first {
                        $0.settings.replication == replication && ($0.settings.adversary ?? "none") == name
                    }
                    return (Double(index), report?.operationsPerSecond ?? 0)
                })
        }
        let s = attacked[0].settings
        return SVGPlot.bars(
            title: "Throughput with one faulty replica (n = 4, \(s.clients) clients, batch \(s.batch))",
            yLabel: "operations/s", categories: attacks.map { $0 == "none" ? "fault-free" : $0 }, series: series)
    }
}
