import BFTStorage

/// The node's side of durability that is not the group commit itself: trailing records written when the loop is
/// idle, and what the log reports (its `fdatasync`s, failed compactions) turned into metrics and warnings.
extension ReplicaNode {
    /// Slots committed while the loop had nothing else to write wait in memory for the next synced group (their
    /// records need not precede any message); an idle loop writes them within two ticks, a stopping one at once.
    func flushTrailing(now: Bool = false) {
        guard !stopped, host.storageFailure == nil else { return }
        do {
            try store.flushTrailing(now: now)
        } catch {
            fail("storage failed: \(error)")
        }
        countSyncs()
    }

    func countSyncs() {
        let syncs = store.store.syncs
        guard syncs > counters.storageSyncs else { return }
        metrics.storageSyncs.increment(by: syncs - counters.storageSyncs)
        counters.storageSyncs = syncs
    }

    /// A compaction that failed left the log whole and in use (the store retries later): worth a warning, not a stop.
    func noteCompactionFailures() {
        let log = store.store
        guard log.compactionFailures > counters.compactionFailures else { return }
        counters.compactionFailures = log.compactionFailures
        logger.warning(
            "log compaction failed (\(log.lastCompactionFailure ?? "unknown")); the log stays whole and in use, and compaction is tried again once it has doubled")
    }
}
