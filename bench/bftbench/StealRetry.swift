import ArgumentParser

/// Runs again while the hypervisor took too much of the machine: on a shared VM the host's steal swings from 0 to
/// 80 % within minutes, and a run under heavy steal measures the neighbours, not the code.
struct StealRetry: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Run again while the host's steal over the measured interval is above this percentage (up to "
                + "--attempts runs; the one with the least steal is reported)."))
    var maxSteal: Double?
    @Option(help: "Most runs of one setting under --max-steal.") var attempts = 3

    func validate() throws {
        guard maxSteal.map({ (0...100).contains($0) }) ?? true, (1...20).contains(attempts) else {
            throw ValidationError("--max-steal 0…100, --attempts 1…20")
        }
    }

    /// Measures `settings` until a run's steal is at most `maxSteal` (or steal is unknown), at most `attempts`
    /// times, saying why each discarded run was discarded; returns the qualifying run, else the least-stolen one.
    func measure(_ settings: LoadSettings, _ measure: (LoadSettings) async throws -> LoadReport) async throws
        -> LoadReport
    {
        let runs = maxSteal == nil ? 1 : attempts
        var least: LoadReport?
        for attempt in 1...runs {
            let report = try await measure(settings)
            guard let limit = maxSteal, let steal = report.stealPercent, steal > limit else { return report }
            if least.map({ ($0.stealPercent ?? 0) > steal }) ?? true { least = report }
            let next = attempt < runs ? "running it again" : "reporting the run with the least steal"
            print("  run \(attempt) of \(runs): \(LoadReport.format(steal)) % steal > \(LoadReport.format(limit)) %; \(next)")
            if attempt == runs, let least { return least }
        }
        throw BenchError("no run was measured")
    }
}
