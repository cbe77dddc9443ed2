import BFTCore
import BFTRuntime

/// A primary that sends conflicting pre-prepares for one sequence number to different backups (PBFT §4.2): half
/// of the backups, drawn afresh for each pre-prepare, get the batch without its first request, and one backup in
/// four gets both versions, in random order. Attacks agreement;
/// the defence is that 2f+1 prepares for one digest cannot form, so the slot stalls until a view change.
public struct EquivocatingPrimary: EffectsRewriter {
    public var context: AdversaryContext
    public init(_ context: AdversaryContext) { self.context = context }

    public mutating func rewrite(_ effects: Effects) -> Effects {
        var messages: [Outbound] = []
        for outbound in effects.messages {
            guard case .prePrepare(var p) = outbound.envelope.message, !p.batch.isEmpty else {
                messages.append(outbound)
                continue
            }
            p.batch.removeFirst()
            p.digest = Replica.batchDigest(p.batch, suite: context.suite)
            let other = context.sign(.prePrepare(p))
            for target in context.targets(of: outbound) {
                let twin = context.chance(1, in: 2)
                messages.append(Outbound(twin ? other : outbound.envelope, to: .replica(target)))
                if context.chance(1, in: 4) {
                    messages.append(Outbound(twin ? outbound.envelope : other, to: .replica(target)))
                }
            }
        }
        return effects.with(messages: messages)
    }
}

/// A backup that votes for different digests to different replicas: each prepare and commit goes out as the real
/// vote to some replicas and as a vote for a made-up digest to the others. Attacks agreement and the quorum
/// counting; the defence is `QuorumTracker`, which counts one vote per replica per digest.
public struct EquivocatingBackup: EffectsRewriter {
    public var context: AdversaryContext
    public init(_ context: AdversaryContext) { self.context = context }

    public mutating func rewrite(_ effects: Effects) -> Effects {
        var messages: [Outbound] = []
        for outbound in effects.messages {
            let forged: Message
            switch outbound.envelope.message {
            case .prepare(var vote):
                vote.digest = randomDigest()
                forged = .prepare(vote)
            case .commit(var vote):
                vote.digest = randomDigest()
                forged = .commit(vote)
            default:
                messages.append(outbound)
                continue
            }
            let other = context.sign(forged)
            for target in context.targets(of: outbound) {
                messages.append(Outbound(context.chance(1, in: 2) ? other : outbound.envelope, to: .replica(target)))
            }
        }
        return effects.with(messages: messages)
    }

    mutating func randomDigest() -> Digest {
        Digest(words: (context.random.next(), context.random.next(), context.random.next(), context.random.next()))
    }
}
