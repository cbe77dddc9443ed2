import BFTCore
import BFTKeyValue
import BFTSimulator
import Testing

/// MAC authenticators for client traffic (PBFT, TOCS 2002 §3.2): a request carries one MAC per replica, each
/// replica checks only its own entry, and a reply carries one MAC for its client.
@Suite("Client authentication rules")
struct ClientAuthenticationTests {
    static var macOptions: ReplicaOptions { options(.macs) }

    static func options(_ authentication: ClientAuthentication) -> ReplicaOptions {
        var options = ReplicaOptions()
        options.clientAuthentication = authentication
        return options
    }

    private func session(_ cluster: ScriptedCluster, _ authentication: ClientAuthentication = .macs) -> ClientSession {
        ClientSession(
            client: 1, configuration: cluster.configuration,
            options: ClientOptions(retransmitTicks: 3, authentication: authentication), directory: cluster.directory,
            suite: cluster.suite, signer: cluster.clientSigners[1]!)
    }

    /// The client's request with the MAC for `replica` flipped.
    private func corrupting(_ request: Envelope, entryOf replica: Int) throws -> Envelope {
        guard case .authenticator(var macs) = request.seal else { throw Failure("the request carries no authenticator") }
        var bytes = macs[replica].bytes
        bytes[0] ^= 1
        macs[replica] = MAC(checked: bytes)
        return Envelope(unverified: request.message, from: request.sender, macs: macs)
    }

    private func prePrepares(_ effects: Effects) -> [Envelope] {
        effects.messages.map(\.envelope).filter { $0.message.kind == .prePrepare }
    }

    private func prepares(_ effects: Effects) -> [Envelope] {
        effects.messages.map(\.envelope).filter { $0.message.kind == .prepare }
    }

    @Test("MAC authenticator: one entry per replica; the primary orders the request and every backup accepts it")
    func authenticatorPerReplica() throws {
        var cluster = try ScriptedCluster(options: Self.macOptions)
        var client = session(cluster)
        let request = try #require(client.submit(KeyValueCommand.put(key: [1], value: [2]).encoded()).first)
        guard case .authenticator(let macs) = request.envelope.seal else {
            Issue.record("a MAC-mode client must send an authenticator")
            return
        }
        #expect(macs.count == 4)
        let ordered = prePrepares(cluster.tickAfter(cluster.deliver(request.envelope, to: 0), at: 0))
        let prePrepare = try #require(ordered.first, "the primary accepts its entry and orders the request")
        for backup in [1, 2, 3] as [ReplicaID] {
            #expect(prepares(cluster.deliver(prePrepare, to: backup)).count == 1, "backup \(backup) checks its entry")
        }
    }

    @Test("MAC authenticator: a wrong entry for a replica makes that replica, and only it, refuse the request")
    func wrongEntryRefused() throws {
        var cluster = try ScriptedCluster(options: Self.macOptions)
        var client = session(cluster)
        let request = try #require(client.submit(KeyValueCommand.put(key: [1], value: [2]).encoded()).first).envelope
        let badForPrimary = try corrupting(request, entryOf: 0)
        let refused = cluster.deliver(badForPrimary, to: 0)
        #expect(refused.events.contains { if case .rejected(.badSignature, _, _) = $0 { true } else { false } })
        #expect(prePrepares(cluster.tickAfter(refused, at: 0)).isEmpty)

        let badForBackup1 = try corrupting(request, entryOf: 1)
        let prePrepare = try #require(prePrepares(cluster.tickAfter(cluster.deliver(badForBackup1, to: 0), at: 0)).first)
        let atBackup1 = cluster.deliver(prePrepare, to: 1)
        #expect(atBackup1.events.contains { if case .rejected(.badRequestInBatch, _, _) = $0 { true } else { false } })
        #expect(prepares(atBackup1).isEmpty)
        #expect(prepares(cluster.deliver(prePrepare, to: 2)).count == 1, "backup 2's entry is intact")
    }

    @Test(
        "client authentication setting: a cluster that wants signed requests refuses MAC-authenticated ones",
        arguments: [ClientAuthentication.signatures, .signedRequests])
    func signatureModeRefusesAuthenticators(_ setting: ClientAuthentication) throws {
        var cluster = try ScriptedCluster(options: Self.options(setting))
        var client = session(cluster)
        let request = try #require(client.submit([1]).first).envelope
        let effects = cluster.deliver(request, to: 0)
        #expect(effects.events.contains { if case .rejected(.badSignature, _, _) = $0 { true } else { false } })
        #expect(prePrepares(cluster.tickAfter(effects, at: 0)).isEmpty)
    }

    @Test(
        "MAC replies: the client accepts f+1 replies sealed for it, and refuses one sealed under another pair's key",
        arguments: [ClientAuthentication.macs, .signedRequests])
    func replyMACs(_ setting: ClientAuthentication) throws {
        var cluster = try ScriptedCluster(options: Self.options(setting))
        var client = session(cluster, setting)
        let request = try #require(client.submit(KeyValueCommand.put(key: [1], value: [2]).encoded()).first).envelope
        #expect((request.signature != nil) == (setting == .signedRequests), "signed-requests mode signs the request")
        let prePrepare = try #require(prePrepares(cluster.tickAfter(cluster.deliver(request, to: 0), at: 0)).first)
        // Run the normal case by hand: everyone prepares and commits, then each replica replies.
        var outbox: [Envelope] = []
        for backup in [1, 2, 3] as [ReplicaID] { outbox += cluster.deliver(prePrepare, to: backup).messages.map(\.envelope) }
        var replies: [ReplicaID: Envelope] = [:]
        var rounds = 0
        while let next = outbox.first, rounds < 200 {
            outbox.removeFirst()
            rounds += 1
            for replica in cluster.configuration.replicas where .replica(replica) != next.sender {
                for outbound in cluster.deliver(next, to: replica).messages {
                    if case .reply = outbound.envelope.message { replies[replica] = outbound.envelope }
                    else { outbox.append(outbound.envelope) }
                }
            }
        }
        #expect(replies.count == 4, "all four replicas executed and replied")
        let fromOne = try #require(replies[1])
        guard case .authenticator(let macs) = fromOne.seal else {
            Issue.record("a MAC-mode reply must carry an authenticator")
            return
        }
        #expect(macs.count == 1)
        // Replica 2 claiming replica 1's reply: the MAC is under the (client, 1) key, not (client, 2).
        let relabelled = Envelope(unverified: fromOne.message, from: .replica(2), macs: macs)
        #expect(client.receive(relabelled).rejected == .badSignature)
        #expect(client.receive(fromOne).completion == nil)
        let completion = client.receive(try #require(replies[3])).completion
        #expect(completion?.result == KeyValueResult.ok.encoded())
    }

    @Test(
        "MAC replies: a signed reply to a client that shares keys with every replica is refused unchecked",
        arguments: [ClientAuthentication.macs, .signedRequests, .signatures])
    func signedReplyRefused(_ setting: ClientAuthentication) throws {
        let cluster = try ScriptedCluster(options: Self.options(setting))
        var client = session(cluster, setting)
        _ = client.submit(KeyValueCommand.get(key: [1]).encoded())
        let timestamp = try #require(client.outstandingTimestamp)
        // Correctly signed by replica 2: only a client that expects signatures accepts it.
        let reply = Envelope(
            signing: .reply(Reply(view: 0, timestamp: timestamp, client: 1, result: [7])), from: .replica(2),
            with: cluster.replicaSigners[2])
        let step = client.receive(reply)
        #expect(step.rejected == (setting == .signatures ? nil : .signedWhereMACDue))
    }

    @Test("""
        MAC spec-responses: sealed for the client, each carrying a signed history vote; 2f+1 votes commit; the \
        certificate is MAC'd (signed in signed-requests mode) and the local-commits are MAC'd
        """, arguments: [ClientAuthentication.macs, .signedRequests])
    func speculativeMACs(_ setting: ClientAuthentication) throws {
        var options = Self.options(setting)
        options.replication = .zyzzyva
        var cluster = try ScriptedCluster(options: options)
        var client = ClientSession(
            client: 1, configuration: cluster.configuration,
            options: ClientOptions(replication: .zyzzyva, authentication: setting), directory: cluster.directory,
            suite: cluster.suite, signer: cluster.clientSigners[1]!)
        let request = try #require(client.submit(SpeculativeRuleTests.put("v")).first).envelope
        let (responses, _) = SpeculativeRuleTests.order(request, in: &cluster, to: [1, 2])
        #expect(responses.count == 3)
        for response in responses {
            guard case .authenticator(let macs) = response.seal, case .specResponse(let r) = response.message else {
                Issue.record("a MAC-mode spec-response must be sealed for its client")
                continue
            }
            #expect(macs.count == 1 && r.vote?.signature != nil, "one MAC, and a signed vote inside")
            #expect(client.receive(response).completion == nil)
        }
        var certificate: Envelope?
        for _ in 0..<ClientOptions().commitTicks { certificate = certificate ?? client.tick().first?.envelope }
        let commit = try #require(certificate)
        guard case .commitCertificate(let carried) = commit.message else {
            Issue.record("expected a commit certificate")
            return
        }
        #expect(carried.responses.allSatisfy { $0.message.kind == .historyVote }, "votes every replica can check")
        switch (setting, commit.seal) {
        case (.macs, .authenticator(let entries)):
            #expect(entries.count == 4)
            let tampered = try corrupting(commit, entryOf: 0)
            #expect(cluster.deliver(tampered, to: 0).rejections == [.badSignature], "replica 0 checks its own entry")
        case (.signedRequests, .signature): break
        default: Issue.record("\(setting): the commit certificate is sealed like a request, got \(commit.seal)")
        }
        var completion: Completion?
        for replica: ReplicaID in [0, 1, 2] {
            let localCommits = cluster.deliver(commit, to: replica).sent(.localCommit)
            #expect(localCommits.count == 1, "replica \(replica) accepts the certificate")
            for local in localCommits {
                guard case .authenticator(let macs) = local.envelope.seal, macs.count == 1 else {
                    Issue.record("a local-commit to a MAC-mode client carries one MAC for it")
                    continue
                }
                completion = completion ?? client.receive(local.envelope).completion
            }
        }
        #expect(completion?.fastPath == false && completion?.sequence == 1)
    }

    @Test("MAC mode, zyzzyva, 20 nemesis seeds: no violation (no rollback), every request completes")
    func speculativeSweep() throws {
        var options = NemesisSweepTests.nemesis()
        options.replication = .zyzzyva
        options.clientAuthentication = .macs
        let (totals, failures) = try NemesisSweepTests.sweep(1...20, options)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        #expect(totals.completedRequests == 20 * options.clients * options.requestsPerClient)
    }

    @Test(
        "signed-requests mode, 10 nemesis seeds per protocol: no violation, every request completes",
        arguments: [ReplicationProtocol.pbft, .zyzzyva])
    func signedRequestsSweep(_ replication: ReplicationProtocol) throws {
        var options = NemesisSweepTests.nemesis()
        options.replication = replication
        options.clientAuthentication = .signedRequests
        let (totals, failures) = try NemesisSweepTests.sweep(1...10, options)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        #expect(totals.completedRequests == 10 * options.clients * options.requestsPerClient)
    }

    @Test("MAC mode, 30 nemesis seeds and the real HMAC-SHA256 and X25519 on 2: no violation, every request completes")
    func sweep() throws {
        var options = NemesisSweepTests.nemesis()
        options.clientAuthentication = .macs
        let (totals, failures) = try NemesisSweepTests.sweep(1...30, options)
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        #expect(totals.completedRequests == 30 * options.clients * options.requestsPerClient)
        options.realCrypto = SweepTests.realCrypto
        let (_, realFailures) = try NemesisSweepTests.sweep(1...2, options)
        #expect(realFailures.isEmpty, "\(realFailures.joined(separator: "\n"))")
    }
}

struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension ScriptedCluster {
    /// What `effects` sent, plus what the replica sends on its next tick (the primary cuts partial batches then).
    mutating func tickAfter(_ effects: Effects, at replica: ReplicaID) -> Effects {
        var combined = effects
        combined.messages += replicas[Int(replica.rawValue)].tick().messages
        return combined
    }
}
