import BFTCore
import BFTRuntime

/// A mute replica: it runs the protocol but sends nothing, to replicas or clients. Attacks liveness; the defence is
/// quorums of 2f+1 out of 3f+1 (and, when it is the primary, the view change).
public struct Silent: EffectsRewriter {
    public var context: AdversaryContext
    public init(_ context: AdversaryContext) { self.context = context }

    public mutating func rewrite(_ effects: Effects) -> Effects { effects.with(messages: []) }
}

/// A replica that talks only to some: it drops everything to a fixed set of ⌊(n-1)/2⌋ replicas drawn at start, so
/// those see it as mute while the others see it as correct. Attacks liveness by splitting views of it.
public struct SelectivelySilent: EffectsRewriter {
    public var context: AdversaryContext
    let victims: Set<ReplicaID>

    public init(_ context: AdversaryContext) {
        var context = context
        var others = context.configuration.replicas.filter { $0 != context.id }
        for i in stride(from: others.count - 1, to: 0, by: -1) {
            others.swapAt(i, Int(context.random.next() % UInt64(i + 1)))
        }
        victims = Set(others.prefix((context.configuration.replicaCount - 1) / 2))
        self.context = context
    }

    public mutating func rewrite(_ effects: Effects) -> Effects {
        var messages: [Outbound] = []
        for outbound in effects.messages {
            if case .client = outbound.destination {
                messages.append(outbound)
                continue
            }
            for target in context.targets(of: outbound) where !victims.contains(target) {
                messages.append(Outbound(outbound.envelope, to: .replica(target)))
            }
        }
        return effects.with(messages: messages)
    }
}

/// A primary that sends each pre-prepare to only f backups (everything else as usual): fewer than 2f+1 replicas
/// can prepare, so nothing commits. Attacks liveness; the defence is the view change.
public struct PartialPrimary: EffectsRewriter {
    public var context: AdversaryContext
    public init(_ context: AdversaryContext) { self.context = context }

    public mutating func rewrite(_ effects: Effects) -> Effects {
        let f = context.configuration.faultTolerance
        var messages: [Outbound] = []
        for outbound in effects.messages {
            guard case .prePrepare = outbound.envelope.message else {
                messages.append(outbound)
                continue
            }
            for target in context.targets(of: outbound).prefix(f) {
                messages.append(Outbound(outbound.envelope, to: .replica(target)))
            }
        }
        return effects.with(messages: messages)
    }
}
