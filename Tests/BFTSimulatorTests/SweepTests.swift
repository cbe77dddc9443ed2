import BFTCore
import BFTCrypto
import BFTSimulator
import Testing

@Suite("Simulator sweeps")
struct SweepTests {
    static func faultyNetwork() -> SimulationOptions {
        var options = SimulationOptions()
        options.requestsPerClient = 10
        options.loss = 0.05
        options.duplication = 0.05
        options.partitions = true
        return options
    }

    static var realCrypto: RealCryptoFactory {
        RealCryptoFactory(
        makeSuite: { SodiumCryptoSuite() },
        makeSigner: { Ed25519Signer.deterministic(identity: $0) })
    }

    @Test("a fault-free run completes every request with no violation")
    func faultFree() throws {
        let result = try Simulation(seed: 1, options: SimulationOptions()).run()
        #expect(result.passed, "\(result.report)")
        #expect(result.stats.completedRequests == result.requests)
    }

    @Test("200 seeds with loss, duplication, reordering and partitions sparing the primary: no violation")
    func faultySweep() throws {
        var failures: [String] = []
        var completed = 0
        for seed in UInt64(1)...200 {
            let result = try Simulation(seed: seed, options: Self.faultyNetwork()).run()
            completed += result.stats.completedRequests
            if !result.passed { failures.append(result.report) }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        #expect(completed == 200 * 40)
    }

    @Test("10 seeds of the same faults with the real Ed25519 and SHA-256 suite: no violation")
    func realCryptoSweep() throws {
        var options = Self.faultyNetwork()
        options.realCrypto = Self.realCrypto
        for seed in UInt64(1001)...1010 {
            let result = try Simulation(seed: seed, options: options).run()
            #expect(result.passed, "\(result.report)")
            #expect(result.stats.completedRequests == result.requests)
        }
    }

    @Test("the same seed reproduces the same run exactly")
    func determinism() throws {
        let a = try Simulation(seed: 77, options: Self.faultyNetwork()).run()
        let b = try Simulation(seed: 77, options: Self.faultyNetwork()).run()
        #expect(a.stats.delivered == b.stats.delivered && a.stats.dropped == b.stats.dropped)
        #expect(a.virtualTime == b.virtualTime)
        #expect(a.trace == b.trace)
    }

    @Test("a long run keeps memory flat: after 100,000 requests a replica holds at most the watermark window")
    func memoryStaysFlat() throws {
        var options = SimulationOptions()
        options.clients = 100
        options.requestsPerClient = 1_000
        options.keys = 64
        let simulation = try Simulation(seed: 5, options: options)
        let result = simulation.run()
        #expect(result.stats.completedRequests == 100_000, "\(result.report)")
        let replicaOptions = options.replicaOptions
        for replica in simulation.configuration.replicas {
            let status = simulation.status(of: replica)
            #expect(status.lastExecuted.rawValue > 2 * replicaOptions.logWindow, "the run must pass several windows")
            #expect(status.logEntries <= Int(replicaOptions.logWindow))
            #expect(status.checkpointsHeld <= Int(replicaOptions.logWindow / replicaOptions.checkpointInterval))
            #expect(status.lowWatermark.rawValue + replicaOptions.logWindow + replicaOptions.checkpointInterval
                    > status.lastExecuted.rawValue)
            #expect(status.replyTableEntries <= options.clients)
            #expect(status.pendingRequests <= options.clients)
        }
    }
}
