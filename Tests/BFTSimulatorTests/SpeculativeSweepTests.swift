import Adversaries
import BFTCore
import BFTSimulator
import Testing

/// The speculative protocol under the same faults as PBFT: the whole nemesis, and every behaviour of the adversary
/// catalog with network faults. Safety (including no rollback of anything a client saw complete) must hold, and
/// every request must complete within the bound after the heal.
@Suite("Zyzzyva sweeps")
struct SpeculativeSweepTests {
    @Test("120 seeds, n = 4, every fault of the nemesis: no violation, and live within 10 s after the heal")
    func nemesis() throws {
        var options = NemesisSweepTests.nemesis()
        options.replication = .zyzzyva
        let (totals, failures) = try NemesisSweepTests.sweep(1...120, options)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        #expect(totals.completedRequests == 120 * options.clients * options.requestsPerClient)
        // The sweep exercises what it claims to: both completion paths, view changes, rollbacks, state transfers.
        #expect(totals.fastCompletions > 0 && totals.fastCompletions < totals.completedRequests)
        let counts = "crashes \(totals.crashes), view changes \(totals.viewChanges), transfers \(totals.stateTransfers), "
            + "rollbacks \(totals.rollbacks)"
        #expect(totals.crashes > 100 && totals.viewChanges > 50 && totals.stateTransfers > 20 && totals.rollbacks > 0,
                "\(counts)")
    }

    @Test("n = 4, one Byzantine replica with network faults, the whole catalog: no violation, live after the heal",
          arguments: AdversaryCatalog.names)
    func catalog(name: String) throws {
        var options = AdversarySweep.defaultOptions()
        options.replication = .zyzzyva
        let entry = try #require(AdversaryCatalog.named(name))
        let outcome = try AdversarySweep(options: options, faulty: 1).run(entry, seeds: 1...16)
        #expect(outcome.safetyViolations == 0 && outcome.livenessFailures == 0,
                "\(outcome.reports.joined(separator: "\n"))")
        #expect(outcome.completed == 16 * options.clients * options.requestsPerClient)
    }

    @Test("n = 7, two Byzantine replicas: no safety violation", arguments: ["equivocating-primary", "view-change-liar",
                                                                          "mutator", "silent"])
    func sevenReplicas(name: String) throws {
        var options = AdversarySweep.defaultOptions(replicas: 7)
        options.replication = .zyzzyva
        let entry = try #require(AdversaryCatalog.named(name))
        let outcome = try AdversarySweep(options: options, faulty: 2).run(entry, seeds: 1...6)
        #expect(outcome.safetyViolations == 0, "\(outcome.reports.joined(separator: "\n"))")
    }

    @Test("5 seeds of the whole nemesis with the real Ed25519 and SHA-256 suite: no violation")
    func realCrypto() throws {
        var options = NemesisSweepTests.nemesis()
        options.replication = .zyzzyva
        options.realCrypto = SweepTests.realCrypto
        let (_, failures) = try NemesisSweepTests.sweep(1...5, options)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }
}
