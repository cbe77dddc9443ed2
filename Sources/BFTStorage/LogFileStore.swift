import BFTCore
import BFTRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// How hard a store works to make a commit survive power loss.
public enum SyncMode: String, CaseIterable, Sendable {
    /// Every persist is appended and `fdatasync`ed, and the host persists after every step.
    case always
    /// As `always` at the store; the shell groups the records of all steps of one event-loop turn into one
    /// append (group commit) before it sends their messages. The default.
    case batch
    /// No `fdatasync`: a process crash loses nothing (the kernel has the bytes), a power loss may. For benchmarks
    /// and tests.
    case none
}

/// A `DurableStore` in one append-only file (DESIGN.md: append-only file with group commit, replay on start,
/// truncate below the low watermark). Each `persist` appends one checksummed group and syncs it once; `load`
/// returns what recovery still needs (`DurableRecordCodec.survivors`). When a record supersedes others (a stable
/// checkpoint, a view-change, a new-view, a certificate), the file has grown to twice its size after the last
/// compaction (plus 1 MiB) and at least half of it is garbage, the survivors are copied into a new file that
/// atomically replaces the old one, so the file stays bounded by the log window and the cost of copying is
/// amortised over what was appended. The garbage condition matters for Zyzzyva: its history certificate for a
/// checkpoint is logged one round before the checkpoint turns stable, and compacting then would copy a whole
/// checkpoint interval of slots that the stable checkpoint drops a moment later (4–6 MiB per interval at batch 256).
///
/// One process at a time: the file is locked (`flock`) while open. The replica's event loop is the only caller.
public final class LogFileStore: DurableStore {
    public let path: String
    let sync: SyncMode
    let limits: CodecLimits
    private var descriptor: Int32
    private var entries: [LogFileFormat.Entry]
    /// The pre-prepares the file holds, by slot: a prepared certificate names its pre-prepare instead of repeating it.
    private var prePrepares: LogFileFormat.PrePrepares = [:]
    private var fileSize: Int
    private var compactAt = 0
    /// Times the file was rewritten to its survivors (for tests and metrics).
    public private(set) var compactions = 0
    /// Compactions that failed before replacing the log (which stays whole and in use), and the last reason: the
    /// shell logs them.
    public private(set) var compactionFailures = 0
    public private(set) var lastCompactionFailure: String?
    /// `fdatasync` calls made (none with `SyncMode.none`), for metrics.
    public private(set) var syncs = 0

    /// Opens (or creates) the log at `path`; a torn last group (a crash in the middle of an append) is cut off.
    public init(path: String, sync: SyncMode = .batch, limits: CodecLimits = .standard) throws {
        self.path = path
        self.sync = sync
        self.limits = limits
        descriptor = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw LogFileError.system(operation: "open \(path)", errno: errno) }
        entries = []
        fileSize = 0
        do {
            try Self.lock(descriptor)
            let bytes = try Self.readAll(descriptor)
            if bytes.isEmpty {
                try Self.write(LogFileFormat.magic, to: descriptor, at: 0)
                try syncFile(descriptor)
                fileSize = LogFileFormat.magic.count
            } else {
                let scan = try LogFileFormat.scan(bytes, limits: limits)
                if scan.validBytes < bytes.count {
                    guard ftruncate(descriptor, off_t(scan.validBytes)) == 0 else {
                        throw LogFileError.system(operation: "ftruncate \(path)", errno: errno)
                    }
                    try syncFile(descriptor)
                }
                entries = scan.entries
                prePrepares = scan.prePrepares
                fileSize = scan.validBytes
            }
        } catch {
            close(descriptor)
            throw error
        }
        compactAt = 2 * fileSize + (1 << 20)
    }

    deinit { close(descriptor) }

    /// Opens the store `replica.log` in `directory`, refusing a directory that holds an older version's store
    /// (starting empty next to it would silently forget everything that replica promised).
    public static func open(directory: String, sync: SyncMode = .batch, limits: CodecLimits = .standard) throws
        -> LogFileStore
    {
        let legacy = "\(directory)/replica.sqlite"
        let path = "\(directory)/replica.log"
        if access(legacy, F_OK) == 0 && access(path, F_OK) != 0 { throw LogFileError.legacyStore(path: legacy) }
        return try LogFileStore(path: path, sync: sync, limits: limits)
    }

    /// The records recovery needs, read from a store another process may be writing (tests watching a running
    /// replica): nothing is locked or cut off, and a torn last group is just left out.
    public static func peek(path: String, limits: CodecLimits = .standard) throws -> [DurableRecord] {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw LogFileError.system(operation: "open \(path)", errno: errno) }
        defer { close(descriptor) }
        return survivors(of: try LogFileFormat.scan(try readAll(descriptor), limits: limits))
    }

    public func persist(_ records: [DurableRecord]) throws {
        guard !records.isEmpty else { return }
        var bodies: [[UInt8]] = []
        var tags: [(UInt8, SequenceNumber)] = []
        bodies.reserveCapacity(records.count)
        tags.reserveCapacity(records.count)
        // Pre-prepares of this group, with what they replace: a failed write takes them back.
        var replaced: [(LogFileFormat.Slot, Envelope?)] = []
        for record in records {
            let encoded = LogFileFormat.encode(record, logged: prePrepares)
            bodies.append(encoded.bytes)
            tags.append((encoded.tag, encoded.sequence))
            if let (slot, envelope) = LogFileFormat.prePrepare(in: record) {
                replaced.append((slot, prePrepares.updateValue(envelope, forKey: slot)))
            }
        }
        var group: [UInt8] = []
        let added = LogFileFormat.appendGroup(bodies, tags: tags, base: fileSize, to: &group)
        do {
            try Self.write(group, to: descriptor, at: fileSize)
            try syncFile(descriptor)
        } catch {
            _ = ftruncate(descriptor, off_t(fileSize))  // best effort: leave no torn group behind a later append
            for (slot, previous) in replaced.reversed() { prePrepares[slot] = previous }
            throw error
        }
        fileSize += group.count
        entries += added
        if fileSize >= compactAt && added.contains(where: { DurableRecordCodec.supersedesOthers($0.tag) })
            && 2 * LogFileFormat.keptBytes(entries) <= fileSize
        {
            try compact()
        }
    }

    public func load() throws -> [DurableRecord] {
        Self.survivors(of: try LogFileFormat.scan(try Self.readAll(descriptor), limits: limits))
    }

    /// How many records `load` would return.
    public var recordCount: Int { LogFileFormat.keep(entries).count }

    /// The file's size in bytes.
    public var bytes: Int { fileSize }

    private static func survivors(of scan: LogFileFormat.Scan) -> [DurableRecord] {
        let kept = DurableRecordCodec.survivors(scan.entries.map { ($0.tag, $0.sequence) })
        var records: [DurableRecord] = []
        for (record, keep) in zip(scan.records, kept) where keep { records.append(record) }
        return records
    }

    /// Copies the survivors into `path.compact`, syncs it, locks it, and renames it over the log (atomic: a crash
    /// leaves either file whole), then syncs the directory so the rename itself is durable. A failure before the
    /// rename (a full disk while writing the copy, say) leaves the log whole and in use: it is counted and the
    /// compaction is tried again once the file has doubled again, since the records themselves are safe. A failure
    /// to sync the directory after the rename is thrown: appends to the new file might not survive a power loss.
    func compact() throws {
        let copy: (descriptor: Int32, bytes: Int, entries: [LogFileFormat.Entry])
        do {
            copy = try writeCompactedCopy()
        } catch {
            compactionFailures += 1
            lastCompactionFailure = "\(error)"
            compactAt = 2 * fileSize + (1 << 20)
            return
        }
        close(descriptor)
        descriptor = copy.descriptor
        entries = copy.entries
        // Only the slots still in the file can be named again.
        let slots = Set(copy.entries.filter { $0.tag == 1 }.map(\.sequence))
        prePrepares = prePrepares.filter { slots.contains($0.key.sequence) }
        fileSize = copy.bytes
        compactAt = 2 * fileSize + (1 << 20)
        compactions += 1
        try syncDirectory()
    }

    /// Writes the survivors to `path.compact`, syncs and locks it and renames it over the log; returns its open
    /// descriptor, size and entries. On failure nothing has replaced the log and the copy is removed.
    private func writeCompactedCopy() throws -> (descriptor: Int32, bytes: Int, entries: [LogFileFormat.Entry]) {
        let kept = LogFileFormat.keep(entries)
        var bodies: [[UInt8]] = []
        bodies.reserveCapacity(kept.count)
        for entry in kept {
            var body = [UInt8](repeating: 0, count: entry.length)
            try Self.read(into: &body, from: descriptor, at: entry.offset)
            bodies.append(body)
        }
        var file = LogFileFormat.magic
        let moved = bodies.isEmpty
            ? [] : LogFileFormat.appendGroup(bodies, tags: kept.map { ($0.tag, $0.sequence) }, base: 0, to: &file)
        let temporary = path + ".compact"
        let replacement = Glibc.open(temporary, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard replacement >= 0 else { throw LogFileError.system(operation: "open \(temporary)", errno: errno) }
        do {
            try Self.lock(replacement)
            try Self.write(file, to: replacement, at: 0)
            try syncFile(replacement)
            guard rename(temporary, path) == 0 else { throw LogFileError.system(operation: "rename", errno: errno) }
        } catch {
            close(replacement)
            unlink(temporary)
            throw error
        }
        return (replacement, file.count, moved)
    }

    private func syncFile(_ descriptor: Int32) throws {
        guard sync != .none else { return }
        syncs += 1
        guard fdatasync(descriptor) == 0 else { throw LogFileError.system(operation: "fdatasync \(path)", errno: errno) }
    }

    private func syncDirectory() throws {
        guard sync != .none else { return }
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let handle = Glibc.open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard handle >= 0 else { throw LogFileError.system(operation: "open \(directory)", errno: errno) }
        defer { close(handle) }
        guard fsync(handle) == 0 else { throw LogFileError.system(operation: "fsync \(directory)", errno: errno) }
    }
}

// MARK: - Plain file I/O (pread/pwrite loops that survive short transfers and EINTR)

extension LogFileStore {
    static func lock(_ descriptor: Int32) throws {
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            throw errno == EWOULDBLOCK ? LogFileError.locked : LogFileError.system(operation: "flock", errno: errno)
        }
    }

    static func readAll(_ descriptor: Int32) throws -> [UInt8] {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw LogFileError.system(operation: "fstat", errno: errno) }
        var bytes = [UInt8](repeating: 0, count: Int(status.st_size))
        try read(into: &bytes, from: descriptor, at: 0)
        return bytes
    }

    static func read(into bytes: inout [UInt8], from descriptor: Int32, at offset: Int) throws {
        let total = bytes.count
        try bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var done = 0
            while done < total {
                let count = pread(descriptor, base + done, total - done, off_t(offset + done))
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else {
                    throw LogFileError.system(operation: "pread", errno: count == 0 ? EIO : errno)
                }
                done += count
            }
        }
    }

    static func write(_ bytes: [UInt8], to descriptor: Int32, at offset: Int) throws {
        try bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var done = 0
            while done < buffer.count {
                let count = pwrite(descriptor, base + done, buffer.count - done, off_t(offset + done))
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { throw LogFileError.system(operation: "pwrite", errno: errno) }
                done += count
            }
        }
    }
}
