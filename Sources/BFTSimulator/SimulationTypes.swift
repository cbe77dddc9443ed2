import BFTCore
import BFTRuntime

public enum Node: Hashable, Sendable, CustomStringConvertible {
    case replica(ReplicaID)
    case client(ClientID)
    public var description: String {
        switch self {
        case .replica(let r): r.description
        case .client(let c): c.description
        }
    }
}

enum SimulationEvent {
    case deliver(from: Node, to: Node, frame: [UInt8])
    case replicaTick(ReplicaID)
    case clientTick(Int)
    case invoke(Int)
    /// Isolate `size` random replicas, the current primary among them if `includePrimary`.
    case isolate(size: Int, includePrimary: Bool)
    case heal
    case inject(Int)
    /// One strike of faulty client `index` of `options.faultyClients`.
    case faultyClient(Int)
    /// Crash `count` random correct replicas (the current primary among them if `includePrimary`).
    case crash(count: Int, includePrimary: Bool)
    case restartAll
}

struct SimulatedClient {
    var session: ClientSession
    let signer: any Signer
    var issued = 0
    var current: Int?
}

final class OutboxTransport: Transport {
    var outbox: [([UInt8], Destination)] = []
    func send(_ frame: [UInt8], to destination: Destination) { outbox.append((frame, destination)) }
}

public struct SimulationStats: Sendable {
    public var delivered = 0
    public var dropped = 0
    public var completedRequests = 0
    public var executedRequests = 0
    public var undecodableAtClients = 0
    public var crashes = 0
    /// Trailing records (persisted after the store's last sync) that crashes took, as a power loss may.
    public var recordsLostAtCrashes = 0
    public var viewChanges = 0
    public var stateTransfers = 0
    /// Speculative protocol: executions undone by view changes, and complaints about primaries.
    public var rollbacks = 0
    public var complaints = 0
    public var fastCompletions = 0
    /// Speculative protocol with `clientsShareCommits`: completions by another client's certificate.
    public var ridingCompletions = 0
    /// Messages delivered, by message kind (indexed by the wire tag), and their bytes.
    public var deliveredByKind = [Int](repeating: 0, count: 32)
    public var deliveredBytes = 0
    /// Virtual time of the last completion: completed requests over it is the run's throughput.
    public var lastCompletion: UInt64 = 0

    public init() {}

    mutating func countDelivery(_ frame: [UInt8]) {
        deliveredBytes += frame.count
        // version | sender (0x00 + u32, or 0x01 + u64) | tag
        guard frame.count > 10 else { return }
        let tag = Int(frame[1] == 0 ? frame[6] : frame[10])
        if tag < deliveredByKind.count { deliveredByKind[tag] += 1 }
    }

    public mutating func add(_ other: SimulationStats) {
        delivered += other.delivered
        dropped += other.dropped
        completedRequests += other.completedRequests
        executedRequests += other.executedRequests
        undecodableAtClients += other.undecodableAtClients
        crashes += other.crashes
        recordsLostAtCrashes += other.recordsLostAtCrashes
        viewChanges += other.viewChanges
        stateTransfers += other.stateTransfers
        rollbacks += other.rollbacks
        complaints += other.complaints
        fastCompletions += other.fastCompletions
        ridingCompletions += other.ridingCompletions
        deliveredBytes += other.deliveredBytes
        lastCompletion += other.lastCompletion
        for kind in deliveredByKind.indices { deliveredByKind[kind] += other.deliveredByKind[kind] }
    }
}
