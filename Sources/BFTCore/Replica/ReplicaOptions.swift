/// Protocol settings of a replica. Defaults follow PBFT's BFS where it gives them (K = 128, L = 256).
public struct ReplicaOptions: Hashable, Sendable {
    /// The agreement protocol; every replica of a cluster must run the same one.
    public var replication = ReplicationProtocol.pbft
    /// How client requests and replies are authenticated; every replica and client of a cluster must agree.
    public var clientAuthentication = ClientAuthentication.signatures
    /// K: a checkpoint every K sequence numbers (PBFT §4.3).
    public var checkpointInterval: UInt64 = 128
    /// L: the high watermark is the low one plus L; a multiple of K (PBFT §4.3).
    public var logWindow: UInt64 = 256
    /// Most requests in one batch.
    public var maxBatchRequests = 64
    /// Most operation bytes in one batch.
    public var maxBatchBytes = 256 * 1024
    /// Batches the primary keeps in flight before it lets requests queue up into fuller batches; queued requests
    /// are cut on the next tick whatever the count (PBFT §5.1.4's sliding window).
    public var maxInFlightBatches = 4
    /// The primary queues requests until the shell calls `endOfTurn()` after each burst of input, so requests
    /// that arrive together become one batch instead of a batch each while the window is open. The NIO shell
    /// sets it; the simulator and scripted tests deliver one message per turn and leave it off.
    public var cutBatchesAtTurnEnd = false
    /// Ticks without execution progress, while work is waiting, before a replica multicasts its status.
    public var statusIntervalTicks = 20
    /// Slots a replica retransmits in answer to one status message.
    public var retransmitSlots: UInt64 = 32
    /// T: ticks a replica waits for a known request to execute before it starts a view change (PBFT §4.4). Each
    /// successive view change without progress doubles it (PBFT §4.5.2), up to `2^maxViewChangeBackoff` times.
    public var viewChangeTimeoutTicks: UInt64 = 100
    /// Caps the doubling, so a replica that lived through a long partition comes back within a known bound.
    public var maxViewChangeBackoff: UInt64 = 6
    /// Bytes of state in one state-transfer chunk.
    public var stateChunkBytes = 64 * 1024
    /// Largest state a replica accepts in a transfer (chunk count times chunk size).
    public var maxStateBytes = 1 << 30
    /// State chunks a replica serves one peer per tick: a bound on what a Byzantine peer can make it send
    /// (16 × 64 KiB per 10 ms tick is 100 MB/s, more than a correct transfer asks for).
    public var stateChunksPerTick = 16
    /// Ticks without a chunk before a state transfer asks another replica.
    public var stateTransferTimeoutTicks: UInt64 = 20
    public var limits = CodecLimits.standard
    /// Deliberately broken rules, for proving that the tests catch them. Never set outside tests.
    @_spi(BrokenVariants) public var deviations = ProtocolDeviations()

    public init() {}

    /// Checks the settings that would make the protocol unsound or stuck.
    public func validate() -> String? {
        if checkpointInterval == 0 { return "the checkpoint interval must be positive" }
        if logWindow < checkpointInterval || logWindow % checkpointInterval != 0 {
            return "the log window (\(logWindow)) must be a positive multiple of the checkpoint interval"
        }
        if maxBatchRequests < 1 || maxBatchRequests > limits.maxBatchRequests {
            return "the batch size must be between 1 and \(limits.maxBatchRequests)"
        }
        if Int(logWindow) > limits.maxCertificateEntries {
            return "the log window must not exceed \(limits.maxCertificateEntries) (a view change carries it)"
        }
        if maxInFlightBatches < 1 || statusIntervalTicks < 1 { return "in-flight batches and intervals must be positive" }
        if viewChangeTimeoutTicks < 1 || stateTransferTimeoutTicks < 1 { return "timeouts must be positive" }
        if maxViewChangeBackoff > 30 { return "the view-change backoff must be at most 30 doublings" }
        if stateChunkBytes < 1 || stateChunkBytes > limits.maxByteString - 64 {
            return "the state chunk size must be between 1 and \(limits.maxByteString - 64) bytes"
        }
        return nil
    }
}

/// Classic mistakes a replica or client can be switched into, so the simulator's checkers can be shown to catch
/// them. Each is off by default and reachable only through `@_spi(BrokenVariants)`.
@_spi(BrokenVariants)
public struct ProtocolDeviations: Hashable, Sendable {
    /// A backup accepts a pre-prepare without recomputing the batch digest.
    public var acceptMismatchedDigest = false
    /// A replica executes a batch as soon as it accepts the pre-prepare, before it is committed.
    public var executeBeforeCommit = false
    /// Client signatures on requests are not checked.
    public var skipClientSignatureCheck = false
    /// The reply table is ignored: a retransmitted request is ordered and executed again.
    public var ignoreReplyTable = false
    /// A slot counts as committed with one commit fewer than a quorum.
    public var commitWithOneVoteTooFew = false
    /// A slot counts as prepared with 2f-1 matching prepares instead of 2f (certificates are checked the same way).
    public var prepareWithOneVoteTooFew = false
    /// A backup accepts a second pre-prepare with another digest for the same view and sequence number.
    public var acceptConflictingPrePrepare = false
    /// The new primary re-issues, for each slot, the certificate from the lowest view instead of the highest.
    public var pickLowestViewCertificate = false
    /// A backup accepts a new-view without recomputing its pre-prepares from the view-changes it carries.
    public var acceptNewViewWithoutRecomputing = false
    /// A restarted replica ignores its durable prepares, commits and prepared certificates.
    public var forgetVotesOnRestart = false
    /// Transferred state is installed without checking it against the certified digest.
    public var skipStateDigestCheck = false
    /// Speculative protocol: the new primary builds the new history as Zyzzyva's published view change does
    /// (the commit certificate with the highest sequence number, then slots backed by f+1 view-changes) without
    /// ranking evidence by view. Unsafe (Abraham et al., arXiv 1712.01367 §3).
    public var publishedViewChange = false

    public init() {}
}
