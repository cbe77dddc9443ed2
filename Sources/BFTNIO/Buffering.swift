import BFTCore
import BFTRuntime
import BFTStorage

/// Holds the records of one loop turn and appends them in one group at its end (group commit); with
/// `immediate`, every persist is its own append. Either way the shell sends nothing before `commit()`.
///
/// A turn whose records are all trailing ones (`DurableRecord.mustPrecedeMessages` is false: slots committed)
/// writes nothing: they wait in memory and go in front of the next group, which is synced, or are written by
/// `flushTrailing()` when the loop is idle. So an `fdatasync` is spent only where a message waits for it.
final class GroupCommitStore: DurableStore {
    let store: LogFileStore
    let immediate: Bool
    private var pending: [DurableRecord] = []
    /// Records of earlier turns that no message waited for, oldest first.
    private(set) var trailing: [DurableRecord] = []
    /// Whether `trailing` held records at the last `flushTrailing()` that have not been written since.
    private var trailingWaited = false

    init(store: LogFileStore, immediate: Bool) {
        self.store = store
        self.immediate = immediate
    }

    func persist(_ records: [DurableRecord]) throws {
        if immediate { try store.persist(records) } else { pending += records }
    }

    /// Writes the turn's records (after the trailing ones) if a message waits for any of them; whether it wrote.
    @discardableResult
    func commit() throws -> Bool {
        guard !pending.isEmpty else { return false }
        guard pending.contains(where: \.mustPrecedeMessages) else {
            trailing += pending
            pending = []
            return false
        }
        let records = trailing + pending
        trailing = []
        trailingWaited = false
        pending = []
        try store.persist(records)
        return true
    }

    /// Writes the trailing records if they have waited since the previous call (the shell calls it on each
    /// tick, so under load they ride with the next synced group instead), or at once with `now`; whether it wrote.
    @discardableResult
    func flushTrailing(now: Bool = false) throws -> Bool {
        guard pending.isEmpty, !trailing.isEmpty else { return false }
        guard now || trailingWaited else {
            trailingWaited = true
            return false
        }
        let records = trailing
        trailing = []
        trailingWaited = false
        try store.persist(records)
        return true
    }

    func load() throws -> [DurableRecord] { try store.load() }
}

/// Collects the frames a host sends during one loop turn; the node writes them after the commit.
final class BufferingTransport: Transport {
    private var outbox: [([UInt8], Destination)] = []

    func send(_ frame: [UInt8], to destination: Destination) { outbox.append((frame, destination)) }

    func take() -> [([UInt8], Destination)] {
        defer { outbox.removeAll(keepingCapacity: true) }
        return outbox
    }

    func discard() { outbox.removeAll() }
}
