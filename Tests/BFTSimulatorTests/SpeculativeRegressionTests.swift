@_spi(BrokenVariants) import BFTCore
import BFTKeyValue
import BFTSimulator
import Testing

/// The hand-written schedule of ../shared/PROTOCOL.md that breaks Zyzzyva's published view change (Abraham et al.,
/// "Revisiting Fast Practical Byzantine Fault Tolerance", arXiv 1712.01367 §3), with n = 4 and f = 1:
///
/// 1. View 0: the Byzantine primary r0 orders request a at slot 1 for r1 and r2 only. Client A gets three matching
///    spec-responses and sends them as a commit certificate, which reaches r0 alone.
/// 2. View change to 1 (primary r1): r0 hides a; the new view is built from r0, r1 and r3, where only r1 has a,
///    so a is not kept and r1, r2 roll it back.
/// 3. View 1: request b completes at slot 1 on the fast path (3f+1 matching spec-responses).
/// 4. View change to 2 (primary r2): r0 replays its stale view-0 certificate for a.
///
/// The published rule takes the certificate with the highest sequence number and puts a back at slot 1: b, which
/// a client saw complete, is rolled back, and the no-rollback checker says so. The view-ranked rule sees f+1
/// order-reqs for b from view 1, which outrank a certificate from view 0, and keeps b.
struct PublishedViewChangeScenario {
    var cluster: ScriptedCluster
    var check: NoRollbackCheck
    var clientA: ClientSession
    var clientB: ClientSession
    /// What happened on the way, so the test can show the schedule did what it says.
    var aSpeculatedBy: [ReplicaID] = []
    var bCompletion: Completion?
    var rolledBackEnteringView1: [ReplicaID] = []
    var viewsAtEnd: [ViewNumber] = []

    static let byzantine = ReplicaID(0)

    init(published: Bool) throws {
        var options = ReplicaOptions()
        options.replication = .zyzzyva
        options.viewChangeTimeoutTicks = 3
        options.statusIntervalTicks = 10_000
        options.deviations.publishedViewChange = published
        let cluster = try ScriptedCluster(options: options)
        self.cluster = cluster
        check = NoRollbackCheck(suite: cluster.suite)
        clientA = SpeculativeRuleTests.client(cluster, 1)
        clientB = SpeculativeRuleTests.client(cluster, 2)
    }

    /// Runs the four steps; the result is what the no-rollback checker finds.
    mutating func run() -> [Violation] {
        let (orderA, certificateA) = orderAForSomeReplicas()
        changeView(to: 1, byzantineViewChange: [], byzantineCertificate: [], newPrimary: 1, excluded: 2, trigger: 2)
        completeBOnFastPath()
        changeView(
            to: 2, byzantineViewChange: [PreparedCertificate(prePrepare: orderA, prepares: [])],
            byzantineCertificate: certificateA, newPrimary: 2, excluded: nil, trigger: 1)
        let correct: [ReplicaID] = [1, 2, 3]
        viewsAtEnd = correct.map { cluster.replicas[Int($0.rawValue)].view }
        return check.violations(finalHistories: correct.map { replica in
            let status = cluster.replicas[Int(replica.rawValue)].status
            return (replica, status.lastExecuted, status.history)
        })
    }

    /// Step 1. Returns r0's order-req for a and the commit certificate client A sent.
    private mutating func orderAForSomeReplicas() -> (Envelope, [Envelope]) {
        let request = clientA.submit(KeyValueCommand.put(key: Array("k".utf8), value: Array("a".utf8)).encoded())
        let atPrimary = cluster.deliver(request[0].envelope, to: Self.byzantine)
        observe(atPrimary)
        let order = atPrimary.sent(.prePrepare)[0].envelope
        var responses = atPrimary.messages
        for replica: ReplicaID in [1, 2] {
            let effects = cluster.deliver(order, to: replica)
            if !effects.sent(.specResponse).isEmpty { aSpeculatedBy.append(replica) }
            responses += effects.messages
        }
        for outbound in responses where outbound.destination == .client(1) { _ = clientA.receive(outbound.envelope) }
        var certificate: [Envelope] = []
        for _ in 0..<ClientOptions().commitTicks {
            for outbound in clientA.tick() {
                guard case .commitCertificate(let c) = outbound.envelope.message,
                    outbound.destination == .replica(Self.byzantine)
                else { continue }
                certificate = c.responses
                _ = cluster.deliver(outbound.envelope, to: Self.byzantine)
            }
        }
        return (order, certificate)
    }

    /// Steps 2 and 4: a request only the backups of the current view see makes them complain and change view.
    /// r0's own messages never go out; it sends the crafted view-change instead. `excluded`'s view-change does not
    /// reach the new primary, so the new view is built from r0's and the others'.
    private mutating func changeView(
        to view: ViewNumber, byzantineViewChange: [PreparedCertificate], byzantineCertificate: [Envelope],
        newPrimary: ReplicaID, excluded: ReplicaID?, trigger: ClientID
    ) {
        let lying = ViewChange(
            newView: view, stableSequence: 0, checkpointProof: [], prepared: byzantineViewChange,
            certificate: byzantineCertificate)
        _ = cluster.deliver(cluster.signed(.viewChange(lying), by: Self.byzantine), to: newPrimary)
        let oldPrimary = cluster.configuration.primary(of: ViewNumber(view.rawValue - 1))
        var session = trigger == 1 ? clientA : clientB
        session.abandon()
        let request = session.submit(KeyValueCommand.get(key: Array("k".utf8)).encoded())[0].envelope
        if trigger == 1 { clientA = session } else { clientB = session }
        let backups = cluster.configuration.replicas.filter { $0 != oldPrimary && $0 != Self.byzantine }
        let drop: (Envelope, ReplicaID) -> Bool = { envelope, to in
            envelope.sender == .replica(Self.byzantine) || (to == oldPrimary && envelope.message.kind == .request)
                || (envelope.message.kind == .viewChange && envelope.sender == excluded.map { .replica($0) }
                    && to == newPrimary)
        }
        for replica in backups { deliverAndRun(request, to: replica, drop: drop) }
        for _ in 0..<40 where cluster.replicas[Int(newPrimary.rawValue)].view != view
            || !cluster.replicas[Int(newPrimary.rawValue)].viewActive
        {
            for replica in [1, 2, 3] as [ReplicaID] {
                let effects = cluster.tick(replica, 1)[0]
                observe([(replica, effects)] + cluster.run(effects, from: replica, drop: drop))
            }
        }
    }

    /// Step 3: b, handed to the new primary on entering view 1, runs on all four replicas.
    private mutating func completeBOnFastPath() {
        for replica in [1, 2, 3] as [ReplicaID] {
            let effects = cluster.tick(replica, 1)[0]
            observe([(replica, effects)] + cluster.run(effects, from: replica))
        }
    }

    private mutating func deliverAndRun(_ envelope: Envelope, to replica: ReplicaID, drop: (Envelope, ReplicaID) -> Bool) {
        let effects = cluster.deliver(envelope, to: replica)
        observe([(replica, effects)] + cluster.run(effects, from: replica, drop: drop))
    }

    /// Also notes which replicas rolled back while entering view 1.
    private mutating func observe(_ all: [(ReplicaID, Effects)]) {
        for (replica, effects) in all {
            observe(effects)
            let rolledBack = effects.events.contains { if case .rolledBack = $0 { true } else { false } }
            if rolledBack && cluster.replicas[Int(replica.rawValue)].view == 1 { rolledBackEnteringView1.append(replica) }
        }
    }

    /// Every order-req goes to the checker; spec-responses for b go to client B.
    private mutating func observe(_ effects: Effects) {
        for outbound in effects.messages {
            check.observe(outbound.envelope)
            guard outbound.destination == .client(2), bCompletion == nil else { continue }
            if let completion = clientB.receive(outbound.envelope).completion {
                bCompletion = completion
                check.completed("client 2 (b)", sequence: completion.sequence, history: completion.history)
            }
        }
    }
}

@Suite("Zyzzyva view change: the regression scenario")
struct SpeculativeRegressionTests {
    @Test("view-ranked rule keeps a fast-path completion over an older certificate")
    func viewRankedRuleKeepsFastPathCompletion() throws {
        var scenario = try PublishedViewChangeScenario(published: false)
        let violations = scenario.run()
        try expectScheduleRan(scenario)
        #expect(violations.isEmpty, "\(violations)")
        #expect(scenario.viewsAtEnd == [2, 2, 2])
    }

    @Test("published highest-sequence rule loses it, and the no-rollback checker reports it")
    func publishedRuleLosesFastPathCompletion() throws {
        var scenario = try PublishedViewChangeScenario(published: true)
        let violations = scenario.run()
        try expectScheduleRan(scenario)
        #expect(scenario.viewsAtEnd == [2, 2, 2])
        #expect(violations.contains { $0.invariant == .noRollback }, "\(violations)")
    }

    /// The schedule must really have produced its situation, or the two tests above prove nothing.
    private func expectScheduleRan(_ scenario: PublishedViewChangeScenario) throws {
        #expect(scenario.aSpeculatedBy == [1, 2])
        #expect(Set(scenario.rolledBackEnteringView1.filter { $0 != PublishedViewChangeScenario.byzantine }) == [1, 2])
        let completion = try #require(scenario.bCompletion)
        #expect(completion.fastPath)
        #expect(completion.sequence == 1)
    }
}
