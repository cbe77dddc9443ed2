/// Which agreement protocol a cluster runs. Both run in the same `Replica`, with the same crypto, codec, batching,
/// checkpoints, state transfer and application, so a comparison measures the protocols and nothing else.
public enum ReplicationProtocol: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// PBFT's signature variant (Castro & Liskov, OSDI 1999): three phases, a result on f+1 matching replies.
    case pbft
    /// Zyzzyva's speculative fast path (Kotla et al., SOSP 2007): replicas execute in the primary's order at once;
    /// a client completes on 3f+1 matching spec-responses, or on a commit certificate of 2f+1. The view change
    /// ranks evidence by view (Abraham et al., arXiv 1712.01367 and 1801.10022), not by sequence number.
    case zyzzyva

    public var description: String { rawValue }
}
