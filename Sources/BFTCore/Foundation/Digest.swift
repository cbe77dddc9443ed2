/// A SHA-256 digest: 32 bytes held as four big-endian words, so it is hashable and comparable without an
/// allocation per digest.
public struct Digest: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let byteCount = 32
    public static let zero = Digest(words: (0, 0, 0, 0))

    public let w0: UInt64
    public let w1: UInt64
    public let w2: UInt64
    public let w3: UInt64

    public init(words: (UInt64, UInt64, UInt64, UInt64)) {
        (w0, w1, w2, w3) = words
    }

    /// Reads 32 bytes; nil for any other length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var words: [UInt64] = [0, 0, 0, 0]
        for (index, byte) in bytes.enumerated() {
            words[index / 8] = words[index / 8] << 8 | UInt64(byte)
        }
        self.init(words: (words[0], words[1], words[2], words[3]))
    }

    /// Reads 32 bytes from raw memory (used by hash implementations).
    public init(_ raw: UnsafeRawBufferPointer) {
        precondition(raw.count == Self.byteCount, "a digest is 32 bytes, got \(raw.count)")
        func word(_ i: Int) -> UInt64 { UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) }
        self.init(words: (word(0), word(1), word(2), word(3)))
    }

    public var bytes: [UInt8] {
        var words = (w0.bigEndian, w1.bigEndian, w2.bigEndian, w3.bigEndian)
        return withUnsafeBytes(of: &words) { Array($0) }
    }

    public static func < (a: Digest, b: Digest) -> Bool {
        (a.w0, a.w1, a.w2, a.w3) < (b.w0, b.w1, b.w2, b.w3)
    }

    public var description: String { String(Hex.encode(bytes).prefix(12)) }
}

/// An Ed25519 signature (64 bytes), or a simulated one of the same size.
public struct Signature: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 64
    public let bytes: [UInt8]

    /// One combine of the raw bytes: the synthesized hash fed the hasher one byte at a time, which showed in the
    /// profile of the replicas' dictionaries keyed by it.
    public func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }

    /// nil unless exactly 64 bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    /// Wraps bytes a signing implementation produced; a wrong length there is a programmer error.
    public init(checked bytes: [UInt8]) {
        precondition(bytes.count == Self.byteCount, "a signature is 64 bytes, got \(bytes.count)")
        self.bytes = bytes
    }

    public var description: String { String(Hex.encode(bytes).prefix(12)) }
}

/// An Ed25519 public key (32 bytes).
public struct PublicKey: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 32
    public let bytes: [UInt8]

    /// One combine of the raw bytes: the synthesized hash fed the hasher one byte at a time, which showed in the
    /// profile of the replicas' dictionaries keyed by it.
    public func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }

    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    public init?(hex: String) {
        guard let bytes = Hex.decode(hex) else { return nil }
        self.init(bytes: bytes)
    }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { String(hex.prefix(12)) }
}
