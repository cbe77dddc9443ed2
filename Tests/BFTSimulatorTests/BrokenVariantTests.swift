@_spi(BrokenVariants) import BFTCore
import BFTKeyValue
import BFTSimulator
import Testing

/// The checkers must bite: for each deliberately broken rule, a small sweep reports the violation it allows,
/// and the same sweep on the correct protocol reports no safety violation.
@Suite("The checkers catch broken replicas and clients")
struct BrokenVariantTests {
    static let seeds = UInt64(1)...10

    static func base() -> SimulationOptions {
        var options = SimulationOptions()
        options.requestsPerClient = 10
        return options
    }

    /// Runs the sweep; returns the invariants violated, over all seeds.
    static func violated(_ options: SimulationOptions) throws -> Set<Invariant> {
        var found: Set<Invariant> = []
        for seed in seeds {
            for violation in try Simulation(seed: seed, options: options).run().violations {
                found.insert(violation.invariant)
            }
        }
        return found
    }

    static func safety(_ found: Set<Invariant>) -> Set<Invariant> { found.subtracting([.liveness]) }

    @Test("a backup that does not recompute the batch digest is caught by the agreement checker")
    func acceptMismatchedDigest() throws {
        var options = Self.base()
        options.checkLiveness = false
        options.behaviors[0] = { replica, signer, suite in
            EquivocatingPrimary(inner: replica, signer: signer, suite: suite, keepDigest: true)
        }
        #expect(Self.safety(try Self.violated(options)).isEmpty, "the correct protocol must not be flagged")
        options.replicaOptions.deviations.acceptMismatchedDigest = true
        #expect(try Self.violated(options).contains(.agreement))
    }

    @Test("a replica that executes before the slot is committed is caught by the agreement checker")
    func executeBeforeCommit() throws {
        var options = Self.base()
        options.checkLiveness = false
        options.behaviors[0] = { replica, signer, suite in
            EquivocatingPrimary(inner: replica, signer: signer, suite: suite, keepDigest: false)
        }
        #expect(Self.safety(try Self.violated(options)).isEmpty, "the correct protocol must not be flagged")
        options.replicaOptions.deviations.executeBeforeCommit = true
        #expect(try Self.violated(options).contains(.agreement))
    }

    @Test("replicas that skip the client signature check are caught by the validity checker")
    func skipClientSignatureCheck() throws {
        var options = Self.base()
        let forged = Envelope(
            unverified: .request(
                Request(timestamp: 1_000_000, operation: KeyValueCommand.put(key: Array("k0".utf8), value: [0]).encoded())),
            from: .client(1), signature: Signature(checked: [UInt8](repeating: 0, count: 64)))
        options.injections = [Injection(time: 30_000, to: 0) { _ in forged.encoded }]
        #expect(try Self.violated(options).isEmpty, "the correct protocol rejects the forgery and stays live")
        options.replicaOptions.deviations.skipClientSignatureCheck = true
        #expect(try Self.violated(options).contains(.validity))
    }

    @Test("a client that accepts f matching replies is caught by the linearizability checker")
    func clientAcceptsFReplies() throws {
        var options = Self.base()
        options.behaviors[3] = { replica, signer, _ in LyingReplier(inner: replica, signer: signer) }
        #expect(try Self.violated(options).isEmpty, "f+1 matching replies outvote one liar")
        options.clientOptions.deviations.acceptWithFReplies = true
        #expect(try Self.violated(options).contains(.linearizability))
    }

    @Test("replicas that ignore the reply table execute retransmitted requests twice: the integrity checker")
    func ignoreReplyTable() throws {
        var options = Self.base()
        options.duplication = 0.3
        options.loss = 0.05
        #expect(try Self.violated(options).isEmpty)
        options.replicaOptions.deviations.ignoreReplyTable = true
        #expect(try Self.violated(options).contains(.integrity))
    }
}
