import BFTCore
import BFTRuntime
import BFTStorage
import NIOCore

/// Group commit with the sync off the event loop (DESIGN.md, "The shell": one sync per group of `Effects`).
///
/// The records of a loop turn become one group; the frames the turn produced wait until that group is synced, so
/// nothing leaves before the records it depends on are durable (the contract on `Effects`). While one group is
/// being synced the loop goes on handling messages, and the records of the turns meanwhile collect in memory and
/// become the next group when the sync is done. So at most one group is ever written but not synced, and a power
/// loss can tear only the file's last group, which `LogFileStore` cuts off on open.
///
/// Why: with the sync on the loop a backup spent about a fifth of its time blocked in `fdatasync` (`perf trace`,
/// 512 clients, batch 256), time in which it could have checked the next batch.
///
/// Under `SyncMode.always` every persist is appended and synced at once, on the loop (the host persists after
/// every step); under `.none` a turn's group is appended and its frames leave at once.
final class CommitPipeline: DurableStore {
    typealias Frames = [([UInt8], Destination)]
    /// Runs `file.sync()` away from the loop and calls `done` back on the loop with its outcome.
    typealias SyncRunner = (_ file: LogFileStore.OpenFile, _ done: @escaping (Result<Void, any Error>) -> Void) -> Void

    let store: LogFileStore
    let mode: SyncMode
    private let runSync: SyncRunner
    /// Where frames go once the records before them are durable.
    var release: (Frames) -> Void = { _ in }
    /// Called once if a write or a sync fails; nothing held is released after it.
    var failure: (any Error) -> Void = { _ in }
    private var pending: [DurableRecord] = []
    /// Groups appended, and how many of them are known to be durable.
    private var written = 0
    private var durable = 0
    private(set) var syncing = false
    private var held = CircularBuffer<(needs: Int, frames: Frames)>()
    private var failed = false

    init(store: LogFileStore, mode: SyncMode, runSync: @escaping SyncRunner) {
        self.store = store
        self.mode = mode
        self.runSync = runSync
    }

    func persist(_ records: [DurableRecord]) throws {
        if mode == .always { try store.persist(records) } else { pending += records }
    }

    func load() throws -> [DurableRecord] { try store.load() }

    /// Frames held for a sync (for tests and metrics).
    var heldFrames: Int { held.reduce(0) { $0 + $1.frames.count } }

    /// The end of a loop turn: `frames` leave once every record persisted so far is durable, in the order the
    /// turns produced them.
    func endTurn(_ frames: Frames) {
        guard !failed else { return }
        let needs = pending.isEmpty ? written : written + 1
        if !frames.isEmpty {
            if held.isEmpty && needs <= durable { release(frames) } else { held.append((needs, frames)) }
        }
        writeNextGroup()
    }

    /// Makes everything durable now, on the caller's thread, and releases every held frame (a replica that stops).
    func flush() throws {
        guard !failed else { return }
        do {
            try store.file.sync()  // also covers a group whose sync is still running elsewhere
            if !pending.isEmpty {
                try store.append(pending)
                pending = []
                written += 1
                try store.file.sync()
            }
        } catch {
            fail(error)
            throw error
        }
        synced(through: written)
    }

    private func writeNextGroup() {
        guard !syncing, !pending.isEmpty, !failed else { return }
        do {
            try store.append(pending)
        } catch {
            return fail(error)
        }
        pending = []
        written += 1
        let group = written
        guard mode != .none else { return synced(through: group) }
        syncing = true
        runSync(store.file) { result in
            self.syncing = false
            switch result {
            case .success: self.synced(through: group)
            case .failure(let error): self.fail(error)
            }
        }
    }

    private func synced(through group: Int) {
        guard !failed else { return }
        durable = max(durable, group)
        while let first = held.first, first.needs <= durable {
            release(held.removeFirst().frames)
        }
        writeNextGroup()
    }

    private func fail(_ error: any Error) {
        guard !failed else { return }
        failed = true
        held.removeAll()
        pending.removeAll()
        failure(error)
    }
}
