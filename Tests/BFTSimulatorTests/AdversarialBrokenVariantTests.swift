import Adversaries
@_spi(BrokenVariants) import BFTCore
import BFTSimulator
import Testing

/// The adversarial suite must bite: each classic mistake of the issue's list, switched on in every replica (or
/// client), is caught by the adversarial sweep that targets it within a CI budget of seeds, and the same sweep on
/// the correct protocol reports nothing. A new primary that re-issues the lowest-view certificate is not in this
/// list: the sweeps almost never produce two certificates for one slot from different views, so
/// `ViewChangeRuleTests.highestViewCertificateWins` shows that one with a scripted schedule.
@Suite("The adversarial suite catches broken variants")
struct AdversarialBrokenVariantTests {
    enum Variant: String, CaseIterable {
        case preparedWithTooFewPrepares, acceptsTwoPrePrepares, skipsClientSignatures, clientAcceptsFReplies,
            stateTransferSkipsDigest
    }

    /// The behaviour that exposes each variant, the scenario it runs in, and the mistake.
    static func setup(_ variant: Variant)
        -> (adversary: String?, scenario: (inout SimulationOptions) -> Void, mistake: (inout SimulationOptions) -> Void)
    {
        switch variant {
        case .preparedWithTooFewPrepares:
            ("equivocating-primary", { _ in }, { $0.replicaOptions.deviations.prepareWithOneVoteTooFew = true })
        case .acceptsTwoPrePrepares:
            ("equivocating-primary", { _ in }, { $0.replicaOptions.deviations.acceptConflictingPrePrepare = true })
        case .skipsClientSignatures:
            (nil, { $0.faultyClients = [.badSignature] }, { $0.replicaOptions.deviations.skipClientSignatureCheck = true })
        case .clientAcceptsFReplies:
            ("lying-replier", { _ in }, { $0.clientOptions.deviations.acceptWithFReplies = true })
        case .stateTransferSkipsDigest:
            // Crashes and longer runs make correct replicas fetch state often enough that the liar gets asked.
            ("lying-checkpointer", {
                $0.crashes = true
                $0.requestsPerClient = 25
            }, { $0.replicaOptions.deviations.skipStateDigestCheck = true })
        }
    }

    @Test("each broken variant is caught by its adversarial sweep, and the correct protocol is not flagged",
          arguments: Variant.allCases)
    func caught(variant: Variant) throws {
        let (name, scenario, mistake) = Self.setup(variant)
        var options = AdversarySweep.defaultOptions()
        scenario(&options)
        let entry = name.flatMap(AdversaryCatalog.named)
        let correct = try AdversarySweep(options: options, faulty: 1).run(entry, seeds: 1...16)
        #expect(correct.safetyViolations == 0, "\(correct.reports.joined(separator: "\n"))")
        mistake(&options)
        let broken = try AdversarySweep(options: options, faulty: 1).run(entry, seeds: 1...16)
        #expect(broken.safetyViolations > 0, "\(variant) with \(name ?? "faulty clients") was not caught")
    }
}
