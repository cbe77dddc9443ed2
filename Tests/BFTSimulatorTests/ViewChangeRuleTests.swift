@_spi(BrokenVariants) import BFTCore
import BFTKeyValue
import BFTSimulator
import Testing

/// One test per rule of PBFT's view change (Castro & Liskov, OSDI 1999 §4.4 and §4.5.2), driven message by message.
@Suite("PBFT view-change rules")
struct ViewChangeRuleTests {
    let put = KeyValueCommand.put(key: Array("k".utf8), value: Array("v".utf8))

    static func options(timeout: UInt64 = 10) -> ReplicaOptions {
        var options = ReplicaOptions()
        options.checkpointInterval = 2
        options.logWindow = 4
        options.viewChangeTimeoutTicks = timeout
        return options
    }

    static func viewChanges(_ effects: [Effects]) -> [ViewChange] {
        effects.flatMap { $0.sent { if case .viewChange(let m) = $0 { m } else { nil } } }
    }

    static func newViews(_ effects: Effects) -> [NewView] {
        effects.sent { if case .newView(let m) = $0 { m } else { nil } }
    }

    static func prePrepares(_ newView: NewView) -> [PrePrepare] {
        newView.prePrepares.compactMap { if case .prePrepare(let p) = $0.message { p } else { nil } }
    }

    @Test("view-change contents: the stable checkpoint, its 2f+1 proof, and a certificate per prepared slot above it")
    func viewChangeContents() throws {
        var cluster = try ScriptedCluster(options: Self.options())
        for t in 1...3 {
            cluster.run(cluster.deliver(cluster.request(1, Timestamp(UInt64(t)), put), to: 0), from: 0)
        }
        // Slot 4 prepares everywhere, but no commit arrives anywhere.
        let fourth = cluster.deliver(cluster.request(1, 4, put), to: 0)
        cluster.run(fourth, from: 0) { envelope, _ in envelope.message.kind == .commit }
        #expect(cluster.replicas[1].status.lastExecuted == 3 && cluster.replicas[1].status.lowWatermark == 2)

        let ticks = cluster.tick(1, 11)
        let sent = Self.viewChanges(ticks)
        #expect(Self.viewChanges(Array(ticks.prefix(10))).isEmpty, "not before the timeout")
        let message = try #require(sent.first)
        #expect(sent.count == 1)
        #expect(message.newView == 1 && message.stableSequence == 2)
        #expect(message.checkpointProof.count >= 3)
        #expect(message.checkpointProof.allSatisfy {
            if case .checkpoint(let c) = $0.message { c.sequence == 2 } else { false }
        })
        let sequences = message.prepared.compactMap { c -> UInt64? in
            if case .prePrepare(let p) = c.prePrepare.message { p.sequence.rawValue } else { nil }
        }
        #expect(sequences == [3, 4], "every prepared slot above the stable checkpoint, executed or not")
        #expect(message.prepared.allSatisfy { $0.prepares.count >= 2 })
        let last = try #require(ticks.last)
        #expect(last.durable.contains { if case .viewChange = $0 { true } else { false } },
                "the view-change is durable before it is sent")
        #expect(cluster.replicas[1].status.view == 1 && !cluster.replicas[1].status.viewActive)
    }

    @Test("timer doubling: T, then 2T, then 4T between successive view changes without a new view")
    func timerDoubling() throws {
        var cluster = try ScriptedCluster(options: Self.options(timeout: 10))
        _ = cluster.deliver(cluster.request(1, 1, put), to: 3)  // a known request that the primary never orders
        var gaps: [Int] = []
        for view in [1, 2, 3] as [ViewNumber] {
            let ticks = cluster.tick(3, 100)
            // Started view changes, not retransmissions of the same view-change message.
            let started = ticks.map { $0.events.compactMap { if case .viewChangeStarted(let v) = $0 { v } else { nil } } }
            let index = try #require(started.firstIndex { !$0.isEmpty })
            gaps.append(index)
            #expect(started.flatMap { $0 } == [view], "one view change, and no other until 2f+1 view-changes")
            for peer in [0, 2] as [ReplicaID] {
                _ = cluster.deliver(cluster.viewChange(to: view, by: peer), to: 3)
            }
        }
        // The timer starts on the first tick at which it may run (a waiting request; then 2f+1 view-changes for
        // the view being entered), and expires T·2^k ticks later.
        #expect(gaps == [10, 20, 40])
    }

    @Test("timer: a replica that moved on to a later view still counts among the 2f+1 that left the earlier one")
    func laterViewChangesCount() throws {
        var cluster = try ScriptedCluster(options: Self.options(timeout: 10))
        _ = cluster.deliver(cluster.request(1, 1, put), to: 3)
        #expect(cluster.tick(3, 11).contains { $0.events.contains(.viewChangeStarted(view: 1)) })
        _ = cluster.deliver(cluster.viewChange(to: 1, by: 0), to: 3)
        _ = cluster.deliver(cluster.viewChange(to: 2, by: 2), to: 3)  // replica 2 already gave up on view 1
        // Regression (found by the n = 7 adversarial sweep with two silent primaries): counting only view-changes
        // for exactly view 1 left the timer stopped forever once a peer had moved on.
        let started = cluster.tick(3, 30).flatMap { $0.events.compactMap { if case .viewChangeStarted(let v) = $0 { v } else { nil } } }
        #expect(started == [2])
    }

    @Test("joining a higher view: f+1 view-changes for higher views make a replica join the smallest; f do not")
    func joinHigherView() throws {
        var cluster = try ScriptedCluster(options: Self.options())
        let one = cluster.deliver(cluster.viewChange(to: 2, by: 1), to: 0)
        #expect(one.sent(.viewChange).isEmpty && cluster.replicas[0].status.view == 0)
        let two = cluster.deliver(cluster.viewChange(to: 3, by: 2), to: 0)
        #expect(Self.viewChanges([two]).map(\.newView) == [2])
        #expect(cluster.replicas[0].status.view == 2 && !cluster.replicas[0].status.viewActive)
    }

    @Test("new-view construction: prepared requests keep their sequence numbers and gaps get null requests")
    func newViewConstruction() throws {
        var cluster = try ScriptedCluster(options: Self.options())
        let first = [cluster.request(1, 1, put)]
        let third = [cluster.request(2, 1, put)]
        let certificates = [
            cluster.certificate(view: 0, sequence: 1, batch: first, preparers: [1, 2]),
            cluster.certificate(view: 0, sequence: 3, batch: third, preparers: [2, 3]),
        ]
        _ = cluster.deliver(cluster.viewChange(to: 1, by: 0, prepared: certificates), to: 1)
        let effects = cluster.deliver(cluster.viewChange(to: 1, by: 2), to: 1)
        let newView = try #require(Self.newViews(effects).first, "f+1 view-changes: it joins, then holds 2f+1")
        let o = Self.prePrepares(newView)
        #expect(o.map(\.sequence) == [1, 2, 3])
        #expect(o.map(\.batch) == [first, [], third])
        #expect(o.allSatisfy { $0.view == 1 && $0.digest == Replica.batchDigest($0.batch, suite: cluster.suite) })
        #expect(newView.viewChanges.count == 3)
        #expect(cluster.replicas[1].status.view == 1 && cluster.replicas[1].status.viewActive)
    }

    @Test("new-view construction: the highest-view certificate wins (the broken variant picks the lowest)",
          arguments: [false, true])
    func highestViewCertificateWins(broken: Bool) throws {
        var options = Self.options()
        options.deviations.pickLowestViewCertificate = broken
        var cluster = try ScriptedCluster(options: options)
        let older = [cluster.request(1, 1, put)]
        let newer = [cluster.request(2, 1, put)]
        let fromView0 = cluster.certificate(view: 0, sequence: 1, batch: older, preparers: [1, 2])
        let fromView1 = cluster.certificate(view: 1, sequence: 1, batch: newer, preparers: [0, 2])
        _ = cluster.deliver(cluster.viewChange(to: 2, by: 0, prepared: [fromView0]), to: 2)
        let effects = cluster.deliver(cluster.viewChange(to: 2, by: 1, prepared: [fromView1]), to: 2)
        let newView = try #require(Self.newViews(effects).first)
        // View 1's request may have committed in view 1; view 0's cannot have (quorums intersect in a correct
        // replica that prepared view 1's), so re-issuing view 0's could undo a committed request.
        #expect(Self.prePrepares(newView).first?.batch == (broken ? older : newer))
    }

    enum Forgery: String, CaseIterable {
        case omitsPrepared, changesDigest, tooFewViewChanges, forgedCertificate, notFromPrimary, none
    }

    @Test("new-view validation: backups recompute O from V and reject a forged new-view", arguments: Forgery.allCases)
    func newViewValidation(forgery: Forgery) throws {
        var cluster = try ScriptedCluster(options: Self.options())
        let batch = [cluster.request(1, 1, put)]
        let good = cluster.certificate(view: 0, sequence: 1, batch: batch, preparers: [2, 3])
        var weak = good
        weak.prepares.removeLast()
        let valid = cluster.viewChange(to: 1, by: 0, prepared: [good])
        let fromZero = forgery == .forgedCertificate ? cluster.viewChange(to: 1, by: 0, prepared: [weak]) : valid
        _ = cluster.deliver(valid, to: 2)
        let joined = cluster.deliver(cluster.viewChange(to: 1, by: 3), to: 2)
        let own = try #require(joined.messages.first { $0.envelope.message.kind == .viewChange }?.envelope)
        let viewChanges = forgery == .tooFewViewChanges ? [fromZero, own] : [fromZero, own, cluster.viewChange(to: 1, by: 3)]
        let reissued: [Envelope] =
            switch forgery {
            case .omitsPrepared: [cluster.prePrepare(view: 1, sequence: 1, batch: [], by: 1)]
            case .changesDigest: [cluster.prePrepare(view: 1, sequence: 1, batch: [cluster.request(2, 1, put)], by: 1)]
            default: [cluster.prePrepare(view: 1, sequence: 1, batch: batch, by: 1)]
            }
        let signer: ReplicaID = forgery == .notFromPrimary ? 3 : 1
        let newView = cluster.signed(
            .newView(NewView(view: 1, viewChanges: viewChanges, prePrepares: reissued)), by: signer)
        let effects = cluster.deliver(newView, to: 2)
        let status = cluster.replicas[2].status
        if forgery == .none {
            #expect(effects.rejections.isEmpty)
            #expect(status.view == 1 && status.viewActive)
            #expect(effects.sent(.prepare).count == 1, "the re-issued slot is prepared in the new view")
            #expect(effects.durable.first.map { if case .newView = $0 { true } else { false } } == true)
        } else {
            #expect(effects.rejections == [forgery == .notFromPrimary ? .notNewPrimary : .invalidNewView])
            #expect(status.view == 1 && !status.viewActive && effects.messages.isEmpty && effects.durable.isEmpty)
        }
    }

    @Test("a view change loses no pending request: backups hand their known requests to the new primary")
    func pendingRequestsSurvive() throws {
        var cluster = try ScriptedCluster(options: Self.options())
        _ = cluster.deliver(cluster.request(2, 1, put), to: 2)  // the old primary never ordered it
        _ = cluster.deliver(cluster.viewChange(to: 1, by: 0), to: 2)
        let joined = cluster.deliver(cluster.viewChange(to: 1, by: 3), to: 2)
        let own = try #require(joined.messages.first { $0.envelope.message.kind == .viewChange }?.envelope)
        let newView = cluster.signed(
            .newView(NewView(view: 1, viewChanges: [cluster.viewChange(to: 1, by: 0), own, cluster.viewChange(to: 1, by: 3)],
                             prePrepares: [])), by: 1)
        let effects = cluster.deliver(newView, to: 2)
        let handed = effects.messages.filter { $0.envelope.message.kind == .request }
        #expect(handed.map(\.destination) == [.replica(1)])
    }
}
