import Adversaries
import BFTCore
import BFTRuntime
import BFTStorage
import Logging
import NIOCore
import NIOPosix

/// The shell around one `ReplicaHost` (DESIGN.md, "The shell"): a TCP listener for peers and clients, an outgoing
/// link to every peer, a ticker, and durable storage. Everything runs on one event loop, so the host is stepped
/// by exactly one owner; frames produced during a loop turn are sent at its end, after one storage commit for
/// the whole turn (group commit), so records are durable before any message that depends on them leaves.
public final class ReplicaNode: @unchecked Sendable {
    public struct Settings: Sendable {
        public var sync: SyncMode = .batch
        /// Frames queued for a peer that is down or slow, at most.
        public var maxQueuedBytesPerPeer = 32 << 20
        /// Inbound connections (peers and clients) at once; more are refused.
        public var maxConnections = 1024
        /// Client identities one connection may speak for (a client process multiplexing many clients); a
        /// connection that authenticates more is closed.
        public var maxClientsPerConnection = 4096
        /// An inbound connection that sends nothing for this long is closed (half-open or idle clients).
        public var idleTimeout = TimeAmount.minutes(5)
        /// Run a Byzantine behaviour from `AdversaryCatalog` instead of the correct protocol (for adversarial
        /// tests), seeded with `adversarySeed`.
        public var adversary: AdversaryEntry?
        public var adversarySeed: UInt64 = 1
        public init() {}
    }

    public let id: ReplicaID
    let loop: EventLoop
    let cluster: ClusterFile
    let settings: Settings
    let logger: Logger
    var host: ReplicaHost
    let store: GroupCommitStore
    let transport: BufferingTransport
    var peers: [ReplicaID: Link] = [:]
    /// Where each client's replies go: the connection its latest authentic request came on.
    var clients: [ClientID: Channel] = [:]
    /// The clients each connection has spoken for (a client process may multiplex many over one connection).
    var clientsOfChannel: [ObjectIdentifier: Set<ClientID>] = [:]
    /// Inbound connections that carried a replica's message: never used to answer clients.
    var peerChannels: Set<ObjectIdentifier> = []
    var connections = 0
    var server: Channel?
    var ticker: RepeatedTask?
    var turnScheduled = false
    var stopped = false
    /// The replica's crypto: checks the signatures of a read on both cores before the replica asks.
    let checking: PreverifyingSuite
    public internal(set) var counters = NodeCounters()
    var metrics = NodeMetrics()
    /// Called once, on the loop, if storage fails: the replica must stop (it may no longer send).
    var onFatal: (@Sendable (String) -> Void)?

    /// Recovers the replica from the store and starts listening and ticking. The returned node lives on `loop`.
    public static func start(
        id: ReplicaID, cluster: ClusterFile, signer: any Signer, suite: any CryptoSuite, application: any StateMachine,
        store: LogFileStore, loop: EventLoop, settings: Settings = Settings(), logger: Logger,
        onFatal: @escaping @Sendable (String) -> Void
    ) -> EventLoopFuture<ReplicaNode> {
        // The crypto, the application and the store move to the loop and are used only there.
        let inputs = UnsafeTransfer((signer, suite, application, store))
        let built: EventLoopFuture<ReplicaNode> = loop.submit {
            let (signer, suite, application, store) = inputs.value
            let configuration = try cluster.configuration()
            var options = cluster.replicaOptions
            options.cutBatchesAtTurnEnd = true
            let checking = PreverifyingSuite(base: suite)
            let replica = Replica(
                id: id, configuration: configuration, options: options, directory: cluster.directory,
                suite: checking, signer: signer, application: application)
            let node = try ReplicaNode(
                id: id, replica: replica, configuration: configuration, cluster: cluster, store: store, loop: loop,
                settings: settings, logger: logger, signer: signer, suite: checking)
            node.onFatal = onFatal
            return node
        }
        return built.flatMap { node in node.listen().map { _ in node } }
    }

    private init(
        id: ReplicaID, replica: Replica, configuration: Configuration, cluster: ClusterFile, store: LogFileStore,
        loop: EventLoop, settings: Settings, logger: Logger, signer: any Signer, suite: PreverifyingSuite
    ) throws {
        self.id = id
        self.checking = suite
        self.loop = loop
        self.cluster = cluster
        self.settings = settings
        self.logger = logger
        self.store = GroupCommitStore(store: store, immediate: settings.sync == .always)
        self.transport = BufferingTransport()
        let adversary = settings.adversary
        let (host, events) = try ReplicaHost.recovering(
            replica, configuration: configuration, transport: transport, store: self.store,
            limits: cluster.replicaOptions.limits,
            wrap: { recovered in
                guard let adversary else { return recovered }
                return adversary.make(AdversaryContext(
                    replica: recovered, signer: signer, suite: suite, seed: settings.adversarySeed))
            })
        self.host = host
        log(events)
        let maximum = cluster.replicaOptions.limits.maxFrameBytes
        for member in cluster.replicas where member.id != id.rawValue {
            peers[ReplicaID(member.id)] = Link(
                host: member.host, port: member.port, loop: loop, maxQueuedBytes: settings.maxQueuedBytesPerPeer,
                maximumFrameBytes: maximum)
        }
    }

    public var listeningPort: Int? { server?.localAddress?.port }

    private func listen() -> EventLoopFuture<Void> {
        let me = UnsafeTransfer(self)
        let maximum = cluster.replicaOptions.limits.maxFrameBytes
        let idle = settings.idleTimeout
        let member = cluster.replicas[Int(id.rawValue)]
        return ServerBootstrap(group: loop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // Replies to a client that does not read are dropped beyond 4 MiB (it retransmits when it reads again).
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 1 << 20, high: 4 << 20))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(IdleStateHandler(readTimeout: idle))
                    try sync.addHandler(ByteToMessageHandler(FrameDecoder(maximumFrameBytes: maximum)))
                    try sync.addHandler(InboundHandler(node: me))
                }
            }
            .bind(host: member.host, port: member.port)
            .map { channel in
                let node = me.value
                node.server = channel
                for peer in node.peers.values { peer.connect() }
                node.ticker = node.loop.scheduleRepeatedTask(
                    initialDelay: .milliseconds(Int64(node.cluster.tickMilliseconds)),
                    delay: .milliseconds(Int64(node.cluster.tickMilliseconds))
                ) { _ in me.value.tick() }
                node.logger.info("replica \(node.id) listening on \(member.host):\(channel.localAddress?.port ?? member.port)")
            }
    }

    // MARK: The loop

    func accepted(_ channel: Channel) -> Bool {
        guard connections < settings.maxConnections, !stopped else {
            counters.connectionsRefused += 1
            return false
        }
        connections += 1
        return true
    }

    /// The frames of one read of one connection, in order. Their signatures are checked together first
    /// (`PreverifyingSuite`), then each is handled as if it had come alone.
    func received(_ frames: [[UInt8]], on channel: Channel) {
        guard !stopped else { return }
        let envelopes = frames.map { host.decode($0) }
        checking.check(envelopes.compactMap { $0 }, directory: cluster.directory, window: preparing)
        let answered = checking.answered
        for envelope in envelopes { received(envelope, on: channel) }
        if checking.answered > answered { metrics.signaturesCheckedAhead.increment(by: checking.answered - answered) }
        checking.forget()
    }

    /// The pre-prepares the replica would check now (none while it changes views).
    private var preparing: PreverifyingSuite.Window? {
        let status = host.behavior.status
        guard status.viewActive else { return nil }
        return PreverifyingSuite.Window(
            view: status.view, primary: .replica(host.configuration.primary(of: status.view)),
            low: status.lowWatermark, high: status.highWatermark)
    }

    private func received(_ envelope: Envelope?, on channel: Channel) {
        guard !stopped else { return }
        let events = host.receive(decoded: envelope)
        if host.counters.undecodable > counters.undecodableFrames {
            counters.undecodableFrames = host.counters.undecodable
            metrics.undecodableFrames.increment()
        }
        let key = ObjectIdentifier(channel)
        switch host.lastSender {
        case .replica?:
            // A peer's connection: it also relays clients' requests (PBFT §4.1), which must not make it the way
            // back to those clients.
            if peerChannels.insert(key).inserted { forgetClients(of: channel) }
        case .client(let client)? where !peerChannels.contains(key):
            metrics.arrived(client)
            // Only an authentic request routes a client's replies: a forged sender (or a commit certificate, whose
            // sender is not checked) must not divert another client's replies to this connection.
            let authentic = host.lastKind == .request && !events.contains(where: \.failedAuthentication)
            if authentic, clients[client] !== channel { route(client, to: channel, key) }
        default:
            break
        }
        log(events)
        endTurnSoon()
    }

    func closed(_ channel: Channel, reason: String?) {
        connections -= 1
        if let reason {
            counters.connectionsClosed[reason, default: 0] += 1
            metrics.connectionClosed(reason)
        }
        peerChannels.remove(ObjectIdentifier(channel))
        forgetClients(of: channel)
    }

    private func route(_ client: ClientID, to channel: Channel, _ key: ObjectIdentifier) {
        var spoken = clientsOfChannel[key, default: []]
        guard spoken.count < settings.maxClientsPerConnection else {
            counters.connectionsClosed["too many client identities", default: 0] += 1
            metrics.connectionClosed("too many client identities")
            channel.close(promise: nil)
            return
        }
        spoken.insert(client)
        clientsOfChannel[key] = spoken
        clients[client] = channel
    }

    private func forgetClients(of channel: Channel) {
        let spoken = clientsOfChannel.removeValue(forKey: ObjectIdentifier(channel)) ?? []
        for client in spoken where clients[client] === channel {
            clients[client] = nil
            metrics.forget(client)
        }
    }

    private func tick() {
        guard !stopped else { return }
        log(host.tick())
        endTurn()
        flushTrailing()
    }

    /// Frames produced while handling input go out once per loop turn, after one commit.
    private func endTurnSoon() {
        guard !turnScheduled else { return }
        turnScheduled = true
        let me = UnsafeTransfer(self)
        loop.execute { me.value.endTurn() }
    }

    private func endTurn() {
        turnScheduled = false
        log(host.endOfTurn())
        do {
            let started = NIODeadline.now()
            if try store.commit() {
                metrics.storageCommit.recordNanoseconds((NIODeadline.now() - started).nanoseconds)
            }
        } catch {
            transport.discard()
            fail("storage failed: \(error)")
            return
        }
        if let failure = host.storageFailure { return fail("storage failed: \(failure)") }
        countSyncs()
        noteCompactionFailures()
        // One write per connection per turn: a client process multiplexing many clients gets all of this turn's
        // replies for them in one buffer.
        var replies: [ObjectIdentifier: (channel: Channel, buffer: ByteBuffer)] = [:]
        for (frame, destination) in transport.take() {
            switch destination {
            case .replica(let replica): peers[replica]?.send(frame)
            case .client(let client): sendToClient(frame, client, &replies)
            case .allReplicas: continue  // the host expands it
            }
        }
        for peer in peers.values { peer.flush() }
        for (channel, buffer) in replies.values { channel.writeAndFlush(buffer, promise: nil) }
    }

    private func sendToClient(
        _ frame: [UInt8], _ client: ClientID, _ replies: inout [ObjectIdentifier: (channel: Channel, buffer: ByteBuffer)]
    ) {
        guard let channel = clients[client], channel.isActive else {
            counters.repliesWithoutConnection += 1
            metrics.repliesUnrouted.increment()
            return
        }
        guard channel.isWritable else {
            counters.repliesDroppedSlowClient += 1
            metrics.repliesSlowClient.increment()
            return
        }
        let key = ObjectIdentifier(channel)
        var buffer =
            replies.removeValue(forKey: key)?.buffer ?? channel.allocator.buffer(capacity: max(1024, frame.count + 4))
        buffer.writeFrame(frame)
        replies[key] = (channel, buffer)
    }

    func fail(_ message: String) {
        guard !stopped else { return }
        logger.critical("\(message); stopping")
        stopNow()
        onFatal?(message)
    }

    /// Stops ticking and listening, commits what is pending, and closes every connection.
    public func stop() -> EventLoopFuture<Void> {
        loop.submit { self.stopNow() }
    }

    private func stopNow() {
        guard !stopped else { return }
        endTurn()
        flushTrailing(now: true)
        stopped = true
        ticker?.cancel()
        server?.close(promise: nil)
        for peer in peers.values { peer.close() }
        for channel in clients.values { channel.close(promise: nil) }
    }

    public var status: ReplicaStatus { host.behavior.status }
    public var hostCounters: HostCounters { host.counters }

    /// Events replace logging inside the core: here they are logged and counted.
    private func log(_ events: [ReplicaEvent]) {
        for event in events {
            switch event {
            case .rejected(let reason, let from, let kind):
                metrics.rejected(reason)
                logger.debug("rejected \(kind) from \(from): \(reason.rawValue)")
            case .viewChangeStarted(let view):
                metrics.viewChangesStarted.increment()
                logger.notice("view change to \(view) started")
            case .viewInstalled(let view):
                metrics.viewsInstalled.increment()
                metrics.view.record(Int64(view.rawValue))
                logger.notice("view \(view) installed")
            case .stateTransferred(let sequence):
                metrics.stateTransfers.increment()
                logger.notice("state transferred at \(sequence)")
            case .fellBehind(let sequence): logger.notice("behind stable checkpoint \(sequence): fetching state")
            case .recovered(let view, let stable):
                metrics.view.record(Int64(view.rawValue))
                logger.notice("recovered from storage: view \(view), stable checkpoint \(stable)")
            case .checkpointStable(let sequence, _):
                metrics.checkpointsStable.increment()
                logger.debug("checkpoint \(sequence) stable")
            case .executed(let sequence, _, let requests):
                metrics.executed(requests)
                metrics.lastExecuted.record(Int64(sequence.rawValue))
            case .rolledBack(let from, let to):
                logger.notice("speculative execution rolled back from \(from) to \(to)")
            case .complained(let view): logger.notice("complained about the primary of view \(view)")
            case .committed: continue
            }
        }
    }
}

public struct NodeCounters: Sendable {
    public var connectionsRefused = 0
    public var connectionsClosed: [String: Int] = [:]
    public var undecodableFrames = 0
    public var repliesWithoutConnection = 0
    public var repliesDroppedSlowClient = 0
    public var compactionFailures = 0
    /// `fdatasync` calls of the log so far.
    public var storageSyncs = 0
}

extension ReplicaEvent {
    /// The frame's sender could not be authenticated: it must not route anything to the connection it came on.
    fileprivate var failedAuthentication: Bool {
        guard case .rejected(let reason, _, _) = self else { return false }
        return reason == .badSignature || reason == .unknownSender
    }
}
