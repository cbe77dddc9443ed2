import BFTCore

/// Cheap stand-ins for SHA-256 and Ed25519, for seed sweeps. Nobody can forge: the simulator holds every
/// identity's secret in `SimulatedKeyRegistry`, and a behaviour is handed only its own `SimulatedSigner`.
/// The hash is a 256-bit multiply-rotate mix, not cryptographic, which a simulation with no adversary searching
/// for collisions does not need.
public final class SimulatedCrypto: CryptoSuite {
    let registry: SimulatedKeyRegistry

    public init(registry: SimulatedKeyRegistry) { self.registry = registry }

    public func digest(_ bytes: UnsafeRawBufferPointer) -> Digest {
        simulatedHash(bytes, key: 0)
    }

    public func verify(_ signature: Signature, of message: UnsafeRawBufferPointer, by key: PublicKey) -> Bool {
        guard let secret = registry.secrets[key] else { return false }
        return SimulatedSigner.signatureBytes(message, secret: secret) == signature.bytes
    }
}

/// Secrets of all simulated identities, by public key.
public final class SimulatedKeyRegistry {
    var secrets: [PublicKey: UInt64] = [:]

    public init() {}

    /// Creates the identity for `secret` and returns its signer.
    public func signer(secret: UInt64) -> SimulatedSigner {
        let signer = SimulatedSigner(secret: secret)
        secrets[signer.publicKey] = secret
        return signer
    }
}

public final class SimulatedSigner: Signer {
    public let publicKey: PublicKey
    let secret: UInt64

    init(secret: UInt64) {
        self.secret = secret
        let words = withUnsafeBytes(of: secret.bigEndian) { simulatedHash($0, key: 0x5eed) }
        self.publicKey = PublicKey(bytes: words.bytes)!  // a digest is 32 bytes, as a public key is
    }

    public func sign(_ message: UnsafeRawBufferPointer) -> Signature {
        Signature(checked: Self.signatureBytes(message, secret: secret))
    }

    /// Both ends compute the same key from the pair of public keys; only holders of one side's signer can ask.
    public func sessionKey(with peer: PublicKey) -> (any SessionKey)? {
        let (low, high) = publicKey.bytes.lexicographicallyPrecedes(peer.bytes)
            ? (publicKey.bytes, peer.bytes) : (peer.bytes, publicKey.bytes)
        let pair = (low + high).withUnsafeBytes { simulatedHash($0, key: 0x4d41_43) }
        return SimulatedSessionKey(key: pair.bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) })
    }

    static func signatureBytes(_ message: UnsafeRawBufferPointer, secret: UInt64) -> [UInt8] {
        simulatedHash(message, key: secret).bytes + simulatedHash(message, key: secret ^ 0xA5A5_A5A5).bytes
    }
}

func simulatedHash(_ bytes: UnsafeRawBufferPointer, key: UInt64) -> Digest {
    var lanes: (UInt64, UInt64, UInt64, UInt64) = (
        0x6a09_e667_f3bc_c908 ^ key, 0xbb67_ae85_84ca_a73b &+ key, 0x3c6e_f372_fe94_f82b ^ (key << 1),
        0xa54f_f53a_5f1d_36f1 &+ UInt64(bytes.count)
    )
    func mix(_ h: UInt64, _ v: UInt64) -> UInt64 {
        let x = (h ^ v) &* 0x9E37_79B9_7F4A_7C15
        return (x << 27 | x >> 37) &* 0xBF58_476D_1CE4_E5B9
    }
    var offset = 0
    while offset + 8 <= bytes.count {
        let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        lanes.0 = mix(lanes.0, word)
        lanes.1 = mix(lanes.1, word ^ lanes.0)
        offset += 8
    }
    var tail: UInt64 = 0
    while offset < bytes.count {
        tail = tail << 8 | UInt64(bytes[offset])
        offset += 1
    }
    lanes.0 = mix(lanes.0, tail)
    lanes.1 = mix(lanes.1, lanes.0)
    lanes.2 = mix(lanes.2, lanes.1 ^ lanes.0)
    lanes.3 = mix(lanes.3, lanes.2 ^ lanes.1)
    lanes.0 = mix(lanes.0, lanes.3)
    lanes.1 = mix(lanes.1, lanes.0)
    return Digest(words: lanes)
}

/// A simulated MAC: the keyed mix, cut to a tag.
final class SimulatedSessionKey: SessionKey {
    let key: UInt64

    init(key: UInt64) { self.key = key }

    func mac(_ message: UnsafeRawBufferPointer) -> MAC {
        MAC(checked: Array(simulatedHash(message, key: key).bytes.prefix(MAC.byteCount)))
    }
}
