/// A signed message: who sent it, what it says, and the signature over the canonical bytes of both.
///
/// `signedBytes` are the exact bytes the signature covers (version, sender and payload; see `WireFormat`), kept
/// from the wire when decoded: a receiver verifies the bytes it received and never re-encodes to verify.
public struct Envelope: Hashable, Sendable {
    public let sender: Principal
    public let message: Message
    public let signature: Signature
    public let signedBytes: [UInt8]

    /// Used by the decoder, which has already checked that `signedBytes` encode `sender` and `message`.
    init(sender: Principal, message: Message, signature: Signature, signedBytes: [UInt8]) {
        self.sender = sender
        self.message = message
        self.signature = signature
        self.signedBytes = signedBytes
    }

    /// Encodes and signs a message.
    public init(signing message: Message, from sender: Principal, with signer: some Signer) {
        let bytes = WireFormat.signedPortion(sender: sender, message: message)
        self.init(sender: sender, message: message, signature: signer.sign(bytes), signedBytes: bytes)
    }

    /// Builds an envelope with a given signature, valid or not (for tests and for adversaries that forge).
    public init(unverified message: Message, from sender: Principal, signature: Signature) {
        let bytes = WireFormat.signedPortion(sender: sender, message: message)
        self.init(sender: sender, message: message, signature: signature, signedBytes: bytes)
    }

    /// The complete frame: the signed portion followed by the signature.
    public var encoded: [UInt8] { signedBytes + signature.bytes }

    /// Whether the signature verifies under `key`.
    public func verify(with suite: some CryptoSuite, key: PublicKey) -> Bool {
        suite.verify(signature, of: signedBytes, by: key)
    }

    /// Decodes one frame, rejecting anything not in canonical form.
    public static func decode(_ frame: [UInt8], limits: CodecLimits = .standard) throws(DecodeError) -> Envelope {
        guard frame.count <= limits.maxFrameBytes else {
            throw .limitExceeded(field: "frame", value: frame.count, limit: limits.maxFrameBytes)
        }
        var reader = ByteReader(frame[...])
        let envelope = try WireFormat.readEnvelope(&reader, expecting: nil, limits: limits)
        try reader.expectEnd()
        return envelope
    }
}
