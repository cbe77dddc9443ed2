import ArgumentParser

@main
struct BFTBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bftbench",
        abstract: "Benchmarks for the BFT replication framework. Every command prints its settings and its figures.",
        subcommands: [CryptoBench.self, RecoveryBench.self, ProtocolBench.self]
    )
}
