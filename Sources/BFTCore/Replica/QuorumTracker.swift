/// Counts distinct voters per value. Every quorum in the protocol is counted here, never by hand in a handler.
public struct QuorumTracker<Value: Hashable>: Sendable where Value: Sendable {
    public enum Outcome: Equatable, Sendable {
        case added(count: Int)
        /// The voter already voted for this value.
        case duplicate
        /// The voter already voted for a different value: an equivocation (kept as the first vote only).
        case conflicting
    }

    private var votes: [ReplicaID: Value] = [:]
    private var counts: [Value: Int] = [:]

    public init() {}

    /// Room for `voters` votes from the start (no regrowth while they arrive).
    public init(expectedVoters voters: Int) {
        votes.reserveCapacity(voters)
        counts.reserveCapacity(voters)
    }

    public mutating func add(_ voter: ReplicaID, _ value: Value) -> Outcome {
        if let previous = votes[voter] { return previous == value ? .duplicate : .conflicting }
        votes[voter] = value
        let count = counts[value, default: 0] + 1
        counts[value] = count
        return .added(count: count)
    }

    public func count(for value: Value) -> Int { counts[value, default: 0] }

    public func hasVoted(_ voter: ReplicaID) -> Bool { votes[voter] != nil }

    public var voterCount: Int { votes.count }
}
