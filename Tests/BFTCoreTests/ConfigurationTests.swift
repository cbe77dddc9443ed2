import BFTCore
import Testing

@Suite("Configuration and quorum sizes")
struct ConfigurationTests {
    @Test("n = 3f+1 gives PBFT's sizes: quorum 2f+1, weak quorum f+1, fast quorum 3f+1", arguments: 0...10)
    func pbftSizes(f: Int) throws {
        let configuration = try Configuration(replicas: 3 * f + 1, faulty: f)
        #expect(configuration.quorum == 2 * f + 1)
        #expect(configuration.weakQuorum == f + 1)
        #expect(configuration.fastQuorum == 3 * f + 1)
    }

    @Test("any two quorums share a correct replica, and a quorum exists without the f faulty ones")
    func quorumIntersection() throws {
        for n in 1...60 {
            for f in 0...((n - 1) / 3) {
                let c = try Configuration(replicas: n, faulty: f)
                #expect(2 * c.quorum - n >= f + 1, "n=\(n) f=\(f): quorums may meet only in faulty replicas")
                #expect(c.quorum <= n - f, "n=\(n) f=\(f): no quorum without the faulty replicas")
            }
        }
    }

    @Test("n < 3f+1 is refused with a clear error")
    func tooFewReplicas() {
        #expect(throws: ConfigurationError.tooFewReplicas(replicas: 3, faulty: 1)) {
            try Configuration(replicas: 3, faulty: 1)
        }
        #expect(throws: ConfigurationError.tooFewReplicas(replicas: 6, faulty: 2)) {
            try Configuration(replicas: 6, faulty: 2)
        }
        #expect(throws: ConfigurationError.self) { try Configuration(replicas: 0) }
        #expect(throws: ConfigurationError.negativeFaultTolerance(-1)) { try Configuration(replicas: 4, faulty: -1) }
        let message = ConfigurationError.tooFewReplicas(replicas: 3, faulty: 1).description
        #expect(message.contains("n ≥ 3f+1 = 4"))
    }

    @Test("the default f is the largest with n ≥ 3f+1")
    func defaultFaults() throws {
        #expect(try Configuration(replicas: 4).faultTolerance == 1)
        #expect(try Configuration(replicas: 6).faultTolerance == 1)
        #expect(try Configuration(replicas: 7).faultTolerance == 2)
        #expect(try Configuration(replicas: 1).faultTolerance == 0)
    }

    @Test("an unknown replica id is refused")
    func unknownReplica() throws {
        let c = try Configuration(replicas: 4)
        try c.validate(3)
        #expect(throws: ConfigurationError.unknownReplica(4, replicas: 4)) { try c.validate(4) }
        #expect(c.replicas == [0, 1, 2, 3])
    }

    @Test("the primary of view v is v mod n")
    func primaryRotation() throws {
        let c = try Configuration(replicas: 4)
        #expect((0..<9).map { c.primary(of: ViewNumber(UInt64($0))).rawValue } == [0, 1, 2, 3, 0, 1, 2, 3, 0])
    }

    @Test("more replicas than supported is refused")
    func tooMany() {
        #expect(throws: ConfigurationError.self) { try Configuration(replicas: Configuration.maximumReplicaCount + 1) }
    }

    @Test("quorum counting: one vote per replica; a second vote for another value is an equivocation, not counted")
    func quorumTrackerCountsOneVotePerReplica() {
        var tracker = QuorumTracker<[UInt8]>(expectedVoters: 4)
        #expect(tracker.add(0, [1]) == .added(count: 1))
        #expect(tracker.add(1, [2]) == .added(count: 1), "another value starts its own count")
        #expect(tracker.add(2, [1]) == .added(count: 2))
        #expect(tracker.add(0, [1]) == .duplicate)
        #expect(tracker.add(0, [2]) == .conflicting, "the first vote stands")
        #expect(tracker.add(3, [1]) == .added(count: 3))
        #expect(tracker.count(for: [1]) == 3 && tracker.count(for: [2]) == 1 && tracker.count(for: [3]) == 0)
        #expect(tracker.vote(of: 0) == [1] && tracker.vote(of: 1) == [2])
        #expect(tracker.hasVoted(3) && !tracker.hasVoted(4) && tracker.voterCount == 4)
    }
}
