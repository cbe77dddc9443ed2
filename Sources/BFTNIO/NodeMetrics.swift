import BFTCore
import Metrics
import NIOCore

/// What a replica counts, through swift-metrics (a no-op until a backend is bootstrapped; `bftreplica run
/// --metrics-port` bootstraps Prometheus). Names follow Prometheus conventions.
struct NodeMetrics {
    let requestsExecuted = Counter(label: "bft_requests_executed_total")
    let batchesExecuted = Counter(label: "bft_batches_executed_total")
    let viewChangesStarted = Counter(label: "bft_view_changes_started_total")
    let viewsInstalled = Counter(label: "bft_views_installed_total")
    let checkpointsStable = Counter(label: "bft_checkpoints_stable_total")
    let stateTransfers = Counter(label: "bft_state_transfers_total")
    let undecodableFrames = Counter(label: "bft_undecodable_frames_total")
    /// Replies to a client with no connection here (it has not sent this replica a request yet) or whose
    /// connection does not read: the client retransmits to every replica, which routes them again.
    let repliesUnrouted = Counter(label: "bft_replies_undelivered_total", dimensions: [("reason", "no connection")])
    let repliesSlowClient = Counter(label: "bft_replies_undelivered_total", dimensions: [("reason", "slow client")])
    /// From a request's arrival at this replica to its execution here.
    let requestLatency = Timer(label: "bft_request_latency_seconds", preferredDisplayUnit: .seconds)
    /// One group commit (a loop turn's records, one append and sync) that had records to write.
    let storageCommit = Timer(label: "bft_storage_commit_seconds", preferredDisplayUnit: .seconds)
    /// `fdatasync` calls of the log (appends that messages waited for, idle flushes and compactions).
    let storageSyncs = Counter(label: "bft_storage_syncs_total")
    /// Signatures the core had checked for it on every core before it asked (`PreverifyingSuite`).
    let signaturesCheckedAhead = Counter(label: "bft_signatures_checked_ahead_total")
    let view = Gauge(label: "bft_view")
    let lastExecuted = Gauge(label: "bft_last_executed_sequence")
    private var rejected: [RejectReason: Counter] = [:]
    private var closed: [String: Counter] = [:]
    /// Arrival of the newest request per client, for the latency timer (one entry per connected client).
    private var arrivals: [ClientID: NIODeadline] = [:]

    mutating func rejected(_ reason: RejectReason) {
        if rejected[reason] == nil {
            rejected[reason] = Counter(label: "bft_rejected_messages_total", dimensions: [("reason", "\(reason)")])
        }
        rejected[reason]?.increment()
    }

    mutating func connectionClosed(_ reason: String) {
        if closed[reason] == nil {
            closed[reason] = Counter(label: "bft_connections_closed_total", dimensions: [("reason", reason)])
        }
        closed[reason]?.increment()
    }

    mutating func arrived(_ client: ClientID) {
        if arrivals[client] == nil { arrivals[client] = .now() }
    }

    mutating func executed(_ requests: [ExecutedRequest]) {
        batchesExecuted.increment()
        requestsExecuted.increment(by: requests.count)
        let now = NIODeadline.now()
        for request in requests {
            guard let arrival = arrivals.removeValue(forKey: request.client) else { continue }
            requestLatency.recordNanoseconds((now - arrival).nanoseconds)
        }
    }

    mutating func forget(_ client: ClientID) { arrivals[client] = nil }
}
