import BFTCore
import BFTSimulator
import Testing

@Suite("Simulator sweeps")
struct SweepTests {
    @Test("a fault-free run completes every request with no violation")
    func faultFree() throws {
        let result = try Simulation(seed: 1, options: SimulationOptions()).run()
        #expect(result.passed, "\(result.report)")
        #expect(result.stats.completedRequests == result.requests)
    }
}
