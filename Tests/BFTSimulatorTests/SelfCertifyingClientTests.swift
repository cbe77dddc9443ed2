import BFTCore
import BFTKeyValue
import BFTSimulator
import Testing

/// Clients the group does not know in advance: the id is derived from the key the request carries.
@Suite("Self-certifying client ids")
struct SelfCertifyingClientTests {
    let operation = KeyValueCommand.put(key: Array("k".utf8), value: Array("v".utf8)).encoded()

    @Test("a request from an unregistered client whose id is its key's is accepted and ordered")
    func accepted() throws {
        var cluster = try ScriptedCluster()
        let signer = cluster.registry.signer(secret: 4242)
        let id = ClientID(selfCertifying: signer.publicKey, suite: cluster.suite)
        let request = Envelope(
            signing: .request(Request(timestamp: 1, operation: operation, clientKey: signer.publicKey)),
            from: .client(id), with: signer)
        let effects = cluster.deliver(request, to: 0)
        #expect(effects.rejections.isEmpty && effects.sent(.prePrepare).count == 1)
        let all = cluster.run(effects, from: 0)
        #expect(all.contains { _, e in e.messages.contains { $0.destination == .client(id) } }, "replies reach it")
    }

    @Test("a request that claims a self-certifying id with another key, or carries no key, is rejected",
          arguments: ["otherKey", "otherKeyAfterGenuine", "noKey", "configuredRange"])
    func rejected(kind: String) throws {
        var cluster = try ScriptedCluster()
        let signer = cluster.registry.signer(secret: 4242)
        let other = cluster.registry.signer(secret: 4343)
        let victim = ClientID(selfCertifying: signer.publicKey, suite: cluster.suite)
        let (id, key): (ClientID, PublicKey?) =
            switch kind {
            case "otherKey", "otherKeyAfterGenuine": (victim, other.publicKey)
            case "noKey": (victim, nil)
            default: (ClientID(77), other.publicKey)  // an id below 2^63 must be configured
            }
        if kind == "otherKeyAfterGenuine" {
            // The replica has checked (and remembers) the victim's genuine key: the impostor's must still fail.
            let genuine = Envelope(
                signing: .request(Request(timestamp: 1, operation: operation, clientKey: signer.publicKey)),
                from: .client(victim), with: signer)
            #expect(cluster.deliver(genuine, to: 0).rejections.isEmpty)
        }
        let request = Envelope(
            signing: .request(Request(timestamp: 2, operation: operation, clientKey: key)), from: .client(id),
            with: other)
        let effects = cluster.deliver(request, to: 0)
        #expect(effects.rejections == [.unknownSender] && effects.messages.isEmpty)
    }
}
