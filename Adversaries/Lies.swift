import BFTCore
import BFTRuntime

/// A replica that answers clients with wrong results. Attacks what clients see (invariant 4); the defence is the
/// client's f+1 matching replies.
public struct LyingReplier: EffectsRewriter {
    public var context: AdversaryContext
    public init(_ context: AdversaryContext) { self.context = context }

    public mutating func rewrite(_ effects: Effects) -> Effects {
        effects.with(messages: effects.messages.map { outbound in
            guard case .reply(var reply) = outbound.envelope.message else { return outbound }
            reply.result = Array("a lie \(context.random.next() % 1000)".utf8)
            return Outbound(context.sign(.reply(reply)), to: outbound.destination)
        })
    }
}

/// A replica that lies about state: its checkpoint messages carry a wrong digest, and the state-transfer chunks it
/// serves are corrupted. Attacks checkpoint agreement and state transfer; the defences are 2f+1 matching
/// checkpoint messages and checking fetched state against the certified digest.
public struct LyingCheckpointer: EffectsRewriter {
    public var context: AdversaryContext
    public init(_ context: AdversaryContext) { self.context = context }

    public mutating func rewrite(_ effects: Effects) -> Effects {
        effects.with(messages: effects.messages.map { outbound in
            switch outbound.envelope.message {
            case .checkpoint(var checkpoint):
                checkpoint.stateDigest = Digest(words: (context.random.next(), 1, 2, 3))
                return Outbound(context.sign(.checkpoint(checkpoint)), to: outbound.destination)
            case .stateChunk(var chunk):
                if chunk.data.isEmpty { chunk.data = [0] } else { chunk.data[Int(context.random.next() % UInt64(chunk.data.count))] ^= 0xA5 }
                return Outbound(context.sign(.stateChunk(chunk)), to: outbound.destination)
            default:
                return outbound
            }
        })
    }
}
