import Adversaries
import BFTCore
import BFTRuntime

/// Every setting of a simulated run. Times are in virtual microseconds.
public struct SimulationOptions {
    public var replicas = 4
    public var clients = 4
    /// Requests each client issues, one at a time.
    public var requestsPerClient = 25
    /// Distinct keys in the workload: few keys make operations contend, which linearizability checks need.
    public var keys = 4
    public var minimumLatency: UInt64 = 200
    public var maximumLatency: UInt64 = 2_000
    /// Probability that a message is lost, or delivered twice, before the network heals.
    public var loss = 0.0
    public var duplication = 0.0
    /// Isolate random sets of replicas for random spans before the network heals: backups only, unless
    /// `isolatePrimary` is set.
    public var partitions = false
    /// Nemesis: most isolations include the current primary, which forces view changes.
    public var isolatePrimary = false
    /// Nemesis: crash up to f correct replicas at a time (the primary half of the time) and restart them from
    /// their durable records after a while, before the heal. What was not durable is lost.
    public var crashes = false
    /// Nemesis: crash every replica at once, then restart them all from their durable records.
    public var clusterRestarts = false
    /// Each replica's tick interval is scaled by its own factor in [1 - skew, 1 + skew].
    public var tickSkew = 0.0
    /// After this time the network is reliable and connected: the liveness phase.
    public var healTime: UInt64 = 2_000_000
    /// Every request must complete within this long after the heal (invariant 7's bound).
    public var livenessBound: UInt64 = 10_000_000
    /// After the last request completes (and the heal), how long replicas may take to catch up with each other.
    public var settleTime: UInt64 = 3_000_000
    public var tickInterval: UInt64 = 10_000
    /// Whether to check liveness (invariant 7). Off only for deliberately broken variants that stall.
    public var checkLiveness = true
    /// A deliberately broken variant: the replicas' stores sync nothing, so a crash (a power loss here) takes every
    /// record persisted since the start, not only the trailing ones.
    public var storesSyncNothing = false
    /// Speculative protocol: the clients share commit certificates as the sessions of one `BFTClientPool` do
    /// (`SharedCommits`): one client's certificate on a history completes the others' requests in it.
    public var clientsShareCommits = false
    /// Sign and hash with the real BFTCrypto suite instead of the simulated one (set by the caller, who owns it).
    public var realCrypto: RealCryptoFactory?
    public var replicaOptions = ReplicaOptions()
    public var clientOptions = ClientOptions()
    /// Replaces a replica's behaviour (a Byzantine replica); such replicas are left out of the checkers.
    public var behaviors: [ReplicaID: BehaviorFactory] = [:]
    /// The catalog behaviour in `behaviors` and on how many replicas, for the reproduction line.
    public var adversary: (name: String, faulty: Int)?
    /// Frames injected by a faulty client: (time, destination replica, frame maker).
    public var injections: [Injection] = []
    /// Faulty clients that strike 20 times each at random moments before the heal, at random replicas.
    public var faultyClients: [FaultyClient] = []

    public init() {}

    /// The protocol replicas and clients run.
    public var replication: ReplicationProtocol {
        get { replicaOptions.replication }
        set {
            replicaOptions.replication = newValue
            clientOptions.replication = newValue
        }
    }

    /// How clients authenticate requests and replicas replies.
    public var clientAuthentication: ClientAuthentication {
        get { replicaOptions.clientAuthentication }
        set {
            replicaOptions.clientAuthentication = newValue
            clientOptions.authentication = newValue
        }
    }

    /// A one-line summary of the settings, as `bftsim` flags.
    public var flags: String {
        var text = replication == .pbft ? "" : "--protocol \(replication) "
        text += "--replicas \(replicas) --clients \(clients) --requests \(requestsPerClient) --keys \(keys)"
        text += " --loss \(loss) --duplication \(duplication)"
        if partitions { text += " --partitions" }
        if isolatePrimary { text += " --isolate-primary" }
        if crashes { text += " --crashes" }
        if clusterRestarts { text += " --cluster-restarts" }
        if tickSkew > 0 { text += " --tick-skew \(tickSkew)" }
        for client in faultyClients { text += " --faulty-client \(client.rawValue)" }
        if replicaOptions.checkpointInterval != ReplicaOptions().checkpointInterval {
            text += " --checkpoint-interval \(replicaOptions.checkpointInterval)"
        }
        if clientsShareCommits { text += " --share-commits" }
        if clientAuthentication != .signatures { text += " --client-auth \(clientAuthentication.rawValue)" }
        if realCrypto != nil { text += " --real-crypto" }
        if let adversary { text += " --adversary \(adversary.name) --faulty \(adversary.faulty)" }
        return text
    }
}

/// Builds a behaviour around the correct replica the simulator would have run.
public typealias BehaviorFactory = (Replica, _ signer: any Signer, _ suite: any CryptoSuite) -> any ReplicaBehavior

/// Provides real crypto: a suite and, per identity number, a signer (kept outside so the simulator stays pure).
public struct RealCryptoFactory {
    public var makeSuite: () -> any CryptoSuite
    public var makeSigner: (UInt64) -> any Signer
    public init(makeSuite: @escaping () -> any CryptoSuite, makeSigner: @escaping (UInt64) -> any Signer) {
        self.makeSuite = makeSuite
        self.makeSigner = makeSigner
    }
}

/// A frame a faulty client or outsider sends at a given time.
public struct Injection {
    public var time: UInt64
    public var to: ReplicaID
    public var makeFrame: (_ signers: [ClientID: any Signer]) -> [UInt8]
    public init(time: UInt64, to: ReplicaID, makeFrame: @escaping (_ signers: [ClientID: any Signer]) -> [UInt8]) {
        self.time = time
        self.to = to
        self.makeFrame = makeFrame
    }
}
