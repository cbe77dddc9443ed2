/// How clients and replicas authenticate client traffic (requests, and the replies to them). Replica-to-replica
/// messages are always signed: they end up in certificates that third parties check.
public enum ClientAuthentication: String, Hashable, Sendable, CaseIterable, Codable {
    /// Ed25519 on every request and reply: anybody can check them, and every replica pays a verification
    /// (about 53 µs) per request.
    case signatures
    /// MAC authenticators (PBFT, TOCS 2002 §3.2): a request carries one HMAC-SHA256 per replica, each under the
    /// key that client shares with that replica; a reply carries one MAC for its client. A MAC costs about 0.5 µs.
    case macs
    /// Ed25519 on every request, as with `signatures` (so no faulty client can make one replica accept a request
    /// another refuses), but each reply carries one MAC for its client, as PBFT's replies do: only that client
    /// checks it, so a signature there buys nothing, and it saves every replica a signing and the client f+1
    /// verifications per request.
    case signedRequests = "signed-requests"

    /// Whether requests (and commit certificates) are signed rather than MAC'd.
    public var signsRequests: Bool { self != .macs }

    /// Whether replicas seal replies, spec-responses and local-commits with a MAC for their client.
    public var macsReplies: Bool { self != .signatures }
}

/// One truncated HMAC-SHA256 tag: 128 bits, ample against forgery (PBFT's implementation used 64-bit UMAC tags).
/// Held as two words, not an array: a request carries one per replica, and a batch hundreds of requests.
public struct MAC: Hashable, Sendable {
    public static let byteCount = 16
    private let high: UInt64
    private let low: UInt64

    /// nil unless exactly 16 bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.init(checked: bytes)
    }

    /// Wraps a tag a MAC implementation produced (or a decoder read); a wrong length there is a programmer error.
    public init(checked bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == Self.byteCount, "a MAC is 16 bytes, got \(bytes.count)")
        high = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        low = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
    }

    public init(checked bytes: [UInt8]) {
        self = bytes.withUnsafeBytes { MAC(checked: $0) }
    }

    public init(checked bytes: ArraySlice<UInt8>) {
        self = bytes.withUnsafeBytes { MAC(checked: $0) }
    }

    /// The 16 bytes, big-endian words.
    public var bytes: [UInt8] {
        var words = (high.bigEndian, low.bigEndian)
        return withUnsafeBytes(of: &words) { Array($0) }
    }

    /// Appends the 16 bytes.
    public func write(to bytes: inout [UInt8]) {
        var words = (high.bigEndian, low.bigEndian)
        withUnsafeBytes(of: &words) { bytes.append(contentsOf: $0) }
    }

    /// Compares in time independent of where the tags differ.
    public func matches(_ other: MAC) -> Bool {
        (high ^ other.high) | (low ^ other.low) == 0
    }
}

/// How the sender of an envelope vouches for its bytes: a signature anybody can check, or an authenticator
/// whose entry k only principal k can check (entry k is for replica k on a request; a reply has one entry).
public enum Seal: Hashable, Sendable {
    case signature(Signature)
    case authenticator([MAC])

    /// How many bytes follow the signed portion on the wire (see `WireFormat`).
    var encodedCount: Int {
        switch self {
        case .signature: Signature.byteCount
        case .authenticator(let macs): 1 + macs.count * MAC.byteCount
        }
    }

    /// Appends the bytes that follow the signed portion on the wire to `bytes` (a frame is built with one
    /// allocation, not one for the seal and one more).
    func append(to bytes: inout [UInt8]) {
        switch self {
        case .signature(let signature): bytes.append(contentsOf: signature.bytes)
        case .authenticator(let macs):
            bytes.append(UInt8(macs.count))
            for mac in macs { mac.write(to: &bytes) }
        }
    }
}

/// The key one principal shares with one other, agreed from their identities (`Signer.sessionKey(with:)`).
/// Holds keyed MAC state, so it is kept and reused; not thread-safe.
public protocol SessionKey: AnyObject {
    func mac(_ message: UnsafeRawBufferPointer) -> MAC
}

extension SessionKey {
    public func mac(_ message: [UInt8]) -> MAC { message.withUnsafeBytes { mac($0) } }
}

/// Session keys by peer public key, built once each, and the self-certifying client ids already checked against
/// their keys. A memo, so copies of a replica or client may share it.
/// Bounded: past `capacity` peers it starts over, which costs only key agreements (about 50 µs each).
public final class SessionKeyCache {
    private var keys: [PublicKey: any SessionKey] = [:]
    private let signer: any Signer
    public let capacity: Int

    public init(signer: any Signer, capacity: Int = 65_536) {
        self.signer = signer
        self.capacity = capacity
    }

    private var bound: [ClientID: PublicKey] = [:]

    /// Whether a self-certifying `id` is `key`'s (`ClientID(selfCertifying:)`), remembered once checked.
    public func isBound(_ id: ClientID, to key: PublicKey, suite: any CryptoSuite) -> Bool {
        if bound[id] == key { return true }
        guard ClientID(selfCertifying: key, suite: suite) == id else { return false }
        if bound.count >= capacity { bound.removeAll(keepingCapacity: true) }
        bound[id] = key
        return true
    }

    public func key(for peer: PublicKey) -> (any SessionKey)? {
        if let known = keys[peer] { return known }
        guard let key = signer.sessionKey(with: peer) else { return nil }
        if keys.count >= capacity { keys.removeAll(keepingCapacity: true) }
        keys[peer] = key
        return key
    }
}

/// Signatures already checked, by signed bytes and signature: a memo for the clients of one process, which all
/// receive the same per-batch history votes (Zyzzyva's commit path) and need not check each one per request.
/// Bounded: past `capacity` entries it starts over. Not thread-safe: share it only on one thread.
public final class VerifiedSignatures {
    /// Checked signatures and the bytes each was checked over (which name the signer).
    private var seen: [Signature: [UInt8]] = [:]
    public let capacity: Int

    public init(capacity: Int = 4096) { self.capacity = capacity }

    /// Whether `envelope` is signed by `key`: remembered if it was checked before, else checked now.
    public func verify(_ envelope: Envelope, key: PublicKey, suite: some CryptoSuite) -> Bool {
        guard let signature = envelope.signature else { return false }
        if seen[signature] == envelope.signedBytes { return true }
        guard envelope.verify(with: suite, key: key) else { return false }
        if seen.count >= capacity { seen.removeAll(keepingCapacity: true) }
        seen[signature] = envelope.signedBytes
        return true
    }
}
