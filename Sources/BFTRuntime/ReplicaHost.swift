import BFTCore

/// The one interpreter of `Effects`: it decodes frames (counting and dropping undecodable ones), steps the
/// behaviour, persists the durable records and only then sends the messages. One serial owner drives a host.
public struct ReplicaHost {
    public let id: ReplicaID
    public let configuration: Configuration
    public var behavior: any ReplicaBehavior
    let transport: any Transport
    let store: any DurableStore
    let limits: CodecLimits
    public private(set) var counters = HostCounters()
    /// Set when the store failed to persist: from then on the host sends nothing, and the shell should stop.
    public private(set) var storageFailure: String?
    /// The sender named by the last frame that decoded (the shell maps client connections with it).
    public private(set) var lastSender: Principal?
    /// The kind of message the last frame that decoded carried.
    public private(set) var lastKind: MessageKind?

    public init(
        id: ReplicaID, configuration: Configuration, behavior: any ReplicaBehavior, transport: any Transport,
        store: any DurableStore, limits: CodecLimits = .standard
    ) {
        self.id = id
        self.configuration = configuration
        self.behavior = behavior
        self.transport = transport
        self.store = store
        self.limits = limits
    }

    /// Starts a replica process again: rebuilds `replica` (freshly made) from the records in `store`, as the
    /// durability contract on `DurableRecord` promises, and carries out what recovery produced (re-executed
    /// replies, events). The events are returned for the shell to log.
    /// `wrap` turns the recovered replica into the behaviour to run (a Byzantine one, for adversarial runs).
    public static func recovering(
        _ replica: Replica, configuration: Configuration, transport: any Transport, store: any DurableStore,
        limits: CodecLimits = .standard, wrap: (Replica) -> any ReplicaBehavior = { $0 }
    ) throws -> (host: ReplicaHost, events: [ReplicaEvent]) {
        var recovered = replica
        let effects = recovered.recover(from: try store.load())
        var host = ReplicaHost(
            id: replica.id, configuration: configuration, behavior: wrap(recovered), transport: transport,
            store: store, limits: limits)
        let events = host.carryOut(effects)
        return (host, events)
    }

    /// Handles one frame from the network. Returns the events for the shell to log and count.
    @discardableResult
    public mutating func receive(frame: [UInt8]) -> [ReplicaEvent] {
        receive(decoded: decode(frame))
    }

    /// The envelope a frame encodes, or nil if it is not one in canonical form.
    public func decode(_ frame: [UInt8]) -> Envelope? {
        try? Envelope.decode(frame, limits: limits)
    }

    /// `receive(frame:)` for a frame already decoded with `decode(_:)` (nil: it did not decode).
    @discardableResult
    public mutating func receive(decoded: Envelope?) -> [ReplicaEvent] {
        counters.framesReceived += 1
        guard let envelope = decoded else {
            counters.undecodable += 1
            lastSender = nil
            lastKind = nil
            return []
        }
        lastSender = envelope.sender
        lastKind = envelope.message.kind
        return carryOut(behavior.receive(envelope))
    }

    @discardableResult
    public mutating func tick() -> [ReplicaEvent] {
        carryOut(behavior.tick())
    }

    /// Call after the frames of one event-loop turn: requests that arrived together become one batch.
    @discardableResult
    public mutating func endOfTurn() -> [ReplicaEvent] {
        carryOut(behavior.endOfTurn())
    }

    /// Persist, then send: a crash between the two loses only messages, never a promise already made. Public for
    /// the effects a replica produces outside `receive` and `tick`, such as `Replica.recover(from:)`.
    @discardableResult
    public mutating func carryOut(_ effects: Effects) -> [ReplicaEvent] {
        guard storageFailure == nil else { return effects.events }
        if !effects.durable.isEmpty {
            do {
                try store.persist(effects.durable)
            } catch {
                // Nothing may be sent that the records were to guard; the shell must stop this replica.
                storageFailure = "\(error)"
                return effects.events
            }
            counters.recordsPersisted += effects.durable.count
        }
        for outbound in effects.messages {
            let frame = outbound.envelope.encoded
            switch outbound.destination {
            case .allReplicas:
                for replica in configuration.replicas where replica != id {
                    transport.send(frame, to: .replica(replica))
                    counters.messagesSent += 1
                }
            case .replica(let replica) where replica == id:
                continue
            case .replica, .client:
                transport.send(frame, to: outbound.destination)
                counters.messagesSent += 1
            }
        }
        for event in effects.events {
            if case .rejected(let reason, _, _) = event { counters.rejected[reason, default: 0] += 1 }
        }
        return effects.events
    }
}

public struct HostCounters: Hashable, Sendable {
    public var framesReceived = 0
    public var undecodable = 0
    public var messagesSent = 0
    public var recordsPersisted = 0
    public var rejected: [RejectReason: Int] = [:]
}
