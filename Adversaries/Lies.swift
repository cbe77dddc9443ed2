import BFTCore
import BFTRuntime

/// A replica that answers clients with wrong results (and, speculatively, with a wrong history half the time).
/// Attacks what clients see (invariant 4); the defences are the client's f+1 matching replies, and under the
/// speculative protocol 3f+1 matching spec-responses or a commit certificate of 2f+1. Lies are sealed as the
/// correct answer was: MAC'd for a MAC-mode client whose key the directory holds, else signed.
public struct LyingReplier: EffectsRewriter {
    public var context: AdversaryContext
    public init(_ context: AdversaryContext) { self.context = context }

    public mutating func rewrite(_ effects: Effects) -> Effects {
        effects.with(messages: effects.messages.map { outbound in
            switch outbound.envelope.message {
            case .reply(var reply):
                reply.result = lie()
                return Outbound(seal(.reply(reply), like: outbound), to: outbound.destination)
            case .specResponse(var response):
                response.result = lie()
                if context.chance(1, in: 2) { response.history = Digest(words: (context.random.next(), 0, 0, 1)) }
                return Outbound(seal(.specResponse(response), like: outbound), to: outbound.destination)
            default:
                return outbound
            }
        })
    }

    private func seal(_ message: Message, like outbound: Outbound) -> Envelope {
        guard case .client(let client) = outbound.destination else { return context.sign(message) }
        return context.sealForClient(message, like: outbound.envelope, to: client)
    }

    private mutating func lie() -> [UInt8] { Array("a lie \(context.random.next() % 1000)".utf8) }
}

/// A replica that lies about state: half of its checkpoint messages carry a wrong digest, and every state
/// transfer it serves hands out a stale state (the first one it ever served, in one chunk) instead of the one asked
/// for. Attacks checkpoint agreement and state transfer; the defences are 2f+1 matching checkpoint messages and
/// checking fetched state against the certified digest.
public struct LyingCheckpointer: EffectsRewriter {
    public var context: AdversaryContext
    var stale: [UInt8]?

    public init(_ context: AdversaryContext) { self.context = context }

    public mutating func rewrite(_ effects: Effects) -> Effects {
        var messages: [Outbound] = []
        for outbound in effects.messages {
            switch outbound.envelope.message {
            case .checkpoint(var checkpoint) where context.chance(1, in: 2):
                checkpoint.stateDigest = Digest(words: (context.random.next(), 1, 2, 3))
                messages.append(Outbound(context.sign(.checkpoint(checkpoint)), to: outbound.destination))
            case .stateChunk(var chunk):
                if stale == nil && chunk.chunkCount == 1 { stale = chunk.data }
                if let stale, stale != chunk.data {
                    chunk.chunkIndex = 0
                    chunk.chunkCount = 1
                    chunk.data = stale
                } else {
                    chunk.data = Self.withoutReplyTable(chunk.data)
                }
                messages.append(Outbound(context.sign(.stateChunk(chunk)), to: outbound.destination))
            default:
                messages.append(outbound)
            }
        }
        return effects.with(messages: messages)
    }

    /// The state with its reply table emptied (snapshot length, snapshot, then a count of 0): well formed, and
    /// wrong as soon as the table was not empty; anything else gets its last byte flipped.
    static func withoutReplyTable(_ data: [UInt8]) -> [UInt8] {
        guard data.count >= 8 else { return data.isEmpty ? [0] : Array(data.dropLast()) + [data[data.count - 1] ^ 0xA5] }
        let length = data.prefix(4).reduce(0) { $0 << 8 | Int($1) }
        guard 4 + length + 4 < data.count else { return Array(data.dropLast()) + [data[data.count - 1] ^ 0xA5] }
        return Array(data.prefix(4 + length)) + [0, 0, 0, 0]
    }
}
