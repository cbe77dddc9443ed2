import BFTCore
import BFTKeyValue
import BFTRuntime
import BFTSimulator
import Testing

/// One test per rule of the speculative path (Kotla et al., Zyzzyva, SOSP 2007 §3), on four scripted replicas.
@Suite("Zyzzyva rules")
struct SpeculativeRuleTests {
    static func cluster(_ authentication: ClientAuthentication = .signatures) throws -> ScriptedCluster {
        var options = ReplicaOptions()
        options.replication = .zyzzyva
        options.clientAuthentication = authentication
        options.viewChangeTimeoutTicks = 3
        options.statusIntervalTicks = 10_000
        return try ScriptedCluster(options: options)
    }

    /// Zyzzyva with K = 2 and L = 4, so checkpoints and watermarks come within a few requests.
    static func smallWindow() -> ReplicaOptions {
        var options = ReplicaOptions()
        options.replication = .zyzzyva
        options.checkpointInterval = 2
        options.logWindow = 4
        return options
    }

    static func client(_ cluster: ScriptedCluster, _ id: ClientID = 1) -> ClientSession {
        ClientSession(
            client: id, configuration: cluster.configuration, options: ClientOptions(replication: .zyzzyva),
            directory: cluster.directory, suite: cluster.suite, signer: cluster.clientSigners[id]!)
    }

    static func put(_ value: String) -> [UInt8] {
        KeyValueCommand.put(key: Array("k".utf8), value: Array(value.utf8)).encoded()
    }

    /// Orders `request` at the primary r0 and delivers the order-req to `backups`; returns the messages for the
    /// client and the order-req.
    /// A request the primary ordered to r1 and r2 only, the spec-responses (r0–r2), and the commit certificate the
    /// client's timer then sent.
    static func committing() throws
        -> (ScriptedCluster, ClientSession, commit: Envelope, order: Envelope, responses: [Envelope])
    {
        var cluster = try Self.cluster()
        var client = Self.client(cluster)
        let request = client.submit(Self.put("v"))[0].envelope
        let (responses, order) = Self.order(request, in: &cluster, to: [1, 2])
        for response in responses { _ = client.receive(response) }
        var certificate: Envelope?
        for _ in 0..<ClientOptions().commitTicks { certificate = certificate ?? client.tick().first?.envelope }
        return (cluster, client, try #require(certificate), order, responses)
    }

    static func order(_ request: Envelope, in cluster: inout ScriptedCluster, to backups: [ReplicaID])
        -> (toClient: [Envelope], order: Envelope)
    {
        let atPrimary = cluster.deliver(request, to: 0)
        let order = atPrimary.sent(.prePrepare)[0].envelope
        var toClient = atPrimary.messages.filter { $0.destination != .allReplicas }.map(\.envelope)
        for backup in backups {
            toClient += cluster.deliver(order, to: backup).messages.compactMap {
                if case .client = $0.destination { $0.envelope } else { nil }
            }
        }
        return (toClient, order)
    }

    @Test("fast path: a request completes on 3f+1 matching spec-responses, not on 2f+1")
    func fastPathCompletion() throws {
        var cluster = try Self.cluster()
        var client = Self.client(cluster)
        let request = client.submit(Self.put("v"))[0].envelope
        let (responses, _) = Self.order(request, in: &cluster, to: [1, 2, 3])
        #expect(responses.count == 4)
        var completions: [Completion] = []
        for (index, response) in responses.enumerated() {
            let step = client.receive(response)
            if index < 3 { #expect(step.completion == nil) }
            completions += step.completion.map { [$0] } ?? []
        }
        let completion = try #require(completions.first)
        #expect(completion.fastPath && completion.sequence == 1)
        #expect(KeyValueResult.decode(completion.result) != nil)
    }

    @Test("ordering limit: the primary orders at most L - K above its stable checkpoint, and resumes when it moves")
    func orderingLimit() throws {
        var options = Self.smallWindow()
        var cluster = try ScriptedCluster(options: options)
        let put = KeyValueCommand.put(key: Array("k".utf8), value: Array("v".utf8))
        let first = cluster.deliver(cluster.request(1, 1, put), to: 0)
        let second = cluster.deliver(cluster.request(2, 1, put), to: 0)
        #expect(first.sent(.prePrepare).count == 1 && second.sent(.prePrepare).count == 1)
        // Slot 3 is within H = 4 but above h + L - K = 2: a backup still at h = 0 would refuse slots above 4.
        let third = cluster.deliver(cluster.request(1, 2, put), to: 0)
        #expect(third.sent(.prePrepare).isEmpty, "the request waits for checkpoint 2")
        // The order-reqs reach the backups; checkpoint 2 turns stable and the waiting request goes out at slot 3.
        let later = cluster.run(first, from: 0) + cluster.run(second, from: 0)
        #expect(cluster.replicas[0].lowWatermark == 2)
        let ordered = later.filter { $0.0 == 0 }.flatMap { $0.1.sent(.prePrepare) }.compactMap { outbound -> UInt64? in
            if case .prePrepare(let p) = outbound.envelope.message { p.sequence.rawValue } else { nil }
        }
        #expect(ordered == [3])
        // With L = K there is no room to hold back: the primary orders up to the checkpoint, or h could never move.
        options.logWindow = 2
        var tight = try ScriptedCluster(options: options)
        _ = tight.deliver(tight.request(1, 1, put), to: 0)
        #expect(tight.deliver(tight.request(2, 1, put), to: 0).sent(.prePrepare).count == 1, "slot 2, the checkpoint")
    }

    @Test("commit certificate: 2f+1 spec-responses, sent back, complete on 2f+1 local-commits")
    func commitCertificatePath() throws {
        var cluster = try Self.cluster()
        var client = Self.client(cluster)
        let request = client.submit(Self.put("v"))[0].envelope
        let (responses, _) = Self.order(request, in: &cluster, to: [1, 2])
        for response in responses { #expect(client.receive(response).completion == nil) }
        var certificate: Envelope?
        for _ in 0..<ClientOptions().commitTicks { certificate = certificate ?? client.tick().first?.envelope }
        let commit = try #require(certificate)
        #expect(commit.message.kind == .commitCertificate)
        // r3 never saw the order-req: its history does not match, so it does not vouch for it.
        #expect(cluster.deliver(commit, to: 3).rejections == [.certificateMismatch])
        var completion: Completion?
        for replica: ReplicaID in [0, 1, 2] {
            let localCommits = cluster.deliver(commit, to: replica).sent(.localCommit)
            #expect(localCommits.count == 1)
            for local in localCommits { completion = completion ?? client.receive(local.envelope).completion }
        }
        let done = try #require(completion)
        #expect(!done.fastPath && done.sequence == 1)
    }

    @Test("""
        commit timer: it runs from the moment 2f+1 spec-responses match, not from the request, so answers that are \
        late alike (a loaded cluster) send no certificate
        """)
    func commitTimerFromQuorum() throws {
        var cluster = try Self.cluster()
        var client = Self.client(cluster)
        let request = client.submit(Self.put("v"))[0].envelope
        // The cluster is slow: a whole commit timeout passes before any answer.
        for _ in 0..<ClientOptions().commitTicks { #expect(client.tick().isEmpty) }
        let (responses, _) = Self.order(request, in: &cluster, to: [1, 2])
        for response in responses { #expect(client.receive(response).messages.isEmpty) }
        // The fourth answer gets its own commit timeout from the third; only then does the certificate go.
        for tick in 1..<ClientOptions().commitTicks {
            #expect(client.tick().isEmpty, "no certificate \(tick) tick(s) after the quorum")
        }
        var resending = true
        let certificate = client.tick(resending: &resending)
        #expect(certificate.count == 4 && certificate.allSatisfy { $0.envelope.message.kind == .commitCertificate })
        #expect(!resending, "the first certificate is not counted as a resend")
    }

    @Test("adaptive commit: after a commit-path completion the next certificate goes out at 2f+1, without waiting",
          arguments: [true, false])
    func adaptiveCommit(adaptive: Bool) throws {
        var cluster = try Self.cluster()
        var options = ClientOptions(replication: .zyzzyva)
        options.adaptiveCommit = adaptive
        var client = ClientSession(
            client: 1, configuration: cluster.configuration, options: options, directory: cluster.directory,
            suite: cluster.suite, signer: cluster.clientSigners[1]!)
        // First request: r3 is silent; 2f+1 responses send nothing until the commit timer runs out.
        let first = client.submit(Self.put("a"))[0].envelope
        let (responses, _) = Self.order(first, in: &cluster, to: [1, 2])
        for response in responses { #expect(client.receive(response).messages.isEmpty, "the first request waits") }
        var certificate: Envelope?
        for _ in 0..<options.commitTicks { certificate = certificate ?? client.tick().first?.envelope }
        let commit = try #require(certificate)
        for replica: ReplicaID in [0, 1, 2] {
            for local in cluster.deliver(commit, to: replica).sent(.localCommit) { _ = client.receive(local.envelope) }
        }
        #expect(!client.isBusy && client.fastPathFailing)
        // Second request: with the adaptive rule the third matching response already sends the certificate.
        let second = client.submit(Self.put("b"))[0].envelope
        let (more, _) = Self.order(second, in: &cluster, to: [1, 2])
        let sent = more.flatMap { client.receive($0).messages }
        #expect(sent.count == (adaptive ? 4 : 0), "a certificate to each replica only under the adaptive rule")
        #expect(sent.allSatisfy { $0.envelope.message.kind == .commitCertificate })
    }

    @Test("""
        fast path lost: once another replica's answer differs (signatures) or was refused (MACs), 2f+1 matching \
        spec-responses send the certificate at once
        """, arguments: [ClientAuthentication.signatures, .macs])
    func fastPathLost(_ authentication: ClientAuthentication) throws {
        var cluster = try Self.cluster(authentication)
        var client = ClientSession(
            client: 1, configuration: cluster.configuration,
            options: ClientOptions(replication: .zyzzyva, authentication: authentication),
            directory: cluster.directory, suite: cluster.suite, signer: cluster.clientSigners[1]!)
        let request = client.submit(Self.put("v"))[0].envelope
        let (responses, _) = Self.order(request, in: &cluster, to: [1, 2, 3])
        let fromThree = try #require(responses.first { $0.sender == .replica(3) })
        guard case .specResponse(var lie) = fromThree.message else { throw Failure("not a spec-response") }
        lie.result = [9]
        // Signed by replica 3: an authentic mismatch for a signature-mode client, refused unchecked in MAC mode.
        let liar = Envelope(signing: .specResponse(lie), from: .replica(3), with: cluster.replicaSigners[3])
        let first = client.receive(liar)
        #expect(first.messages.isEmpty, "alone it decides nothing")
        #expect((first.rejected == .signedWhereMACDue) == (authentication == .macs))
        var sent: [Outbound] = []
        for response in responses where response.sender != .replica(3) {
            let step = client.receive(response)
            #expect(step.completion == nil)
            sent += step.messages
        }
        #expect(sent.count == 4 && sent.allSatisfy { $0.envelope.message.kind == .commitCertificate },
                "the third matching answer sends the certificate to every replica, without waiting for the timer")
    }

    @Test("""
        certificate resend: a certificate refused by a replica that had not executed the history goes again, after \
        certificateResendTicks, to the replicas that did not answer
        """)
    func certificateResend() throws {
        var (cluster, client, commit, order, _) = try Self.committing()
        // r2 answers; r3 has not executed the history yet and refuses; r0 and r1 are slow.
        for local in cluster.deliver(commit, to: 2).sent(.localCommit) { _ = client.receive(local.envelope) }
        #expect(cluster.deliver(commit, to: 3).rejections == [.certificateMismatch])
        var resent: [Outbound] = []
        var resending = false
        for _ in 0..<ClientOptions().certificateResendTicks { resent += client.tick(resending: &resending) }
        #expect(resent.allSatisfy { $0.envelope == commit })
        #expect(resending, "a pool counts this one as a resend")
        #expect(Set(resent.map(\.destination)) == [.replica(0), .replica(1), .replica(3)], "not to r2, which answered")
        // r3 catches up and now vouches for the history; with r0's answer that makes 2f+1.
        _ = cluster.deliver(order, to: 3)
        var completion: Completion?
        for replica: ReplicaID in [3, 0] {
            for local in cluster.deliver(commit, to: replica).sent(.localCommit) {
                completion = completion ?? client.receive(local.envelope).completion
            }
        }
        #expect(completion?.fastPath == false && completion?.sequence == 1)
    }

    @Test("commit certificate: one the held certificate covers is answered without re-checking; others are checked")
    func coveredCertificate() throws {
        var (cluster, _, commit, _, responses) = try Self.committing()
        #expect(cluster.deliver(commit, to: 1).sent(.localCommit).count == 1, "replica 1 verifies and keeps it")
        // The same claim with a vote whose signature is someone else's.
        let forged = Envelope(
            unverified: responses[2].message, from: responses[2].sender, signature: try #require(responses[0].signature))
        let claim = Envelope(
            signing: .commitCertificate(CommitCertificate(responses: Array(responses.prefix(2)) + [forged])),
            from: .client(1), with: cluster.clientSigners[1]!)
        #expect(cluster.deliver(claim, to: 1).sent(.localCommit).count == 1, "covered by what replica 1 holds")
        #expect(cluster.deliver(claim, to: 2).rejections == [.invalidCertificate], "replica 2 holds none: it checks")
    }

    /// A commit certificate from client 1 for a request ordered at replicas 0–2, whose third vote carries another
    /// replica's signature.
    static func forgedCertificate(_ cluster: inout ScriptedCluster) throws -> Envelope {
        var client = Self.client(cluster)
        let request = client.submit(Self.put("v"))[0].envelope
        let (responses, _) = Self.order(request, in: &cluster, to: [1, 2])
        let forged = responses.prefix(2) + [Envelope(
            unverified: responses[2].message, from: responses[2].sender, signature: try #require(responses[0].signature))]
        return Envelope(
            signing: .commitCertificate(CommitCertificate(responses: Array(forged))), from: .client(1),
            with: try #require(cluster.clientSigners[1]))
    }

    @Test("commit certificate: one with a forged vote is rejected")
    func forgedCommitCertificateRejected() throws {
        var cluster = try Self.cluster()
        let commit = try Self.forgedCertificate(&cluster)
        #expect(cluster.deliver(commit, to: 1).rejections == [.invalidCertificate])
    }

    @Test("commit certificate: a replica without the claimed history refuses it before checking any signature")
    func certificateForUnheldHistoryRefusedUnchecked() throws {
        var cluster = try Self.cluster()
        let commit = try Self.forgedCertificate(&cluster)
        // r3 never saw the order-req. The forged certificate is refused for the history it claims, not for the
        // signature: a replica that is behind spends no verification on certificates it cannot vouch for.
        #expect(cluster.deliver(commit, to: 3).rejections == [.certificateMismatch])
        #expect(cluster.deliver(commit, to: 2).rejections == [.invalidCertificate], "r2 has the history: it checks")
    }

    @Test("fill-hole: a replica missing an order-req asks the primary, and executes once it arrives")
    func fillHole() throws {
        var cluster = try Self.cluster()
        var first = Self.client(cluster, 1)
        var second = Self.client(cluster, 2)
        let (_, orderOne) = Self.order(first.submit(Self.put("a"))[0].envelope, in: &cluster, to: [1, 2])
        let (_, orderTwo) = Self.order(second.submit(Self.put("b"))[0].envelope, in: &cluster, to: [1, 2])
        let effects = cluster.deliver(orderTwo, to: 3)
        #expect(effects.executedSequences.isEmpty)
        let asks = effects.sent(.fillHole)
        #expect(asks.count == 1 && asks.first?.destination == .replica(0))
        let answer = cluster.deliver(asks[0].envelope, to: 0)
        #expect(answer.messages.map(\.envelope) == [orderOne])
        #expect(cluster.deliver(orderOne, to: 3).executedSequences == [1, 2])
    }

    @Test("proof of misbehaviour: two order-reqs for one slot make every replica leave the view")
    func proofOfMisbehaviour() throws {
        var cluster = try Self.cluster()
        var client = Self.client(cluster)
        let request = client.submit(Self.put("v"))[0].envelope
        let (_, order) = Self.order(request, in: &cluster, to: [1])
        let other = cluster.signed(
            .prePrepare(PrePrepare(
                view: 0, sequence: 1, digest: Replica.batchDigest([], suite: cluster.suite), batch: [],
                history: cluster.suite.digest(Digest.zero.bytes + Replica.batchDigest([], suite: cluster.suite).bytes))),
            by: 0)
        let exposed = cluster.deliver(other, to: 1)
        let proofs = exposed.sent(.misbehaviourProof)
        #expect(proofs.count == 1)
        #expect(exposed.events.contains(.viewChangeStarted(view: 1)))
        let atOther = cluster.deliver(proofs[0].envelope, to: 2)
        #expect(atOther.events.contains(.viewChangeStarted(view: 1)))
        // The same order-req twice proves nothing.
        let bogus = cluster.signed(.misbehaviourProof(MisbehaviourProof(first: order, second: order)), by: 1)
        #expect(cluster.deliver(bogus, to: 3).rejections == [.invalidProof])
    }

    @Test("complaints: f I-hate-the-primary messages do not change the view, f+1 do")
    func complaintsNeedWeakQuorum() throws {
        var cluster = try Self.cluster()
        let complaint = { (replica: ReplicaID) in cluster.signed(.hateThePrimary(HateThePrimary(view: 0)), by: replica) }
        #expect(!cluster.deliver(complaint(1), to: 3).events.contains(.viewChangeStarted(view: 1)))
        #expect(cluster.deliver(complaint(2), to: 3).events.contains(.viewChangeStarted(view: 1)))
    }

    @Test("view-confirm: a replica enters a new view only once 2f+1 replicas voted for its history")
    func viewConfirmNeedsQuorum() throws {
        var cluster = try Self.cluster()
        let changes = [0, 2, 3].map { replica in
            cluster.signed(
                .viewChange(ViewChange(newView: 1, stableSequence: 0, checkpointProof: [], prepared: [])),
                by: ReplicaID(UInt32(replica)))
        }
        var newView: Envelope?
        for change in changes {
            newView = newView ?? cluster.deliver(change, to: 1).sent(.newView).first?.envelope
        }
        let formed = try #require(newView)
        let accepted = cluster.deliver(formed, to: 2)
        #expect(accepted.sent(.historyVote).count == 1)
        #expect(!cluster.replicas[2].viewActive)
        let vote = { (replica: ReplicaID) in
            cluster.signed(.historyVote(HistoryVote(view: 1, sequence: 0, history: .zero)), by: replica)
        }
        #expect(!cluster.deliver(vote(1), to: 2).events.contains(.viewInstalled(view: 1)))
        #expect(cluster.deliver(vote(3), to: 2).events.contains(.viewInstalled(view: 1)))
        #expect(cluster.replicas[2].viewActive && cluster.replicas[2].view == 1)
    }

    @Test("recovery: a restarted replica keeps the order-reqs of its view recorded before a later certificate")
    func restartKeepsOrderRequestsOfItsView() throws {
        let options = Self.smallWindow()
        var cluster = try ScriptedCluster(options: options)
        // r1 enters view 1: a new-view from the view-changes of r0, r2 and r3, confirmed by r2's and r3's votes.
        for replica: ReplicaID in [0, 2, 3] {
            let change = ViewChange(newView: 1, stableSequence: 0, checkpointProof: [], prepared: [])
            _ = cluster.deliver(cluster.signed(.viewChange(change), by: replica), to: 1)
        }
        for replica: ReplicaID in [2, 3] {
            _ = cluster.deliver(cluster.signed(.historyVote(HistoryVote(view: 1, sequence: 0, history: .zero)), by: replica), to: 1)
        }
        #expect(cluster.replicas[1].view == 1 && cluster.replicas[1].viewActive)
        var client = Self.client(cluster)
        for value in ["a", "b"] {
            client.abandon()
            _ = cluster.deliver(client.submit(Self.put(value))[0].envelope, to: 1)
        }
        #expect(cluster.replicas[1].status.lastExecuted == 2)
        // At the checkpoint boundary 2f+1 replicas vouch for the history: a certificate, recorded after the order-reqs.
        let history = cluster.replicas[1].status.history
        for replica: ReplicaID in [2, 3] {
            _ = cluster.deliver(cluster.signed(.historyVote(HistoryVote(view: 1, sequence: 2, history: history)), by: replica), to: 1)
        }
        guard case .certificate? = cluster.durable[1].last else {
            Issue.record("no certificate recorded last: \(String(describing: cluster.durable[1].last))")
            return
        }
        // A store keeps only the newest certificate, which now comes after the order-reqs it covers.
        let store = InMemoryStore()
        store.persist(cluster.durable[1])
        cluster.durable[1] = store.load()
        _ = cluster.restart(1)
        let status = cluster.replicas[1].status
        #expect(status.view == 1 && status.viewActive && status.lastExecuted == 2 && status.history == history)
    }

    @Test("rollback: replicas that executed a request the new view drops undo it")
    func rollbackOfDroppedSpeculation() throws {
        var scenario = try PublishedViewChangeScenario(published: false)
        _ = scenario.run()
        #expect(Set(scenario.rolledBackEnteringView1.filter { $0 != PublishedViewChangeScenario.byzantine }) == [1, 2])
        // a is not in anyone's final history: slot 1 holds b everywhere.
        let histories = Set([1, 2, 3].map { scenario.cluster.replicas[$0].status.history })
        #expect(histories.count == 1)
    }
}
