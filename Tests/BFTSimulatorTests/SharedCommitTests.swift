import Adversaries
@_spi(BrokenVariants) import BFTCore
import BFTSimulator
import Testing

/// Clients of one process sharing commit certificates (`SharedCommits`, Zyzzyva §3.3 applied to a batch): with a
/// replica silent, one client's certificate on a batch's history completes the other clients' requests in it, and
/// every client still needs its own 2f+1 matching spec-responses.
@Suite("Shared commit certificates")
struct SharedCommitTests {
    /// Zyzzyva with MAC clients and the adversarial sweep's network faults. The simulator hands a replica one
    /// message per turn and never ends a turn, so with `cutBatchesAtTurnEnd` the primary cuts a batch per tick:
    /// batches hold several clients' requests, as they do under load.
    static func options(share: Bool) -> SimulationOptions {
        var options = AdversarySweep.defaultOptions()
        options.replication = .zyzzyva
        options.clientAuthentication = .macs
        options.clients = 12
        options.replicaOptions.cutBatchesAtTurnEnd = true
        options.clientsShareCommits = share
        return options
    }

    static let seeds: ClosedRange<UInt64> = 1...8

    /// Two sessions of one process (sharing a `SharedCommits`) whose requests the primary puts into one batch, and
    /// every replica's answers to both.
    static func oneBatch() throws -> (ScriptedCluster, [ClientSession], [Envelope]) {
        var options = ReplicaOptions()
        options.replication = .zyzzyva
        options.cutBatchesAtTurnEnd = true
        var cluster = try ScriptedCluster(options: options)
        let shared = SharedCommits()
        var sessions = [ClientID(1), 2].map { id in
            ClientSession(
                client: id, configuration: cluster.configuration, options: ClientOptions(replication: .zyzzyva),
                directory: cluster.directory, suite: cluster.suite, signer: cluster.clientSigners[id]!,
                sharedCommits: shared)
        }
        // Both requests go into one batch, which every replica executes.
        let requests = sessions.indices.map { sessions[$0].submit(SpeculativeRuleTests.put("\($0)"))[0].envelope }
        for request in requests { _ = cluster.deliver(request, to: 0) }
        let atPrimary = cluster.replicas[0].endOfTurn()
        let order = try #require(atPrimary.sent(.prePrepare).first?.envelope)
        var answers = atPrimary.messages.filter { $0.destination != .allReplicas }.map(\.envelope)
        for backup: ReplicaID in [1, 2, 3] {
            answers += cluster.deliver(order, to: backup).messages.compactMap {
                if case .client = $0.destination { $0.envelope } else { nil }
            }
        }
        return (cluster, sessions, answers)
    }

    @Test("one silent backup: a certificate completes the other clients' requests of its batch; all invariants hold")
    func ridersComplete() throws {
        let silent = try #require(AdversaryCatalog.named("silent"))
        var certificates: [Bool: Int] = [:]
        for share in [false, true] {
            let sweep = AdversarySweep(options: Self.options(share: share), faulty: 1)
            var riding = 0
            var commitPath = 0
            for seed in Self.seeds {
                let result = try Simulation(seed: seed, options: sweep.options(for: seed, running: silent)).run()
                #expect(result.passed, "\(result.report)")
                certificates[share, default: 0] +=
                    result.stats.deliveredByKind[Int(MessageKind.commitCertificate.rawValue)]
                riding += result.stats.ridingCompletions
                commitPath += result.stats.completedRequests - result.stats.fastCompletions
            }
            #expect(commitPath > 0, "the silent backup sends every request down the commit path")
            if share {
                #expect(riding > commitPath / 4, "\(riding) of \(commitPath) commit-path completions rode")
            } else {
                #expect(riding == 0)
            }
        }
        let (alone, shared) = (certificates[false] ?? 0, certificates[true] ?? 0)
        #expect(shared * 2 < alone, "certificates delivered: \(shared) shared against \(alone) one per client")
    }

    @Test("a rider needs its own 2f+1 matching spec-responses: riding on f+1 fewer lets a lying replier through")
    func ridersNeedTheirOwnQuorum() throws {
        let liar = try #require(AdversaryCatalog.named("lying-replier"))
        var options = Self.options(share: true)
        let correct = try AdversarySweep(options: options, faulty: 1).run(liar, seeds: Self.seeds)
        #expect(correct.safetyViolations == 0 && correct.livenessFailures == 0,
                "\(correct.reports.joined(separator: "\n"))")
        options.clientOptions.deviations.ridersNeedNoQuorum = true
        let broken = try AdversarySweep(options: options, faulty: 1).run(liar, seeds: Self.seeds)
        #expect(broken.safetyViolations > 0, "a rider that takes any spec-response's result was not caught")
    }

    @Test("""
        a fast completion commits the batch's history for the process: the sessions riding on a certificate whose \
        sender then got its fourth answer complete at once, not on their own commit timers
        """)
    func fastCompletionReleasesRiders() throws {
        var (cluster, sessions, answers) = try Self.oneBatch()
        // r3's answers are held back; a forgery in its name loses the fast path, so both sessions start the commit:
        // session 1 sends the certificate, session 2 rides on it.
        var sent: [[Outbound]] = [[], []]
        for (index, session) in sessions.indices.map({ ($0, ClientID(UInt64($0 + 1))) }) {
            let own = answers.filter { $0.message.addressee == session }
            let real = try #require(own.first { $0.sender == .replica(3) })
            let forged = Envelope(signing: real.message, from: .replica(3), with: cluster.replicaSigners[2])
            for answer in own where answer.sender != .replica(3) { sent[index] += sessions[index].receive(answer).messages }
            sent[index] += sessions[index].receive(forged).messages
        }
        #expect(sent[0].count == 4 && sent[1].isEmpty, "one certificate for the batch")
        // r3's real answer gives session 1 its fourth: it completes on the fast path and hands session 2 over.
        let late = try #require(answers.first { $0.sender == .replica(3) && $0.message.addressee == 1 })
        let fast = sessions[0].receive(late)
        #expect(fast.completion?.fastPath == true)
        let handover = try #require(fast.shared, "the riders of the fast-committed history")
        #expect(handover.riders == [2])
        #expect(sessions[1].historyCommitted(handover.history).completion != nil)
    }

    @Test("""
        waiting at 2f+1: a session that holds three matching answers and waits for its fourth completes at once, as a \
        fast completion, when a batch-mate completes on the fast path (the mutator's 110 ms tail)
        """)
    func fastCompletionReleasesWaiters() throws {
        var (_, sessions, answers) = try Self.oneBatch()
        // Both sessions get three matching answers; r3's are late (a mutator withholds session 2's). Nobody has
        // lost the fast path, so nobody sends a certificate yet.
        for (index, session) in sessions.indices.map({ ($0, ClientID(UInt64($0 + 1))) }) {
            for answer in answers where answer.message.addressee == session && answer.sender != .replica(3) {
                #expect(sessions[index].receive(answer).messages.isEmpty)
            }
        }
        let fourth = try #require(answers.first { $0.sender == .replica(3) && $0.message.addressee == 1 })
        let fast = sessions[0].receive(fourth)
        #expect(fast.completion?.fastPath == true)
        let handover = try #require(fast.shared, "the sessions waiting on the fast-committed history")
        #expect(handover.riders == [2] && handover.fastPath)
        let released = sessions[1].historyCommitted(handover.history, fastPath: handover.fastPath)
        #expect(released.completion?.fastPath == true, "the batch's fast path worked: no adaptive commit next")
        #expect(!sessions[1].fastPathFailing && !sessions[1].isBusy)
    }
}

@Suite("SharedCommits")
struct SharedCommitsTableTests {
    static func history(_ n: UInt64) -> SharedCommits.History {
        SharedCommits.History(view: 0, sequence: SequenceNumber(n), history: Digest(words: (n, 0, 0, 0)))
    }

    @Test("the first claimant sends, later ones ride and are handed over once, in order, when it commits")
    func claimRideCommit() {
        let table = SharedCommits()
        let h = Self.history(1)
        #expect(table.claim(h, by: 1))
        #expect(table.claim(h, by: 1), "the owner may build its certificate again")
        #expect(!table.claim(h, by: 3) && !table.claim(h, by: 2) && !table.claim(h, by: 3))
        #expect(!table.isCommitted(h))
        #expect(table.committed(h, by: 1) == [3, 2])
        #expect(table.isCommitted(h) && table.claim(h, by: 4), "a committed history needs no riding")
        #expect(table.committed(h, by: 4).isEmpty, "riders are handed over once")
        #expect(!table.isCommitted(Self.history(2)))
    }

    @Test("a session waiting at 2f+1 is handed over like a rider; the first claimant still sends the certificate")
    func waitersHandedOver() {
        let table = SharedCommits()
        let h = Self.history(1)
        table.waiting(h, by: 2)
        #expect(table.claim(h, by: 3), "waiters do not send: the first claimant does")
        #expect(!table.claim(h, by: 4))
        table.waiting(h, by: 3)  // the owner: nothing to hand over to itself
        #expect(table.committed(h, by: 3) == [2, 4])
        table.waiting(h, by: 5)
        #expect(table.committed(h, by: 6).isEmpty, "a committed history is not waited on (isCommitted answers)")
    }

    @Test("the table forgets the oldest histories beyond its capacity")
    func bounded() {
        let table = SharedCommits(capacity: 4)
        for n in 1...10 {
            #expect(table.claim(Self.history(UInt64(n)), by: 1))
            _ = table.committed(Self.history(UInt64(n)), by: 1)
        }
        #expect((1...6).allSatisfy { !table.isCommitted(Self.history(UInt64($0))) })
        #expect((7...10).allSatisfy { table.isCommitted(Self.history(UInt64($0))) })
    }
}
