/// Commit certificates shared by the client sessions of one process (a `BFTClientPool`; the simulator's clients when
/// `SimulationOptions.clientsShareCommits` is set).
///
/// Why: with one replica silent, no request of a batch completes on the fast path, and without sharing each of the
/// batch's clients sends its own certificate to every replica and takes 2f+1 local-commits back, which doubles the
/// messages per request. Yet 2f+1 local-commits for a certificate on (v, n, h_n) show the history h_n held
/// committed by 2f+1 replicas (Zyzzyva §3.3), and h_n contains every request of batch n, not only the certificate
/// sender's. So the first session with 2f+1 matching spec-responses for (v, n, h_n) sends the certificate, later
/// ones with 2f+1 matching spec-responses for the same (v, n, h_n) ride on it, and they complete when it does.
///
/// What stays per client: a rider still needs its own 2f+1 spec-responses that match in view, sequence number,
/// history and result (they fix its result, exactly as for a certificate it sent itself); only the local-commits
/// are shared, and only inside one process, whose sessions trust one another. A session that completes on the fast
/// path commits the history here too (3f+1 matching spec-responses for (v, n, h_n) keep h_n through any view change,
/// as 2f+1 local-commits do), which releases the riders of a certificate whose sender then got its fourth answer. A
/// rider whose owner never completes (abandoned) sends its own certificate when its commit timer runs out.
///
/// A session that reaches 2f+1 matching spec-responses waits `commitTicks` for the fourth before it sends a
/// certificate; meanwhile it is registered as waiting (`waiting(_:by:)`), so that a commit of its history by any
/// other session (fast path or certificate) completes it at once. Without that, a session whose fourth answer a
/// faulty replica withheld sat out its whole commit timer although its batch had long been committed: the
/// mutator's p99.9 of about 110 ms.
public final class SharedCommits {
    /// What a certificate commits: a history, in a view, at a sequence number.
    public struct History: Hashable, Sendable {
        public var view: ViewNumber
        public var sequence: SequenceNumber
        public var history: Digest

        public init(view: ViewNumber, sequence: SequenceNumber, history: Digest) {
            self.view = view
            self.sequence = sequence
            self.history = history
        }
    }

    private struct Entry {
        /// The session that sends the certificate; nil while sessions only wait (`waiting(_:by:)`).
        var owner: ClientID?
        /// Sessions to complete when the history commits: riders on the owner's certificate, and waiters.
        var riders: [ClientID] = []
        var committed = false
    }

    private var entries: [History: Entry] = [:]
    /// Histories in the order they were first claimed, to forget the oldest (riders then use their own timer).
    private var order: [History] = []
    private var oldest = 0
    /// Histories remembered at most; a few batches in flight need far fewer.
    public let capacity: Int

    public init(capacity: Int = 1024) { self.capacity = max(1, capacity) }

    /// Whether a certificate on `history` already gathered 2f+1 local-commits.
    public func isCommitted(_ history: History) -> Bool { entries[history]?.committed == true }

    /// Called by a session that holds 2f+1 matching spec-responses for `history` and would send a certificate:
    /// true if it should (no other session has, or the history is committed already, which a certificate then
    /// merely confirms); false if it rides on another session's and waits for `committed(_:by:)`.
    public func claim(_ history: History, by client: ClientID) -> Bool {
        // Fields read and riders appended in place: a copy of the entry would copy its riders on every append.
        guard let (committed, owner) = entries[history].map({ ($0.committed, $0.owner) }) else {
            remember(history, Entry(owner: client))
            return true
        }
        if committed || owner == client { return true }
        if owner == nil {
            entries[history]?.owner = client
            return true
        }
        if entries[history]?.riders.contains(client) == false { entries[history]?.riders.append(client) }
        return false
    }

    /// Called by a session that holds 2f+1 matching spec-responses for `history` and waits for the fourth: it is
    /// handed to the caller of `committed(_:by:)` like a rider. Nothing if the history is committed already
    /// (the session checks `isCommitted` itself). A session registers once per request, when it first holds 2f+1.
    public func waiting(_ history: History, by client: ClientID) {
        guard let (committed, owner) = entries[history].map({ ($0.committed, $0.owner) }) else {
            return remember(history, Entry(owner: nil, riders: [client]))
        }
        guard !committed, owner != client else { return }
        entries[history]?.riders.append(client)
    }

    /// A session completed on 2f+1 local-commits for `history`: returns the sessions riding on it, in the order
    /// they joined, for the caller to hand them `ClientSession.historyCommitted(_:)`.
    public func committed(_ history: History, by client: ClientID) -> [ClientID] {
        guard var entry = entries[history] else {
            remember(history, Entry(owner: client, committed: true))
            return []
        }
        let riders = entry.riders.filter { $0 != client }
        entry.committed = true
        entry.riders = []
        entries[history] = entry
        return riders
    }

    private func remember(_ history: History, _ entry: Entry) {
        if order.count - oldest >= capacity {
            entries[order[oldest]] = nil
            oldest += 1
            // Drop the forgotten prefix now and then, so `order` stays within twice the capacity.
            if oldest >= capacity {
                order.removeFirst(oldest)
                oldest = 0
            }
        }
        entries[history] = entry
        order.append(history)
    }
}

/// The local-commits of one session's certificate, passed on to the sessions riding on it (see `SharedCommits`).
public struct SharedCommit: Hashable, Sendable {
    public var history: SharedCommits.History
    public var riders: [ClientID]
    /// Committed by 3f+1 matching spec-responses (a session's fast path), not by a certificate.
    public var fastPath = false
}
