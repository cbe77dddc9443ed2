import BFTCore
import BFTRuntime
import BFTStorage

/// Holds the records of one loop turn and appends them in one group at its end (group commit); with
/// `immediate`, every persist is its own append. Either way the shell sends nothing before `commit()`.
final class GroupCommitStore: DurableStore {
    let store: LogFileStore
    let immediate: Bool
    private var pending: [DurableRecord] = []

    init(store: LogFileStore, immediate: Bool) {
        self.store = store
        self.immediate = immediate
    }

    func persist(_ records: [DurableRecord]) throws {
        if immediate { try store.persist(records) } else { pending += records }
    }

    /// Writes the turn's records; whether there were any.
    @discardableResult
    func commit() throws -> Bool {
        guard !pending.isEmpty else { return false }
        let records = pending
        pending = []
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
