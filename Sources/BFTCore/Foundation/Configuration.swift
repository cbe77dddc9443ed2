/// The size of a replica group and every quorum size derived from it. Quorums are computed here and nowhere else.
public struct Configuration: Hashable, Sendable, CustomStringConvertible {
    /// The largest group this implementation accepts; it bounds certificate sizes in the codec.
    public static let maximumReplicaCount = 256

    /// n, the number of replicas.
    public let replicaCount: Int
    /// f, the number of Byzantine replicas tolerated.
    public let faultTolerance: Int

    /// Creates a configuration for `replicas` replicas tolerating `faulty` faults; without `faulty`, the largest f
    /// with n ≥ 3f+1.
    public init(replicas: Int, faulty: Int? = nil) throws(ConfigurationError) {
        guard replicas >= 1 else { throw .tooFewReplicas(replicas: replicas, faulty: faulty ?? 0) }
        guard replicas <= Self.maximumReplicaCount else {
            throw .tooManyReplicas(replicas: replicas, maximum: Self.maximumReplicaCount)
        }
        let f = faulty ?? (replicas - 1) / 3
        guard f >= 0 else { throw .negativeFaultTolerance(f) }
        // PBFT §4: safety and liveness with f faults need n ≥ 3f+1.
        guard replicas >= 3 * f + 1 else { throw .tooFewReplicas(replicas: replicas, faulty: f) }
        self.replicaCount = replicas
        self.faultTolerance = f
    }

    /// The quorum: any two intersect in at least f+1 replicas, so in at least one correct one. It is 2f+1 when
    /// n = 3f+1; for larger n it is ⌈(n+f+1)/2⌉, because 2f+1 out of, say, 5 replicas with f = 1 would let two
    /// quorums meet only in the faulty replica.
    public var quorum: Int { (replicaCount + faultTolerance + 2) / 2 }

    /// f+1: at least one of any f+1 distinct replicas is correct (a client accepts f+1 matching replies).
    public var weakQuorum: Int { faultTolerance + 1 }

    /// All replicas (3f+1 when n = 3f+1): the speculative fast path completes only when every replica agrees.
    public var fastQuorum: Int { replicaCount }

    /// The primary of view v is v mod n (PBFT §4.1).
    public func primary(of view: ViewNumber) -> ReplicaID {
        ReplicaID(UInt32(view.rawValue % UInt64(replicaCount)))
    }

    public func contains(_ replica: ReplicaID) -> Bool { Int(replica.rawValue) < replicaCount }

    /// Refuses an id outside 0 ..< n with a clear error.
    public func validate(_ replica: ReplicaID) throws(ConfigurationError) {
        guard contains(replica) else { throw .unknownReplica(replica, replicas: replicaCount) }
    }

    /// Every replica id in ascending order (a deterministic order for multicasts).
    public var replicas: [ReplicaID] { (0..<replicaCount).map { ReplicaID(UInt32($0)) } }

    public var description: String { "n=\(replicaCount) f=\(faultTolerance)" }
}

public enum ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    case tooFewReplicas(replicas: Int, faulty: Int)
    case tooManyReplicas(replicas: Int, maximum: Int)
    case negativeFaultTolerance(Int)
    case unknownReplica(ReplicaID, replicas: Int)

    public var description: String {
        switch self {
        case .tooFewReplicas(let n, let f):
            "\(n) replicas cannot tolerate \(f) Byzantine fault(s): BFT needs n ≥ 3f+1 = \(3 * f + 1)"
        case .tooManyReplicas(let n, let maximum):
            "\(n) replicas is more than the supported maximum of \(maximum)"
        case .negativeFaultTolerance(let f):
            "the number of tolerated faults must not be negative (got \(f))"
        case .unknownReplica(let id, let n):
            "replica id \(id.rawValue) is not in this group of \(n) replicas (valid ids: 0 to \(n - 1))"
        }
    }
}
