import BFTCore
import BFTRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// The bytes of a log file (`LogFileStore`):
///
///     file   := magic "BFTLOG01" | group*
///     group  := length:u32 | ~length:u32 | checksum:u64 | body        (big-endian; length = body bytes)
///     body   := (recordLength:u32 | record)+     (record: `DurableRecordCodec` bytes, or a prepared certificate
///                                                 by reference to its pre-prepare: LogFileFormat+References)
///
/// One group is one `persist` call, so a group commit is all or nothing: a crash in the middle of an append leaves
/// a torn last group, which the next open drops (none of its messages were sent: durable before send). The
/// complemented length tells a torn header from a damaged one; the checksum covers the body.
enum LogFileFormat {
    static let magic: [UInt8] = Array("BFTLOG01".utf8)
    static let headerBytes = 16

    /// A record's place in the file, and what truncation needs to know of it without decoding it again.
    struct Entry {
        var tag: UInt8
        var sequence: SequenceNumber
        var offset: Int
        var length: Int
    }

    /// What scanning a file found: its records in order, and where the valid prefix ends (a torn last group
    /// starts there).
    struct Scan {
        var entries: [Entry] = []
        var records: [DurableRecord] = []
        var validBytes = 0
        /// The pre-prepare records, by slot (prepared certificates name them; see `preparedReferenceTag`).
        var prePrepares: PrePrepares = [:]
    }

    /// The entries `DurableRecordCodec.survivors` keeps, in file order.
    static func keep(_ entries: [Entry]) -> [Entry] {
        let kept = DurableRecordCodec.survivors(entries.map { ($0.tag, $0.sequence) })
        var survivors: [Entry] = []
        for (entry, keep) in zip(entries, kept) where keep { survivors.append(entry) }
        return survivors
    }

    /// Bytes of the records `keep` would keep (without their length prefixes and group headers).
    static func keptBytes(_ entries: [Entry]) -> Int {
        let kept = DurableRecordCodec.survivors(entries.map { ($0.tag, $0.sequence) })
        var bytes = 0
        for (entry, keep) in zip(entries, kept) where keep { bytes += entry.length }
        return bytes
    }

    /// Appends one group holding `records` to `buffer`, with its records' entries, offsets counted from `base`.
    static func appendGroup(_ records: [[UInt8]], tags: [(UInt8, SequenceNumber)], base: Int, to buffer: inout [UInt8])
        -> [Entry]
    {
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: headerBytes))
        var entries: [Entry] = []
        entries.reserveCapacity(records.count)
        for (record, key) in zip(records, tags) {
            append(UInt32(record.count), to: &buffer)
            entries.append(Entry(tag: key.0, sequence: key.1, offset: base + buffer.count, length: record.count))
            buffer.append(contentsOf: record)
        }
        let length = UInt32(buffer.count - start - headerBytes)
        let sum = buffer.withUnsafeBytes { checksum(UnsafeRawBufferPointer(rebasing: $0[(start + headerBytes)...])) }
        var header: [UInt8] = []
        append(length, to: &header)
        append(~length, to: &header)
        append(UInt32(truncatingIfNeeded: sum >> 32), to: &header)
        append(UInt32(truncatingIfNeeded: sum), to: &header)
        buffer.replaceSubrange(start..<(start + headerBytes), with: header)
        return entries
    }

    /// Reads every group of `bytes` (a whole file). A torn last group ends the scan (`validBytes` says where); a
    /// damaged group anywhere else, or a record that does not decode inside a group whose checksum holds, throws.
    static func scan(_ bytes: [UInt8], limits: CodecLimits) throws -> Scan {
        guard bytes.count >= magic.count, Array(bytes.prefix(magic.count)) == magic else {
            throw LogFileError.notALogFile
        }
        var scan = Scan()
        var offset = magic.count
        while offset < bytes.count {
            guard let (start, end) = try group(in: bytes, at: offset) else { break }
            var cursor = start
            while cursor < end {
                guard end - cursor >= 4 else { throw LogFileError.damaged(offset: cursor) }
                let length = Int(read32(bytes, cursor))
                cursor += 4
                guard length > 0, length <= end - cursor else { throw LogFileError.damaged(offset: cursor) }
                let body = bytes[cursor..<(cursor + length)]
                guard let record = try decode(body, logged: scan.prePrepares, limits: limits) else {
                    throw LogFileError.damaged(offset: cursor)  // names a pre-prepare the file does not hold
                }
                if let (slot, envelope) = prePrepare(in: record) { scan.prePrepares[slot] = envelope }
                let sequence = DurableRecordCodec.key(of: record).sequence
                scan.entries.append(Entry(tag: bytes[cursor], sequence: sequence, offset: cursor, length: length))
                scan.records.append(record)
                cursor += length
            }
            offset = end
        }
        scan.validBytes = offset
        return scan
    }

    /// The body range of the group at `offset`; nil if it is a torn last group; throws if it is damaged.
    private static func group(in bytes: [UInt8], at offset: Int) throws -> (Int, Int)? {
        let remaining = bytes.count - offset
        guard remaining >= headerBytes else { return nil }
        let length = read32(bytes, offset)
        guard read32(bytes, offset + 4) == ~length, length > 0 else {
            // Zeros to the end are an append the crash cut short; anything else is damage.
            if bytes[offset...].allSatisfy({ $0 == 0 }) { return nil }
            throw LogFileError.damaged(offset: offset)
        }
        let start = offset + headerBytes
        let end = start + Int(length)
        guard end <= bytes.count else { return nil }
        let stored = UInt64(read32(bytes, offset + 8)) << 32 | UInt64(read32(bytes, offset + 12))
        guard bytes.withUnsafeBytes({ checksum(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }) == stored else {
            if end == bytes.count { return nil }
            throw LogFileError.damaged(offset: offset)
        }
        return (start, end)
    }

    /// A 64-bit FNV-1a over 8-byte words with an xor-shift per word (so high bits reach low ones): it catches
    /// torn and damaged bytes at memory speed; it is not a defence against anyone who can write the file.
    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let prime: UInt64 = 0x100_0000_01b3
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(bytes.count)
        var index = 0
        while index + 8 <= bytes.count {
            hash = (hash ^ bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)) &* prime
            hash ^= hash >> 29
            index += 8
        }
        while index < bytes.count {
            hash = (hash ^ UInt64(bytes[index])) &* prime
            index += 1
        }
        return hash ^ (hash >> 32)
    }

    static func append(_ value: UInt32, to buffer: inout [UInt8]) {
        buffer.append(UInt8(truncatingIfNeeded: value >> 24))
        buffer.append(UInt8(truncatingIfNeeded: value >> 16))
        buffer.append(UInt8(truncatingIfNeeded: value >> 8))
        buffer.append(UInt8(truncatingIfNeeded: value))
    }

    static func read32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
            | UInt32(bytes[offset + 3])
    }
}

/// Why a log file could not be opened, read or written.
public enum LogFileError: Error, CustomStringConvertible, Equatable {
    case notALogFile
    case damaged(offset: Int)
    case system(operation: String, errno: Int32)
    case locked
    case legacyStore(path: String)

    public var description: String {
        switch self {
        case .notALogFile: "not a replica log file (its first bytes are not BFTLOG01)"
        case .damaged(let offset): "the log file is damaged at byte \(offset) (not at its end, so not a torn append)"
        case .system(let operation, let code): "\(operation) failed: \(String(cString: strerror(code)))"
        case .locked: "another process has this store open"
        case .legacyStore(let path):
            "\(path) is a store of an older version (SQLite), which this version does not read; "
                + "start the replica with an empty data directory and let it catch up by state transfer"
        }
    }
}
