import BFTCore
import BFTRuntime
import Foundation
import GRDB

/// How hard a store works to make a commit survive power loss.
public enum SyncMode: String, CaseIterable, Sendable {
    /// Every persist is a transaction with `synchronous = FULL`, and the host persists after every step.
    case always
    /// As `always` at the store; the shell groups the records of all steps of one event-loop turn into one
    /// transaction (group commit) before it sends their messages. The default.
    case batch
    /// `synchronous = OFF`: a process crash loses nothing, a power loss may. For benchmarks and tests.
    case none
}

/// A `DurableStore` in SQLite (GRDB, WAL mode): one row per record, each `persist` one transaction. A stable
/// checkpoint deletes every record it supersedes in the same transaction, and only the newest view-change and
/// new-view are kept, so the file stays bounded by the log window.
public final class SQLiteStore: DurableStore {
    let database: DatabaseQueue
    let limits: CodecLimits

    /// Opens (or creates) the store at `path`.
    public init(path: String, sync: SyncMode = .batch, limits: CodecLimits = .standard) throws {
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.label = "bft-store"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(sync == .none ? "OFF" : "FULL")")
        }
        database = try DatabaseQueue(path: path, configuration: configuration)
        self.limits = limits
        try database.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS records (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    kind INTEGER NOT NULL,
                    sequence INTEGER NOT NULL,
                    body BLOB NOT NULL)
                """)
        }
    }

    public func persist(_ records: [DurableRecord]) throws {
        guard !records.isEmpty else { return }
        try database.write { db in
            for record in records {
                let body = DurableRecordCodec.encode(record)
                let kind = Int64(body[0])
                let sequence = Int64(bitPattern: DurableRecordCodec.sequence(of: record).rawValue)
                // Cached statements: parsed once per connection, not once per record (the parser showed in profiles).
                switch record {
                case .viewChange, .newView, .certificate:
                    try db.cachedStatement(sql: "DELETE FROM records WHERE kind = ?").execute(arguments: [kind])
                case .stableCheckpoint:
                    // Everything at or below the checkpoint, and older checkpoints (kind 7), is superseded.
                    try db.cachedStatement(sql: "DELETE FROM records WHERE kind NOT IN (5, 6, 8) AND sequence <= ?")
                        .execute(arguments: [sequence])
                default: break
                }
                try db.cachedStatement(sql: "INSERT INTO records (kind, sequence, body) VALUES (?, ?, ?)")
                    .execute(arguments: [kind, sequence, Data(body)])
            }
        }
    }

    /// Every record, oldest first. A record that does not decode means the file is damaged: loading fails.
    public func load() throws -> [DurableRecord] {
        let bodies = try database.read { db in
            try Data.fetchAll(db, sql: "SELECT body FROM records ORDER BY id")
        }
        return try bodies.map { body throws in try DurableRecordCodec.decode([UInt8](body), limits: limits) }
    }

    public var recordCount: Int {
        (try? database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM records") ?? 0 }) ?? 0
    }
}

extension SQLiteStore {
    /// Truncates the first record's body to one byte (for the test that shows a damaged file is refused).
    public func corruptFirstRecordForTesting() throws {
        try database.write { db in
            try db.execute(sql: "UPDATE records SET body = x'09' WHERE id = (SELECT MIN(id) FROM records)")
        }
    }
}
