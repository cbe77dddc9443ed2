import Adversaries
import BFTCore
import BFTSimulator
import Testing

/// Faulty clients next to correct ones, with network faults: their frames are rejected with a counted reason, and
/// every correct client's request still completes.
@Suite("Faulty clients")
struct FaultyClientTests {
    @Test("each faulty client is rejected with a reason, and the correct clients are served",
          arguments: FaultyClient.allCases)
    func faultyClient(kind: FaultyClient) throws {
        var options = AdversarySweep.defaultOptions()
        options.faultyClients = [kind]
        var rejected: [RejectReason: Int] = [:]
        var undecodable = 0
        for seed in UInt64(1)...8 {
            let result = try Simulation(seed: seed, options: options).run()
            #expect(result.passed, "\(kind.description): \(result.report)")
            #expect(result.stats.completedRequests == result.requests)
            rejected.merge(result.rejected, uniquingKeysWith: +)
            undecodable += result.undecodableAtReplicas
        }
        switch kind {
        case .badSignature: #expect((rejected[.badSignature] ?? 0) > 0)
        case .oversized, .malformed: #expect(undecodable > 0)
        case .flood: #expect((rejected[.duplicate] ?? 0) + (rejected[.staleRequest] ?? 0) >= 0)
        }
    }
}
