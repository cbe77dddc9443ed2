import BFTCore
import BFTRuntime

/// A replica that forges: next to each message it sends, it sends a copy that claims another replica as its
/// sender (signed with its own key, so the signature cannot verify) and a changed copy of its own message with a
/// corrupted signature. Attacks authentication; the defence is verifying every signature against the named
/// sender's key, before anything else.
public struct Forger: EffectsRewriter {
    public var context: AdversaryContext
    public init(_ context: AdversaryContext) { self.context = context }

    public mutating func rewrite(_ effects: Effects) -> Effects {
        var messages = effects.messages
        for outbound in effects.messages {
            if case .client = outbound.destination { continue }
            // Replicas sign everything they send each other; only client traffic may carry MACs.
            guard let signature = outbound.envelope.signature else { continue }
            let others = context.configuration.replicas.filter { $0 != context.id }
            guard !others.isEmpty else { continue }
            let victim = others[Int(context.random.next() % UInt64(others.count))]
            let impersonation = Envelope(
                unverified: outbound.envelope.message, from: .replica(victim), signature: signature)
            messages.append(Outbound(impersonation, to: outbound.destination))
            var corrupted = signature.bytes
            corrupted[Int(context.random.next() % 64)] ^= 0x01
            let badSignature = Envelope(
                unverified: outbound.envelope.message, from: outbound.envelope.sender,
                signature: Signature(checked: corrupted))
            messages.append(Outbound(badSignature, to: outbound.destination))
        }
        return effects.with(messages: messages)
    }
}

/// A replica that replays: it keeps the last 256 messages it received (validly signed by others) and sent, and on
/// every tick multicasts a few of them again, from past views and sequence numbers. Attacks freshness; the
/// defences are the view and watermark checks, one vote per replica per slot, and the reply table.
public struct Replayer: ReplicaBehavior {
    public var context: AdversaryContext
    var recorded: [Envelope] = []
    var next = 0

    public init(_ context: AdversaryContext) { self.context = context }

    public var status: ReplicaStatus { context.replica.status }

    public mutating func receive(_ envelope: Envelope) -> Effects {
        remember(envelope)
        let effects = context.replica.receive(envelope)
        for outbound in effects.messages { remember(outbound.envelope) }
        return effects
    }

    public mutating func endOfTurn() -> Effects {
        let effects = context.replica.endOfTurn()
        for outbound in effects.messages { remember(outbound.envelope) }
        return effects
    }

    public mutating func tick() -> Effects {
        var effects = context.replica.tick()
        for outbound in effects.messages { remember(outbound.envelope) }
        guard !recorded.isEmpty else { return effects }
        for _ in 0..<3 {
            let old = recorded[Int(context.random.next() % UInt64(recorded.count))]
            effects.messages.append(Outbound(old, to: .allReplicas))
        }
        return effects
    }

    mutating func remember(_ envelope: Envelope) {
        if case .reply = envelope.message { return }
        if recorded.count < 256 {
            recorded.append(envelope)
        } else {
            recorded[next] = envelope
            next = (next + 1) % 256
        }
    }
}
