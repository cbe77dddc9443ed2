import BFTCore
import BFTKeyValue
import BFTRuntime

/// Test-only Byzantine behaviours with a fixed, deterministic attack (the catalog's behaviours are randomized):
/// each exists because a broken-variant test needs exactly this schedule. Each signs only with its own key.

/// A primary that sends replica 1 a different pre-prepare for the same slot: the batch emptied, with the digest
/// either recomputed (an equivocation) or kept (a digest that lies about the batch).
struct SplitPrimary: ReplicaBehavior {
    var inner: Replica
    let signer: any Signer
    let suite: any CryptoSuite
    let keepDigest: Bool
    let victim: ReplicaID = 1

    mutating func receive(_ envelope: Envelope) -> Effects { rewrite(inner.receive(envelope)) }
    mutating func tick() -> Effects { rewrite(inner.tick()) }
    var status: ReplicaStatus { inner.status }

    func rewrite(_ effects: Effects) -> Effects {
        var out = effects
        out.messages = []
        for outbound in effects.messages {
            guard case .prePrepare(var prePrepare) = outbound.envelope.message, !prePrepare.batch.isEmpty else {
                out.messages.append(outbound)
                continue
            }
            prePrepare.batch = []
            if !keepDigest { prePrepare.digest = Replica.batchDigest([], suite: suite) }
            let forged = Envelope(signing: .prePrepare(prePrepare), from: .replica(inner.id), with: signer)
            for replica in inner.configuration.replicas where replica != inner.id {
                let targeted = outbound.destination == .allReplicas || outbound.destination == .replica(replica)
                guard targeted else { continue }
                out.messages.append(Outbound(replica == victim ? forged : outbound.envelope, to: .replica(replica)))
            }
        }
        return out
    }
}

/// A replica that serves, in answer to every state request, a well-formed but wrong state: the initial one
/// (an empty store and reply table), in one chunk (the lying checkpointer).
struct CorruptStateServer: ReplicaBehavior {
    var inner: Replica
    let signer: any Signer

    mutating func receive(_ envelope: Envelope) -> Effects { rewrite(inner.receive(envelope)) }
    mutating func tick() -> Effects { rewrite(inner.tick()) }
    var status: ReplicaStatus { inner.status }

    /// The initial checkpoint state: an empty store's snapshot, then an empty reply table.
    static var initialState: [UInt8] {
        var writer = ByteWriter()
        writer.byteString(KeyValueStore().snapshot())
        writer.u32(0)
        return writer.bytes
    }

    func rewrite(_ effects: Effects) -> Effects {
        var out = effects
        out.messages = effects.messages.map { outbound in
            guard case .stateChunk(var chunk) = outbound.envelope.message else { return outbound }
            chunk.chunkIndex = 0
            chunk.chunkCount = 1
            chunk.data = Self.initialState
            return Outbound(Envelope(signing: .stateChunk(chunk), from: .replica(inner.id), with: signer),
                            to: outbound.destination)
        }
        return out
    }
}
