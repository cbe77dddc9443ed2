/// Counts distinct voters per value. Every quorum in the protocol is counted here, never by hand in a handler.
///
/// Voters are replicas, so a tracker holds at most n votes; it keeps them in a list and scans it, which for the
/// small n of a BFT group is cheaper than hashing every value into two dictionaries (that hashing was a tenth of a
/// client process's time in `bftbench run`'s profile, one tracker per request).
public struct QuorumTracker<Value: Hashable>: Sendable where Value: Sendable {
    public enum Outcome: Equatable, Sendable {
        case added(count: Int)
        /// The voter already voted for this value.
        case duplicate
        /// The voter already voted for a different value: an equivocation (kept as the first vote only).
        case conflicting
    }

    /// One vote per voter, in arrival order.
    private var votes: [(voter: ReplicaID, value: Value)] = []

    public init() {}

    /// Room for `voters` votes from the start (no regrowth while they arrive).
    public init(expectedVoters voters: Int) {
        votes.reserveCapacity(voters)
    }

    public mutating func add(_ voter: ReplicaID, _ value: Value) -> Outcome {
        var count = 1
        for vote in votes {
            if vote.voter == voter { return vote.value == value ? .duplicate : .conflicting }
            if vote.value == value { count += 1 }
        }
        votes.append((voter, value))
        return .added(count: count)
    }

    public func count(for value: Value) -> Int { votes.count { $0.value == value } }

    public func hasVoted(_ voter: ReplicaID) -> Bool { votes.contains { $0.voter == voter } }

    /// The value `voter` voted for, if any.
    public func vote(of voter: ReplicaID) -> Value? { votes.first { $0.voter == voter }?.value }

    public var voterCount: Int { votes.count }
}
