import BFTCore
import BFTRuntime

/// What every Byzantine behaviour gets: the correct replica it wraps (it may run it, or not), its own signing key
/// and no other (so it cannot forge another replica's signature), the crypto suite, and a seeded random stream.
public struct AdversaryContext {
    public var replica: Replica
    public let signer: any Signer
    public let suite: any CryptoSuite
    public var random: SeededRandom

    public init(replica: Replica, signer: any Signer, suite: any CryptoSuite, seed: UInt64) {
        self.replica = replica
        self.signer = signer
        self.suite = suite
        self.random = SeededRandom(seed: seed &+ UInt64(replica.id.rawValue) &* 0x9E37_79B9_7F4A_7C15)
    }

    public var id: ReplicaID { replica.id }
    public var configuration: Configuration { replica.configuration }

    /// Signs `message` as this replica: the only identity an adversary can speak for.
    public func sign(_ message: Message) -> Envelope {
        Envelope(signing: message, from: .replica(replica.id), with: signer)
    }

    /// Seals `message` for a client as the correct replica sealed `original`: with the one MAC under the key this
    /// replica shares with the client if `original` carried one (a faulty replica holds that key too), else
    /// signed. A lie sealed so reaches a MAC-mode client, which refuses signed answers unchecked.
    public func sealForClient(_ message: Message, like original: Envelope, to client: ClientID) -> Envelope {
        guard case .authenticator = original.seal, let key = replica.directory.key(of: .client(client)),
            let shared = signer.sessionKey(with: key)
        else { return sign(message) }
        return Envelope(authenticating: message, from: .replica(replica.id), keys: [shared])
    }

    /// The replicas an outbound message reaches (`allReplicas` expanded, this replica left out).
    public func targets(of outbound: Outbound) -> [ReplicaID] {
        switch outbound.destination {
        case .allReplicas: configuration.replicas.filter { $0 != id }
        case .replica(let replica): replica == id ? [] : [replica]
        case .client: []
        }
    }

    /// True with probability `numerator / denominator`.
    public mutating func chance(_ numerator: UInt64, in denominator: UInt64) -> Bool {
        random.next() % denominator < numerator
    }
}

/// A Byzantine behaviour that runs the correct replica and rewrites what it would do. Most attacks are this:
/// the replica stays in step with the protocol (so the attack lasts), and only its outputs lie.
public protocol EffectsRewriter: ReplicaBehavior {
    var context: AdversaryContext { get set }
    mutating func rewrite(_ effects: Effects) -> Effects
}

extension EffectsRewriter {
    public mutating func receive(_ envelope: Envelope) -> Effects {
        let effects = context.replica.receive(envelope)
        return rewrite(effects)
    }

    public mutating func tick() -> Effects {
        let effects = context.replica.tick()
        return rewrite(effects)
    }

    public mutating func endOfTurn() -> Effects {
        let effects = context.replica.endOfTurn()
        return rewrite(effects)
    }

    public var status: ReplicaStatus { context.replica.status }
}

extension Effects {
    /// The same effects with other messages.
    func with(messages: [Outbound]) -> Effects {
        var copy = self
        copy.messages = messages
        return copy
    }
}
