/// The core's only view of cryptography. `BFTCrypto` implements it with libsodium and libcrypto; the simulator
/// may implement it with cheap simulated primitives. Implementations may keep reusable contexts, so they are
/// classes owned by one replica or client and are not shared across threads.
public protocol CryptoSuite: AnyObject {
    /// SHA-256 of the bytes.
    func digest(_ bytes: UnsafeRawBufferPointer) -> Digest
    /// Whether `signature` is a valid signature of `message` under `key`.
    func verify(_ signature: Signature, of message: UnsafeRawBufferPointer, by key: PublicKey) -> Bool
    /// Whether `verify` may be called from several threads at once (it keeps no context). The replica process
    /// then checks the signatures of a whole read on both cores before the core asks (`PreverifyingSuite`).
    var verifiesConcurrently: Bool { get }
}

/// One identity's signing key. An adversary holds only its own signer, so it cannot forge another's messages.
public protocol Signer: AnyObject {
    var publicKey: PublicKey { get }
    func sign(_ message: UnsafeRawBufferPointer) -> Signature
    /// The MAC key this identity shares with `peer`, agreed from the two identities (Diffie–Hellman on their
    /// keys), so both ends derive it alone and nobody else can. nil if `peer` is not a valid key.
    func sessionKey(with peer: PublicKey) -> (any SessionKey)?
}

extension CryptoSuite {
    public var verifiesConcurrently: Bool { false }

    public func digest(_ bytes: [UInt8]) -> Digest {
        bytes.withUnsafeBytes { digest($0) }
    }

    public func digest(_ bytes: ArraySlice<UInt8>) -> Digest {
        bytes.withUnsafeBytes { digest($0) }
    }

    public func verify(_ signature: Signature, of message: [UInt8], by key: PublicKey) -> Bool {
        message.withUnsafeBytes { verify(signature, of: $0, by: key) }
    }
}

extension Signer {
    public func sign(_ message: [UInt8]) -> Signature {
        message.withUnsafeBytes { sign($0) }
    }
}
