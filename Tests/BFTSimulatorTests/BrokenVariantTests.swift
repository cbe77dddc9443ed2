import Adversaries
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
        options.behaviors[0] = { replica, signer, suite in
            SplitPrimary(inner: replica, signer: signer, suite: suite, keepDigest: true)
        }
        #expect(try Self.violated(options).isEmpty, "the correct protocol is safe, and live after a view change")
        options.checkLiveness = false
        options.replicaOptions.deviations.acceptMismatchedDigest = true
        #expect(try Self.violated(options).contains(.agreement))
    }

    @Test("a replica that executes before the slot is committed is caught by the agreement checker")
    func executeBeforeCommit() throws {
        var options = Self.base()
        options.behaviors[0] = { replica, signer, suite in
            SplitPrimary(inner: replica, signer: signer, suite: suite, keepDigest: false)
        }
        #expect(try Self.violated(options).isEmpty, "the correct protocol is safe, and live after a view change")
        options.checkLiveness = false
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
        options.behaviors[3] = { replica, signer, suite in
            LyingReplier(AdversaryContext(replica: replica, signer: signer, suite: suite, seed: 3))
        }
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

    // MARK: View change, recovery and state transfer

    /// The nemesis that makes view changes, restarts and state transfers happen.
    static func nemesis() -> SimulationOptions {
        var options = base()
        options.requestsPerClient = 25
        options.loss = 0.05
        options.isolatePrimary = true
        options.crashes = true
        options.replicaOptions.checkpointInterval = 8
        options.replicaOptions.logWindow = 16
        return options
    }

    @Test("restarted replicas that forget their prepares are caught by the agreement checker")
    func forgetVotesOnRestart() throws {
        var options = Self.nemesis()
        options.clusterRestarts = true
        #expect(try Self.violated(options).isEmpty, "the correct protocol keeps its votes across restarts")
        options.replicaOptions.deviations.forgetVotesOnRestart = true
        #expect(try Self.violated(options).contains(.agreement))
    }

    @Test("backups that accept a new-view without recomputing it follow a forging primary: the agreement checker")
    func acceptNewViewWithoutRecomputing() throws {
        var options = Self.nemesis()
        options.behaviors[1] = { replica, signer, suite in
            ViewChangeLiar(AdversaryContext(replica: replica, signer: signer, suite: suite, seed: 1))
        }
        #expect(try Self.violated(options).isEmpty, "backups reject the forged new-view and move on to view 2")
        options.replicaOptions.deviations.acceptNewViewWithoutRecomputing = true
        #expect(try Self.violated(options).contains(.agreement))
    }

    @Test("replicas that install transferred state without checking its digest are caught by the agreement checker")
    func skipStateDigestCheck() throws {
        var options = Self.nemesis()
        options.behaviors[3] = { replica, signer, _ in CorruptStateServer(inner: replica, signer: signer) }
        #expect(try Self.violated(options).isEmpty, "corrupt chunks are rejected and fetched from another replica")
        options.replicaOptions.deviations.skipStateDigestCheck = true
        #expect(try Self.violated(options).contains(.agreement))
    }
}
