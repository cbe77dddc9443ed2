import BFTCore
import BFTRuntime

/// A primary that sends conflicting pre-prepares for one sequence number to different backups (PBFT §4.2): half
/// of the backups, drawn afresh for each pre-prepare, get the batch without its first request, and one backup in
/// four gets both versions, in random order. Attacks agreement;
/// the defence is that 2f+1 prepares for one digest cannot form, so the slot stalls until a view change. Under the
/// speculative protocol the twin is a consistent fork (its history chains onto the same prefix), so the backups
/// that take it execute it; the defences are 3f+1 or a certificate for completion, proofs of misbehaviour, and
/// rollback in the view change.
public struct EquivocatingPrimary: EffectsRewriter {
    public var context: AdversaryContext
    /// The history digest and sequence number of the last order-req it sent (speculative protocol).
    var last: (sequence: SequenceNumber, history: Digest)?
    public init(_ context: AdversaryContext) { self.context = context }

    public mutating func rewrite(_ effects: Effects) -> Effects {
        var messages: [Outbound] = []
        for outbound in effects.messages {
            guard case .prePrepare(var p) = outbound.envelope.message, !p.batch.isEmpty else {
                messages.append(outbound)
                continue
            }
            let real = (p.sequence, p.history)
            p.batch.removeFirst()
            p.digest = Replica.batchDigest(p.batch, suite: context.suite)
            if p.history != .zero, let last, last.sequence.rawValue + 1 == p.sequence.rawValue {
                p.history = context.suite.digest(last.history.bytes + p.digest.bytes)
            }
            if real.1 != .zero { last = real }
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
            case .historyVote(var vote):
                vote.history = randomDigest()
                forged = .historyVote(vote)
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
