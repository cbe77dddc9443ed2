import Adversaries
import BFTCore
import BFTSimulator
import Testing

/// Every behaviour of the adversary catalog against the correct protocol, with network faults and isolations of
/// the current primary (so view changes happen with the adversary inside them): safety always, and every request
/// completes within the liveness bound after the heal (after a view change where the attacker is the primary).
@Suite("Adversaries against the correct protocol")
struct AdversaryTests {
    @Test("n = 4, one Byzantine replica (the primary on even seeds): the attacked property holds, live after the heal",
          arguments: AdversaryCatalog.all.map(Attack.init))
    func fourReplicas(attack: Attack) throws {
        let entry = try #require(AdversaryCatalog.named(attack.name))
        let sweep = AdversarySweep(options: AdversarySweep.defaultOptions(), faulty: 1)
        let outcome = try sweep.run(entry, seeds: 1...12)
        #expect(outcome.safetyViolations == 0, "\(entry.attacks): \(outcome.reports.joined(separator: "\n"))")
        #expect(outcome.livenessFailures == 0, "\(outcome.reports.joined(separator: "\n"))")
        #expect(outcome.completed == 12 * 4 * 10)
    }

    @Test("n = 7, two colluding Byzantine replicas: no safety violation",
          arguments: ["equivocating-primary", "view-change-liar", "mutator", "lying-checkpointer", "replayer", "silent"])
    func sevenReplicas(name: String) throws {
        let entry = try #require(AdversaryCatalog.named(name))
        let sweep = AdversarySweep(options: AdversarySweep.defaultOptions(replicas: 7), faulty: 2)
        let outcome = try sweep.run(entry, seeds: 1...6)
        #expect(outcome.safetyViolations == 0, "\(entry.attacks): \(outcome.reports.joined(separator: "\n"))")
        #expect(outcome.livenessFailures == 0, "\(outcome.reports.joined(separator: "\n"))")
    }

    @Test("regressions from sweeps: two silent replicas of seven (seeds 2 and 33) stay live after the heal",
          arguments: [UInt64(2), 33])
    func twoSilentOfSeven(seed: UInt64) throws {
        let entry = try #require(AdversaryCatalog.named("silent"))
        let sweep = AdversarySweep(options: AdversarySweep.defaultOptions(replicas: 7), faulty: 2)
        let outcome = try sweep.run(entry, seeds: seed...seed)
        #expect(outcome.safetyViolations == 0 && outcome.livenessFailures == 0, "\(outcome.reports.joined())")
    }

    @Test("the catalog names are unique and every entry says what it attacks")
    func catalog() {
        #expect(Set(AdversaryCatalog.names).count == AdversaryCatalog.all.count)
        #expect(AdversaryCatalog.all.allSatisfy { !$0.description.isEmpty && !$0.attacks.isEmpty })
        #expect(AdversaryCatalog.all.count >= 12)
    }
}

/// A catalog entry as a test argument, shown as "name: what it attacks (the defence)".
struct Attack: Sendable, CustomTestStringConvertible {
    let name: String
    let attacks: String
    init(_ entry: AdversaryEntry) {
        name = entry.name
        attacks = entry.attacks
    }
    var testDescription: String { "\(name): \(attacks)" }
}
