import BFTCore
import CSodium

/// Ed25519 through libsodium: about 20 µs to sign and 53 µs to verify on the project's machine, 3-4x faster than
/// OpenSSL's (../shared/DESIGN.md).
public enum Ed25519 {
    public static let seedByteCount = 32

    /// Whether `signature` is a valid Ed25519 signature of `message` under `key`.
    public static func verify(_ signature: Signature, of message: UnsafeRawBufferPointer, by key: PublicKey) -> Bool {
        Sodium.ensureReady()
        return signature.bytes.withUnsafeBufferPointer { sig in
            key.bytes.withUnsafeBufferPointer { pk in
                crypto_sign_verify_detached(
                    sig.baseAddress!, message.baseAddress?.assumingMemoryBound(to: UInt8.self),
                    UInt64(message.count), pk.baseAddress!) == 0
            }
        }
    }
}

/// One identity's Ed25519 signing key. The secret is wiped when the signer is released.
public final class Ed25519Signer: Signer {
    public let publicKey: PublicKey
    /// libsodium's 64-byte secret key: the 32-byte seed followed by the public key.
    private var secretKey: [UInt8]

    /// A fresh key pair from the operating system's random source.
    public convenience init() {
        Sodium.ensureReady()
        var seed = [UInt8](repeating: 0, count: Ed25519.seedByteCount)
        randombytes_buf(&seed, seed.count)
        self.init(validSeed: seed)
        sodium_memzero(&seed, seed.count)
    }

    /// The key pair derived from a 32-byte seed (RFC 8032's "secret key"); nil for any other length.
    public convenience init?(seed: [UInt8]) {
        guard seed.count == Ed25519.seedByteCount else { return nil }
        self.init(validSeed: seed)
    }

    private init(validSeed seed: [UInt8]) {
        Sodium.ensureReady()
        var pk = [UInt8](repeating: 0, count: PublicKey.byteCount)
        var sk = [UInt8](repeating: 0, count: Int(crypto_sign_SECRETKEYBYTES))
        let status = crypto_sign_seed_keypair(&pk, &sk, seed)
        precondition(status == 0, "crypto_sign_seed_keypair failed with \(status)")
        self.secretKey = sk
        self.publicKey = PublicKey(bytes: pk)!  // 32 bytes by construction
    }

    deinit {
        sodium_memzero(&secretKey, secretKey.count)
    }

    /// A key pair derived from a small identity number, the same on every run: for simulations and tests that
    /// must reproduce with real signatures. Never for deployment, where keys come from `init()`.
    public static func deterministic(identity: UInt64) -> Ed25519Signer {
        var seed = [UInt8](repeating: 0, count: Ed25519.seedByteCount)
        for k in 0..<8 { seed[k] = UInt8(truncatingIfNeeded: identity >> (8 * k)) }
        return Ed25519Signer(validSeed: seed)
    }

    /// The 32-byte seed, for writing a key file.
    public var seed: [UInt8] { Array(secretKey[0..<Ed25519.seedByteCount]) }

    public func sign(_ message: UnsafeRawBufferPointer) -> Signature {
        var signature = [UInt8](repeating: 0, count: Signature.byteCount)
        let status = crypto_sign_detached(
            &signature, nil, message.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(message.count),
            secretKey)
        precondition(status == 0, "crypto_sign_detached failed with \(status)")
        return Signature(checked: signature)
    }

    /// X25519 between this identity and `peer`, both Ed25519 keys mapped to Curve25519 (libsodium's
    /// `crypto_sign_ed25519_*_to_curve25519`), hashed with both public keys into an HMAC-SHA256 key. Both ends
    /// derive the same key from their own secret; nil when `peer` is not a valid point or the agreement is
    /// degenerate (a small-order point). About 50–100 µs: callers keep the key (`SessionKeyCache`).
    public func sessionKey(with peer: PublicKey) -> (any SessionKey)? {
        var curveSecret = [UInt8](repeating: 0, count: Int(crypto_scalarmult_curve25519_BYTES))
        var curvePeer = [UInt8](repeating: 0, count: Int(crypto_scalarmult_curve25519_BYTES))
        var shared = [UInt8](repeating: 0, count: Int(crypto_scalarmult_curve25519_BYTES))
        defer {
            sodium_memzero(&curveSecret, curveSecret.count)
            sodium_memzero(&shared, shared.count)
        }
        guard crypto_sign_ed25519_sk_to_curve25519(&curveSecret, secretKey) == 0,
            crypto_sign_ed25519_pk_to_curve25519(&curvePeer, peer.bytes) == 0,
            crypto_scalarmult_curve25519(&shared, curveSecret, curvePeer) == 0
        else { return nil }
        let (low, high) = publicKey.bytes.lexicographicallyPrecedes(peer.bytes)
            ? (publicKey.bytes, peer.bytes) : (peer.bytes, publicKey.bytes)
        var material = Array("swift-bft session key v1".utf8) + shared + low + high
        defer { sodium_memzero(&material, material.count) }
        return HMACSessionKey(key: SHA256Hasher().digest(material).bytes)
    }
}

/// A session key: HMAC-SHA256 keyed once, tags truncated to 128 bits.
public final class HMACSessionKey: SessionKey {
    private let hmac: HMACSHA256

    public init(key: [UInt8]) { hmac = HMACSHA256(key: key) }

    public func mac(_ message: UnsafeRawBufferPointer) -> MAC {
        var tag = hmac.tag(message)
        return withUnsafeBytes(of: &tag) { MAC(checked: UnsafeRawBufferPointer(rebasing: $0.prefix(MAC.byteCount))) }
    }
}
