import ArgumentParser

@main
struct BFTBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bftbench",
        abstract: "Benchmarks for the BFT replication framework. Every command prints its settings and its figures.",
        subcommands: [
            LoadBench.self, SweepBench.self, MicroBench.self, CryptoBench.self, RecoveryBench.self, ProtocolBench.self,
        ]
    )
}
