import Adversaries
import ArgumentParser
import BFTCore
import BFTSimulator

/// `bftsim sweep`: each catalog behaviour on K replicas over a seed range, with network faults, against the same
/// seeds without it; prints one row per behaviour.
struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Runs Byzantine behaviours from the adversary catalog over many seeds and prints a table.",
        discussion: """
            Each behaviour runs on --faulty replicas (even seeds: replicas 0…, the first primary among them; odd \
            seeds: the last replicas), with 2 % loss, 2 % duplication, reordering and partitions (mostly of the \
            current primary, forcing view changes) before the heal. Columns: safety (seeds with a violated safety invariant), liveness (seeds where a request did \
            not complete within the bound after the heal), and throughput relative to the same seeds without the \
            behaviour. Exits 1 if any seed violated safety.

            Behaviours: \(AdversaryCatalog.names.joined(separator: ", ")).
            """
    )

    @Option(name: .customLong("protocol"), help: "Agreement protocol: pbft or zyzzyva.")
    var replication: ReplicationProtocol = .pbft
    @Option(help: "A behaviour's name, or 'all'.") var adversary = "all"
    @Option(help: "How many replicas run it (at most f).") var faulty = 1
    @Option(help: "Seeds A..B.") var seeds: SeedRange = SeedRange(argument: "1..100")!
    @Option(help: "Number of replicas n.") var replicas = 4
    @Option(help: "Requests per client.") var requests = 10
    @Flag(help: "Print a report for the first failing seeds of each behaviour.") var verbose = false

    func validate() throws {
        guard adversary == "all" || AdversaryCatalog.named(adversary) != nil else {
            throw ValidationError("unknown adversary '\(adversary)'; known: \(AdversaryCatalog.names.joined(separator: ", "))")
        }
        let configuration: Configuration
        do { configuration = try Configuration(replicas: replicas) } catch { throw ValidationError(error.description) }
        guard (1...configuration.faultTolerance).contains(faulty) else {
            throw ValidationError("--faulty must be between 1 and f = \(configuration.faultTolerance)")
        }
    }

    func run() throws {
        var options = AdversarySweep.defaultOptions(replicas: replicas)
        options.requestsPerClient = requests
        options.replication = replication
        let sweep = AdversarySweep(options: options, faulty: faulty)
        let entries = adversary == "all" ? AdversaryCatalog.all : AdversaryCatalog.named(adversary).map { [$0] } ?? []
        print("bftsim sweep: seeds \(seeds.range.lowerBound)...\(seeds.range.upperBound), n = \(replicas), "
            + "faulty = \(faulty), \(options.flags) --heal-ms \(options.healTime / 1000) "
            + "--liveness-ms \(options.livenessBound / 1000)")
        print("behaviour".padding(22) + "seeds".padding(7) + "safety".padding(8) + "liveness".padding(10)
            + "throughput vs fault-free")
        let clock = ContinuousClock()
        let start = clock.now
        var unsafe = false
        for entry in entries {
            let outcome = try sweep.run(entry, seeds: seeds.range)
            unsafe = unsafe || outcome.safetyViolations > 0
            let ratio = String(Double(Int(outcome.relativeThroughput * 100)) / 100)
            print(entry.name.padding(22) + "\(outcome.seeds)".padding(7) + "\(outcome.safetyViolations)".padding(8)
                + "\(outcome.livenessFailures)".padding(10) + ratio)
            if verbose { for report in outcome.reports { print(report) } }
            if !outcome.failingSeeds.isEmpty {
                print("  failing seeds: \(outcome.failingSeeds.prefix(20).map(String.init).joined(separator: " "))")
            }
        }
        print("wall time \(Run.format(Run.seconds(clock.now - start))) s")
        if unsafe { throw ExitCode(1) }
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
