import BFTCore
import BFTKeyValue
import BFTSimulator

/// Four replicas and two clients built by hand, for scripted tests of single protocol rules: the test decides
/// exactly which message reaches which replica.
struct ScriptedCluster {
    let configuration: Configuration
    let registry = SimulatedKeyRegistry()
    let suite: SimulatedCrypto
    let replicaSigners: [SimulatedSigner]
    let clientSigners: [ClientID: SimulatedSigner]
    let directory: KeyDirectory
    var replicas: [Replica]
    let options: ReplicaOptions
    /// Everything each replica asked to make durable, in order: what a restarted replica recovers from.
    var durable: [[DurableRecord]] = Array(repeating: [], count: 4)

    init(options: ReplicaOptions = ReplicaOptions()) throws {
        self.options = options
        configuration = try Configuration(replicas: 4)
        suite = SimulatedCrypto(registry: registry)
        let registry = self.registry
        let signers = (0..<4).map { registry.signer(secret: 100 + UInt64($0)) }
        replicaSigners = signers
        var clients: [ClientID: SimulatedSigner] = [:]
        for id in [1, 2] as [ClientID] { clients[id] = registry.signer(secret: 200 + id.rawValue) }
        clientSigners = clients
        directory = KeyDirectory(replicas: signers.map(\.publicKey), clients: clients.mapValues(\.publicKey))
        var replicas: [Replica] = []
        for index in 0..<4 {
            replicas.append(
                Replica(
                    id: ReplicaID(UInt32(index)), configuration: configuration, options: options, directory: directory,
                    suite: suite, signer: signers[index], application: KeyValueStore()))
        }
        self.replicas = replicas
    }

    func request(_ client: ClientID, _ timestamp: Timestamp, _ command: KeyValueCommand) -> Envelope {
        Envelope(
            signing: .request(Request(timestamp: timestamp, operation: command.encoded())), from: .client(client),
            with: clientSigners[client]!)
    }

    func signed(_ message: Message, by replica: ReplicaID) -> Envelope {
        Envelope(signing: message, from: .replica(replica), with: replicaSigners[Int(replica.rawValue)])
    }

    func prePrepare(view: ViewNumber = 0, sequence: SequenceNumber, batch: [Envelope], digest: Digest? = nil,
                    by sender: ReplicaID = 0) -> Envelope {
        let d = digest ?? Replica.batchDigest(batch, suite: suite)
        return signed(.prePrepare(PrePrepare(view: view, sequence: sequence, digest: d, batch: batch)), by: sender)
    }

    func prepare(_ sequence: SequenceNumber, _ digest: Digest, by replica: ReplicaID, view: ViewNumber = 0) -> Envelope {
        signed(.prepare(Prepare(view: view, sequence: sequence, digest: digest)), by: replica)
    }

    func commit(_ sequence: SequenceNumber, _ digest: Digest, by replica: ReplicaID) -> Envelope {
        signed(.commit(Commit(view: 0, sequence: sequence, digest: digest)), by: replica)
    }

    mutating func deliver(_ envelope: Envelope, to replica: ReplicaID) -> Effects {
        let effects = replicas[Int(replica.rawValue)].receive(envelope)
        durable[Int(replica.rawValue)] += effects.durable
        return effects
    }

    /// Crashes `replica` and starts it again from its durable records, as a new process would.
    mutating func restart(_ replica: ReplicaID) -> Effects {
        let index = Int(replica.rawValue)
        var fresh = Replica(
            id: replica, configuration: configuration, options: options, directory: directory, suite: suite,
            signer: replicaSigners[index], application: KeyValueStore())
        let effects = fresh.recover(from: durable[index])
        replicas[index] = fresh
        durable[index] += effects.durable
        return effects
    }

    /// Delivers `effects`' messages from `sender`, and everything they cause, until nothing is left, except what
    /// `drop` refuses (message, destination). Returns every replica's effects in delivery order.
    @discardableResult
    mutating func run(
        _ effects: Effects, from sender: ReplicaID, drop: (Envelope, ReplicaID) -> Bool = { _, _ in false }
    ) -> [(ReplicaID, Effects)] {
        var queue: [(Envelope, ReplicaID)] = []
        var seen: [(ReplicaID, Effects)] = []
        func enqueue(_ effects: Effects, from sender: ReplicaID) {
            for outbound in effects.messages {
                switch outbound.destination {
                case .allReplicas:
                    for replica in configuration.replicas where replica != sender {
                        queue.append((outbound.envelope, replica))
                    }
                case .replica(let replica) where replica != sender: queue.append((outbound.envelope, replica))
                case .replica, .client: continue
                }
            }
        }
        enqueue(effects, from: sender)
        var index = 0
        while index < queue.count {
            let (envelope, to) = queue[index]
            index += 1
            if drop(envelope, to) { continue }
            let result = deliver(envelope, to: to)
            seen.append((to, result))
            enqueue(result, from: to)
        }
        return seen
    }

    /// Ticks `replica` `count` times; returns the effects of each tick.
    mutating func tick(_ replica: ReplicaID, _ count: Int) -> [Effects] {
        (0..<count).map { _ in
            let effects = replicas[Int(replica.rawValue)].tick()
            durable[Int(replica.rawValue)] += effects.durable
            return effects
        }
    }

    /// A prepared certificate for `batch` at (view, sequence): the pre-prepare of that view's primary and
    /// prepares from `preparers`.
    func certificate(view: ViewNumber, sequence: SequenceNumber, batch: [Envelope], preparers: [ReplicaID])
        -> PreparedCertificate
    {
        let primary = configuration.primary(of: view)
        let prePrepare = prePrepare(view: view, sequence: sequence, batch: batch, by: primary)
        let digest = Replica.batchDigest(batch, suite: suite)
        return PreparedCertificate(
            prePrepare: prePrepare, prepares: preparers.map { prepare(sequence, digest, by: $0, view: view) })
    }

    func viewChange(to view: ViewNumber, by replica: ReplicaID, prepared: [PreparedCertificate] = []) -> Envelope {
        signed(
            .viewChange(ViewChange(newView: view, stableSequence: 0, checkpointProof: [], prepared: prepared)),
            by: replica)
    }
}

extension Effects {
    var rejections: [RejectReason] {
        events.compactMap { if case .rejected(let reason, _, _) = $0 { reason } else { nil } }
    }

    func sent(_ kind: MessageKind) -> [Outbound] { messages.filter { $0.envelope.message.kind == kind } }

    var executedSequences: [SequenceNumber] {
        events.compactMap { if case .executed(let sequence, _, _) = $0 { sequence } else { nil } }
    }

    func sent<T>(_ extract: (Message) -> T?) -> [T] { messages.compactMap { extract($0.envelope.message) } }

    var committedSequences: [SequenceNumber] {
        events.compactMap { if case .committed(_, let sequence, _) = $0 { sequence } else { nil } }
    }
}
