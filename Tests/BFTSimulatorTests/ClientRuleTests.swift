import BFTCore
import BFTKeyValue
import BFTSimulator
import Testing

@Suite("Client rules")
struct ClientRuleTests {
    private func session(_ cluster: ScriptedCluster, deviate: Bool = false) -> ClientSession {
        ClientSession(
            client: 1, configuration: cluster.configuration, options: ClientOptions(retransmitTicks: 3),
            directory: cluster.directory, suite: cluster.suite, signer: cluster.clientSigners[1]!)
    }

    private func reply(
        _ cluster: ScriptedCluster, _ timestamp: Timestamp, _ result: [UInt8], by replica: ReplicaID,
        to client: ClientID = 1, view: ViewNumber = 0
    ) -> Envelope {
        cluster.signed(.reply(Reply(view: view, timestamp: timestamp, client: client, result: result)), by: replica)
    }

    @Test("client f+1 rule: a result is accepted only on f+1 matching replies from distinct replicas")
    func fPlusOneMatching() throws {
        let cluster = try ScriptedCluster()
        var client = session(cluster)
        let sent = client.submit([1])
        #expect(sent.count == 1 && sent[0].destination == .replica(0), "the first copy goes to the primary")
        let t = try #require(client.outstandingTimestamp)
        #expect(client.receive(reply(cluster, t, [9], by: 1)).completion == nil, "one reply is not enough")
        #expect(client.receive(reply(cluster, t, [9], by: 1)).rejected == .duplicate, "the same replica twice")
        #expect(client.receive(reply(cluster, t, [8], by: 2)).completion == nil, "a mismatched reply does not count")
        #expect(client.receive(reply(cluster, t + 0, [9], by: 3)).completion == Completion(timestamp: t, result: [9]))
        #expect(!client.isBusy)
    }

    @Test("client view rule: the view learned comes from the replies that agree on the result, not from any reply")
    func viewFromMatchingReplies() throws {
        let cluster = try ScriptedCluster()
        var client = session(cluster)
        _ = client.submit([1])
        let t = try #require(client.outstandingTimestamp)
        // A faulty replica's reply with another result claims a far view; it must not steer the next request.
        #expect(client.receive(reply(cluster, t, [8], by: 2, view: 50)).completion == nil)
        #expect(client.receive(reply(cluster, t, [9], by: 1, view: 0)).completion == nil)
        #expect(client.receive(reply(cluster, t, [9], by: 3, view: 1)).completion == Completion(timestamp: t, result: [9]))
        #expect(client.view == 1)
        #expect(client.submit([2]).map(\.destination) == [.replica(1)], "the next request goes to view 1's primary")
    }

    @Test("client rules: replies with a bad signature or for another request are refused")
    func badReplies() throws {
        let cluster = try ScriptedCluster()
        var client = session(cluster)
        _ = client.submit([1])
        let t = try #require(client.outstandingTimestamp)
        let genuine = reply(cluster, t, [9], by: 1)
        let forged = Envelope(unverified: genuine.message, from: .replica(2), signature: try #require(genuine.signature))
        #expect(client.receive(forged).rejected == .badSignature)
        #expect(client.receive(reply(cluster, Timestamp(t.rawValue + 7), [9], by: 2)).rejected == .staleRequest)
    }

    @Test("client rules: a reply names its client (PBFT §4.1's c); one for another client is refused")
    func replyForAnotherClient() throws {
        let cluster = try ScriptedCluster()
        var client = session(cluster)
        _ = client.submit([1])
        let t = try #require(client.outstandingTimestamp)
        // Same request timestamp, correctly signed by replicas, but addressed to client 2: never counted.
        for replica in [1, 2, 3] as [ReplicaID] {
            #expect(client.receive(reply(cluster, t, [9], by: replica, to: 2)).rejected == .wrongClient)
        }
        #expect(client.isBusy, "no completion from replies meant for another client")
        #expect(client.receive(reply(cluster, t, [9], by: 1)).completion == nil)
        #expect(client.receive(reply(cluster, t, [9], by: 2)).completion == Completion(timestamp: t, result: [9]))
    }

    @Test("client retransmission: after the timeout the request goes to every replica")
    func retransmission() throws {
        let cluster = try ScriptedCluster()
        var client = session(cluster)
        let first = client.submit([1])
        #expect(client.tick().isEmpty)
        #expect(client.tick().isEmpty)
        let again = client.tick()
        #expect(again.map(\.destination) == [.replica(0), .replica(1), .replica(2), .replica(3)])
        #expect(again.allSatisfy { $0.envelope == first[0].envelope }, "the same signed request, not a new one")
    }
}

extension Timestamp {
    static func + (a: Timestamp, b: UInt64) -> Timestamp { Timestamp(a.rawValue + b) }
}
