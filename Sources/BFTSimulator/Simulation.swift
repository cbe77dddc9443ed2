import BFTCore
import BFTKeyValue
import BFTRuntime

/// A seeded, single-threaded run of n replicas and a set of clients on virtual time, over a network that delays,
/// loses, duplicates, reorders and partitions messages until it heals. The replicas run the real `Replica`
/// through the real `ReplicaHost` and codec. Every random choice comes from streams forked from the seed, so a
/// run is a function of (seed, options).
public final class Simulation {
    public let seed: UInt64
    public let options: SimulationOptions
    public let configuration: Configuration
    public private(set) var time: UInt64 = 0
    public private(set) var history: [Operation] = []
    public private(set) var logs: [ReplicaLog]
    public internal(set) var stats = SimulationStats()

    var queue = EventQueue<SimulationEvent>()
    var hosts: [ReplicaHost] = []
    var transports: [OutboxTransport] = []
    var stores: [InMemoryStore] = []
    /// Makes replica i afresh, as a restarted process would (its durable store is kept apart).
    var makeReplica: [() -> Replica] = []
    var tickIntervals: [UInt64] = []
    /// Crashed replicas: they receive nothing and do not tick until restarted.
    var down: Set<ReplicaID> = []
    /// Requests faulty clients sent in their own name, for the validity checker.
    var issuedByFaultyClients: [ClientTimestamp: Digest] = [:]
    var started = false
    var clients: [SimulatedClient] = []
    var network: SeededRandom
    var nemesis: SeededRandom
    var workload: SeededRandom
    var isolated: Set<ReplicaID> = []
    var trace = TraceBuffer(capacity: 400)
    var byzantine: Set<ReplicaID> = []
    /// Speculative protocol: every order-req seen on the network, for the no-rollback checker.
    lazy var orders = NoRollbackCheck(suite: checkerSuite)

    public init(seed: UInt64, options: SimulationOptions) throws(ConfigurationError) {
        self.seed = seed
        self.options = options
        configuration = try Configuration(replicas: options.replicas)
        var root = SeededRandom(seed: seed)
        network = root.fork(1)
        nemesis = root.fork(2)
        workload = root.fork(3)
        logs = Array(repeating: ReplicaLog(), count: options.replicas)
        build()
    }

    /// Keys of every simulated identity: the simulated suites of all replicas and clients verify against it.
    let registry = SimulatedKeyRegistry()

    func makeSigner(_ identity: UInt64) -> any Signer {
        options.realCrypto.map { $0.makeSigner(identity) } ?? registry.signer(secret: identity &* 0x9E37_79B9 + 1)
    }

    private func build() {
        func signer(_ identity: UInt64) -> any Signer { makeSigner(identity) }
        func suite() -> any CryptoSuite { options.realCrypto.map { $0.makeSuite() } ?? SimulatedCrypto(registry: registry) }
        let replicaSigners = (0..<options.replicas).map { signer(1000 + UInt64($0)) }
        let clientSigners = (0..<options.clients).map { signer(2000 + UInt64($0)) }
        var clientKeys: [ClientID: PublicKey] = [:]
        for (index, s) in clientSigners.enumerated() { clientKeys[Self.clientID(index)] = s.publicKey }
        let directory = KeyDirectory(replicas: replicaSigners.map(\.publicKey), clients: clientKeys)
        for index in 0..<options.replicas {
            let id = ReplicaID(UInt32(index))
            let replicaSuite = suite()
            let (configuration, replicaOptions, signer) = (configuration, options.replicaOptions, replicaSigners[index])
            makeReplica.append {
                Replica(
                    id: id, configuration: configuration, options: replicaOptions, directory: directory,
                    suite: replicaSuite, signer: signer, application: KeyValueStore())
            }
            let replica = makeReplica[index]()
            let transport = OutboxTransport()
            transports.append(transport)
            let store = InMemoryStore()
            store.everyRecordTrails = options.storesSyncNothing
            stores.append(store)
            let skew = options.tickSkew * (Double(nemesis.next() >> 11) / Double(1 << 53) * 2 - 1)
            tickIntervals.append(max(1, UInt64(Double(options.tickInterval) * (1 + skew))))
            var behavior: any ReplicaBehavior = replica
            if let factory = options.behaviors[id] {
                behavior = factory(replica, replicaSigners[index], replicaSuite)
                byzantine.insert(id)
            }
            hosts.append(
                ReplicaHost(
                    id: id, configuration: configuration, behavior: behavior, transport: transport,
                    store: store, limits: options.replicaOptions.limits))
        }
        let shared = options.clientsShareCommits ? SharedCommits() : nil
        for index in 0..<options.clients {
            let session = ClientSession(
                client: Self.clientID(index), configuration: configuration, options: options.clientOptions,
                directory: directory, suite: suite(), signer: clientSigners[index], sharedCommits: shared)
            clients.append(SimulatedClient(session: session, signer: clientSigners[index]))
        }
    }

    static func clientID(_ index: Int) -> ClientID { ClientID(UInt64(index + 1)) }

    /// Whether all correct replicas but at most f have executed as far as the furthest one. PBFT lets up to f
    /// correct replicas lag: one whose view-change timer fired alone waits in the next view until the others
    /// change view too, which with no more traffic may be never.
    var caughtUp: Bool {
        let executed = correctReplicas.map { status(of: $0).lastExecuted }
        let furthest = executed.max() ?? 0
        return executed.count(where: { $0 == furthest }) >= executed.count - configuration.faultTolerance
    }

    /// The correct replicas: those running the unmodified protocol.
    public var correctReplicas: [ReplicaID] { configuration.replicas.filter { !byzantine.contains($0) } }

    public func status(of replica: ReplicaID) -> ReplicaStatus { hosts[Int(replica.rawValue)].behavior.status }

    // MARK: Running

    /// Runs until every client finished its requests, or until the liveness deadline, then checks the invariants.
    public func run() -> SimulationResult {
        startIfNeeded()
        let deadline = options.healTime + options.livenessBound
        let totalRequests = options.clients * options.requestsPerClient
        var settleDeadline: UInt64?
        while let (eventTime, event) = queue.pop(), eventTime <= (settleDeadline ?? deadline) {
            time = eventTime
            handle(event)
            guard stats.completedRequests == totalRequests else { continue }
            // Every request completed: run on until the faults are over and every correct replica has caught up,
            // so the durability checker sees what each replica holds in the end.
            if settleDeadline == nil { settleDeadline = max(time, options.healTime) + options.settleTime }
            if time >= options.healTime && down.isEmpty && caughtUp { break }
        }
        return SimulationResult(simulation: self, violations: Checkers(simulation: self).check())
    }

    /// Runs events until `condition` holds or virtual time passes `limit`; true if the condition was met. For
    /// measurements that script faults between phases (see `crash(_:)` and `restart(_:)`); `run()` may follow.
    public func run(until condition: (Simulation) -> Bool, limit: UInt64) -> Bool {
        startIfNeeded()
        while !condition(self) {
            guard let (eventTime, event) = queue.pop() else { return false }
            guard eventTime <= limit else {
                queue.push(eventTime, event)
                return false
            }
            time = eventTime
            handle(event)
        }
        return true
    }

    private func startIfNeeded() {
        guard !started else { return }
        started = true
        schedulePrologue()
    }

    private func schedulePrologue() {
        for replica in 0..<options.replicas {
            queue.push(network.next() % options.tickInterval, .replicaTick(ReplicaID(UInt32(replica))))
        }
        for client in 0..<options.clients {
            queue.push(workload.next() % options.tickInterval, .clientTick(client))
            queue.push(workload.next() % 1_000, .invoke(client))
        }
        for (index, injection) in options.injections.enumerated() { queue.push(injection.time, .inject(index)) }
        for (index, _) in options.faultyClients.enumerated() {
            for _ in 0..<20 { queue.push(nemesis.next() % max(1, options.healTime), .faultyClient(index)) }
        }
        scheduleNemesis()
        queue.push(options.healTime, .heal)
    }

    private func handle(_ event: SimulationEvent) {
        switch event {
        case .deliver(let from, let to, let frame):
            stats.delivered += 1
            stats.countDelivery(frame)
            trace.record(time: time, from: from, to: to, frame: frame)
            deliver(frame, to: to)
        case .replicaTick(let replica):
            if !down.contains(replica) {
                let events = hosts[Int(replica.rawValue)].tick()
                record(events, at: replica)
                flush(from: replica)
            }
            queue.push(time + tickIntervals[Int(replica.rawValue)], .replicaTick(replica))
        case .clientTick(let index):
            send(clients[index].session.tick(), from: index)
            queue.push(time + options.tickInterval, .clientTick(index))
        case .invoke(let index):
            invoke(index)
        case .isolate(let size, let includePrimary):
            isolate(size: size, includePrimary: includePrimary)
        case .heal:
            isolated = []
        case .crash(let count, let includePrimary):
            crash(count: count, includePrimary: includePrimary)
        case .restartAll:
            restartAll()
        case .faultyClient(let index):
            let victim = Self.clientID(Int(nemesis.next() % UInt64(max(1, options.clients))))
            let target = ReplicaID(UInt32(nemesis.next() % UInt64(options.replicas)))
            let frames = options.faultyClients[index].frames(
                random: &nemesis, own: faultyClientSigner, suite: digestSuite, victim: victim,
                limits: options.replicaOptions.limits)
            for frame in frames {
                // Only requests in the faulty client's own name were really issued (it signs only for itself).
                let own = ClientID(selfCertifying: faultyClientSigner.publicKey, suite: digestSuite)
                if let envelope = try? Envelope.decode(frame), let client = envelope.sender.clientID, client == own,
                    case .request(let request) = envelope.message
                {
                    issuedByFaultyClients[ClientTimestamp(client, request.timestamp)] = digestSuite.digest(request.operation)
                }
                schedule(frame, from: .client(ClientID(1 << 62)), to: .replica(target))
            }
        case .inject(let index):
            let injection = options.injections[index]
            var signers: [ClientID: any Signer] = [:]
            for (i, client) in clients.enumerated() { signers[Self.clientID(i)] = client.signer }
            schedule(injection.makeFrame(signers), from: .client(0), to: .replica(injection.to))
        }
    }

    private func deliver(_ frame: [UInt8], to node: Node) {
        switch node {
        case .replica(let replica):
            guard !down.contains(replica) else {
                stats.dropped += 1
                return
            }
            let events = hosts[Int(replica.rawValue)].receive(frame: frame)
            record(events, at: replica)
            flush(from: replica)
        case .client(let client):
            // Replies to clients the simulation does not run (a faulty client's self-certifying id) go nowhere.
            guard client.rawValue >= 1, client.rawValue <= UInt64(clients.count) else { return }
            let index = Int(client.rawValue) - 1
            guard let envelope = try? Envelope.decode(frame) else {
                stats.undecodableAtClients += 1
                return
            }
            let step = clients[index].session.receive(envelope)
            send(step.messages, from: index)
            if let completion = step.completion { complete(index, completion) }
            for rider in step.shared?.riders ?? [] {
                guard let shared = step.shared else { continue }
                let riding = Int(rider.rawValue) - 1
                if let completion = clients[riding].session.historyCommitted(shared.history, fastPath: shared.fastPath)
                    .completion
                {
                    stats.ridingCompletions += 1
                    complete(riding, completion)
                }
            }
        }
    }

    private func invoke(_ index: Int) {
        guard clients[index].issued < options.requestsPerClient else { return }
        let command = nextCommand(client: index)
        let bytes = command.encoded()
        let outbound = clients[index].session.submit(bytes)
        let timestamp = clients[index].session.lastTimestamp
        clients[index].issued += 1
        clients[index].current = history.count
        history.append(
            Operation(
                client: Self.clientID(index), timestamp: timestamp, command: command,
                operationDigest: digestForValidity(bytes), invoked: time, completed: nil, result: nil))
        send(outbound, from: index)
    }

    private func complete(_ index: Int, _ completion: Completion) {
        guard let current = clients[index].current, history[current].timestamp == completion.timestamp else { return }
        history[current].completed = time
        stats.lastCompletion = time
        history[current].result = completion.result
        if options.replication == .zyzzyva {
            history[current].sequence = completion.sequence
            history[current].history = completion.history
            history[current].fastPath = completion.fastPath
            if completion.fastPath { stats.fastCompletions += 1 }
        }
        clients[index].current = nil
        stats.completedRequests += 1
        queue.push(time + workload.next() % 1_000, .invoke(index))
    }

    private func nextCommand(client: Int) -> KeyValueCommand {
        let key = Array("k\(workload.next() % UInt64(max(1, options.keys)))".utf8)
        let token = Array("\(client).\(clients[client].issued),".utf8)
        switch workload.next() % 10 {
        case 0, 1: return .put(key: key, value: token)
        case 2, 3: return .get(key: key)
        case 4: return .delete(key: key)
        case 5: return .compareAndSet(key: key, expected: workload.next() % 2 == 0 ? nil : token, new: token)
        default: return .append(key: key, suffix: token)
        }
    }

    /// Operation digests as replicas compute them (the validity checker compares the two).
    private func digestForValidity(_ bytes: [UInt8]) -> Digest {
        hosts.isEmpty ? .zero : digestSuite.digest(bytes)
    }

    /// The faulty clients' own key (made by the same factory as everyone's, so replicas can verify it).
    lazy var faultyClientSigner: any Signer = makeSigner(3_000_000)

    /// The digest function the replicas use, for checkers that recompute history chains.
    var checkerSuite: any CryptoSuite { digestSuite }

    private lazy var digestSuite: any CryptoSuite = {
        options.realCrypto.map { $0.makeSuite() } ?? SimulatedCrypto(registry: SimulatedKeyRegistry())
    }()

    // MARK: Network

    func record(_ events: [ReplicaEvent], at replica: ReplicaID) {
        let index = Int(replica.rawValue)
        for event in events {
            switch event {
            case .executed(let sequence, let batch, let requests):
                logs[index].executed.append((time, sequence, batch, requests))
                stats.executedRequests += requests.count
            case .committed(_, let sequence, let digest): logs[index].committed[sequence] = digest
            case .checkpointStable(let sequence, let digest): logs[index].stableCheckpoints.append((sequence, digest))
            case .rejected(let reason, _, _): logs[index].rejected[reason, default: 0] += 1
            case .fellBehind: logs[index].fellBehind += 1
            case .stateTransferred(let sequence):
                logs[index].stateTransfers.append((time, sequence))
                stats.stateTransfers += 1
                logs[index].resumes[logs[index].executed.count] = (sequence.rawValue + 1, false)
            case .recovered(_, let stable):
                logs[index].restarts.append(time)
                // Speculative execution above the checkpoint did not survive the crash (the state restarts from the
                // checkpoint): what the replica executes again is what stands.
                if options.replication == .zyzzyva { logs[index].rollBack(to: stable, counted: false) }
                logs[index].resumes[logs[index].executed.count] = (stable.rawValue + 1, true)
            case .viewChangeStarted: logs[index].viewChangesStarted += 1
            case .rolledBack(let from, let to):
                logs[index].rollBack(to: to)
                logs[index].rollbackTimes.append((time, from, to))
                stats.rollbacks += 1
            case .complained: stats.complaints += 1
            case .viewInstalled(let view):
                logs[index].viewsInstalled.append((time, view))
                stats.viewChanges += 1
            }
        }
    }

    func flush(from replica: ReplicaID) {
        let transport = transports[Int(replica.rawValue)]
        let outbox = transport.outbox
        transport.outbox.removeAll(keepingCapacity: true)
        var previous: [UInt8] = []
        for (frame, destination) in outbox {
            // Order-reqs as sent (even if the network loses every copy), once per multicast.
            if options.replication == .zyzzyva && frame != previous { orders.observe(frame: frame) }
            previous = frame
            switch destination {
            case .replica(let to): schedule(frame, from: .replica(replica), to: .replica(to))
            case .client(let to): schedule(frame, from: .replica(replica), to: .client(to))
            case .allReplicas: preconditionFailure("the host expands allReplicas")
            }
        }
    }

    private func send(_ outbound: [Outbound], from client: Int) {
        for message in outbound {
            guard case .replica(let to) = message.destination else { continue }
            schedule(message.envelope.encoded, from: .client(Self.clientID(client)), to: .replica(to))
        }
    }

    private func isCut(_ a: Node, _ b: Node) -> Bool {
        func side(_ node: Node) -> Bool {
            if case .replica(let r) = node { return isolated.contains(r) }
            return false
        }
        return side(a) != side(b)
    }

    func schedule(_ frame: [UInt8], from: Node, to: Node) {
        var copies = 1
        if time < options.healTime {
            if isCut(from, to) || chance(options.loss) {
                stats.dropped += 1
                return
            }
            if chance(options.duplication) { copies = 2 }
        }
        for _ in 0..<copies {
            let spread = options.maximumLatency - options.minimumLatency + 1
            queue.push(time + options.minimumLatency + network.next() % spread, .deliver(from: from, to: to, frame: frame))
        }
    }

    private func chance(_ probability: Double) -> Bool {
        probability > 0 && Double(network.next() >> 11) / Double(1 << 53) < probability
    }
}
