/// Why a frame was rejected. The decoder reports these instead of trapping; the caller counts and drops the frame.
public enum DecodeError: Error, Hashable, Sendable, CustomStringConvertible {
    case truncated(needed: Int, remaining: Int)
    case unsupportedVersion(UInt8)
    case unknownTag(UInt8, context: String)
    case invalidValue(field: String, value: UInt64)
    case limitExceeded(field: String, value: Int, limit: Int)
    case unexpectedMessage(expected: MessageKind, found: MessageKind)
    case senderKindMismatch(MessageKind)
    case trailingBytes(Int)

    public var description: String {
        switch self {
        case .truncated(let needed, let remaining): "truncated: needed \(needed) byte(s), \(remaining) left"
        case .unsupportedVersion(let version): "unsupported format version \(version)"
        case .unknownTag(let tag, let context): "unknown \(context) tag \(tag)"
        case .invalidValue(let field, let value): "invalid value \(value) for \(field)"
        case .limitExceeded(let field, let value, let limit): "\(field) of \(value) exceeds the limit of \(limit)"
        case .unexpectedMessage(let expected, let found): "expected a nested \(expected), found a \(found)"
        case .senderKindMismatch(let kind): "a \(kind) from the wrong kind of sender"
        case .trailingBytes(let count): "\(count) trailing byte(s) after the message"
        }
    }
}

/// Hard limits that bound what any frame can make a decoder allocate.
public struct CodecLimits: Hashable, Sendable {
    /// Largest frame accepted at all.
    public var maxFrameBytes: Int
    /// Largest operation, result or state chunk.
    public var maxByteString: Int
    /// Most requests in one pre-prepare batch.
    public var maxBatchRequests: Int
    /// Most entries in one certificate list (prepares, checkpoint proofs, prepared certificates, view-changes,
    /// re-issued pre-prepares).
    public var maxCertificateEntries: Int

    public init(maxFrameBytes: Int, maxByteString: Int, maxBatchRequests: Int, maxCertificateEntries: Int) {
        self.maxFrameBytes = maxFrameBytes
        self.maxByteString = maxByteString
        self.maxBatchRequests = maxBatchRequests
        self.maxCertificateEntries = maxCertificateEntries
    }

    /// 32 MiB frames (a new-view can carry a whole window of certificates), 1 MiB operations and chunks, 1,024
    /// requests a batch, 1,024 certificate entries (at least n ≤ 256 and a watermark window L ≤ 1,024).
    public static let standard = CodecLimits(
        maxFrameBytes: 32 << 20, maxByteString: 1 << 20, maxBatchRequests: 1024, maxCertificateEntries: 1024)
}

/// Appends fixed-width big-endian integers and length-prefixed fields to a byte array.
public struct ByteWriter {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 128) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func u8(_ value: UInt8) { bytes.append(value) }

    public mutating func u32(_ value: UInt32) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func u64(_ value: UInt64) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    public mutating func digest(_ value: Digest) {
        u64(value.w0)
        u64(value.w1)
        u64(value.w2)
        u64(value.w3)
    }

    public mutating func raw(_ value: some Collection<UInt8>) { bytes.append(contentsOf: value) }

    /// A seal's bytes, written in place (no array of its own per nested envelope).
    mutating func seal(_ seal: Seal) { seal.append(to: &bytes) }

    /// length:u32 | bytes
    public mutating func byteString(_ value: [UInt8]) {
        precondition(value.count <= UInt32.max, "a byte string of \(value.count) bytes cannot be encoded")
        u32(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    /// count:u32, then each element.
    public mutating func list<T>(_ values: [T], _ element: (inout ByteWriter, T) -> Void) {
        precondition(values.count <= UInt32.max, "a list of \(values.count) elements cannot be encoded")
        u32(UInt32(values.count))
        for value in values { element(&self, value) }
    }
}

/// Reads what `ByteWriter` writes, checking every length against what is left before it reads or allocates.
public struct ByteReader {
    private let bytes: ArraySlice<UInt8>
    private var position: Int

    public init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.position = bytes.startIndex
    }

    public var remaining: Int { bytes.endIndex - position }
    var offset: Int { position }

    /// Moves back to an offset this reader has already passed (used to recover the exact signed bytes).
    mutating func rewind(to offset: Int) {
        precondition(offset >= bytes.startIndex && offset <= position, "rewind outside what was read")
        position = offset
    }

    public mutating func u8() throws(DecodeError) -> UInt8 {
        try need(1)
        defer { position += 1 }
        return bytes[position]
    }

    public mutating func u32() throws(DecodeError) -> UInt32 {
        try need(4)
        var value: UInt32 = 0
        for index in position..<position + 4 { value = value << 8 | UInt32(bytes[index]) }
        position += 4
        return value
    }

    public mutating func u64() throws(DecodeError) -> UInt64 {
        try need(8)
        let value = bytes.withUnsafeBytes { raw in
            UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: position - bytes.startIndex, as: UInt64.self))
        }
        position += 8
        return value
    }

    public mutating func bool(_ field: String) throws(DecodeError) -> Bool {
        switch try u8() {
        case 0: return false
        case 1: return true
        case let other: throw .invalidValue(field: field, value: UInt64(other))
        }
    }

    public mutating func digest() throws(DecodeError) -> Digest {
        Digest(words: (try u64(), try u64(), try u64(), try u64()))
    }

    public mutating func raw(_ count: Int) throws(DecodeError) -> ArraySlice<UInt8> {
        try need(count)
        defer { position += count }
        return bytes[position..<position + count]
    }

    /// length:u32 | bytes, with the length checked against `limit` and against what is left.
    public mutating func byteString(_ field: String, limit: Int) throws(DecodeError) -> [UInt8] {
        let count = Int(try u32())
        guard count <= limit else { throw .limitExceeded(field: field, value: count, limit: limit) }
        return Array(try raw(count))
    }

    /// count:u32, then each element. The count is checked against `limit` and against the bytes left (each element
    /// takes at least `minimumElementBytes`), so a forged count cannot make the reader reserve memory.
    public mutating func list<T>(
        _ field: String, limit: Int, minimumElementBytes: Int,
        _ element: (inout ByteReader) throws(DecodeError) -> T
    ) throws(DecodeError) -> [T] {
        let count = Int(try u32())
        guard count <= limit else { throw .limitExceeded(field: field, value: count, limit: limit) }
        guard count * minimumElementBytes <= remaining else {
            throw .truncated(needed: count * minimumElementBytes, remaining: remaining)
        }
        var values: [T] = []
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try element(&self)) }
        return values
    }

    public func expectEnd() throws(DecodeError) {
        guard remaining == 0 else { throw .trailingBytes(remaining) }
    }

    private func need(_ count: Int) throws(DecodeError) {
        guard count >= 0, count <= remaining else { throw .truncated(needed: count, remaining: remaining) }
    }
}
