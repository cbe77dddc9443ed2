/// An authenticated message: who sent it, what it says, and the seal over the canonical bytes of both.
///
/// `signedBytes` are the exact bytes the seal covers (version, sender and payload; see `WireFormat`), kept
/// from the wire when decoded: a receiver verifies the bytes it received and never re-encodes to verify.
/// The seal is a signature, or for client traffic in MAC mode an authenticator (the version byte says which, so
/// the two forms of one message never share bytes).
public struct Envelope: Hashable, Sendable {
    public let sender: Principal
    public let message: Message
    public let seal: Seal
    public let signedBytes: [UInt8]

    /// Used by the decoder, which has already checked that `signedBytes` encode `sender` and `message`.
    init(sender: Principal, message: Message, seal: Seal, signedBytes: [UInt8]) {
        self.sender = sender
        self.message = message
        self.seal = seal
        self.signedBytes = signedBytes
    }

    /// Encodes and signs a message.
    public init(signing message: Message, from sender: Principal, with signer: some Signer) {
        let bytes = WireFormat.signedPortion(sender: sender, message: message)
        self.init(sender: sender, message: message, seal: .signature(signer.sign(bytes)), signedBytes: bytes)
    }

    /// Encodes a message and seals it with one MAC per receiver (PBFT §3.2's authenticator), in `keys`' order.
    public init(authenticating message: Message, from sender: Principal, keys: [any SessionKey]) {
        let bytes = WireFormat.signedPortion(sender: sender, message: message, version: WireFormat.macVersion)
        let macs = bytes.withUnsafeBytes { raw in keys.map { $0.mac(raw) } }
        self.init(sender: sender, message: message, seal: .authenticator(macs), signedBytes: bytes)
    }

    /// Builds an envelope with a given signature, valid or not (for tests and for adversaries that forge).
    public init(unverified message: Message, from sender: Principal, signature: Signature) {
        let bytes = WireFormat.signedPortion(sender: sender, message: message)
        self.init(sender: sender, message: message, seal: .signature(signature), signedBytes: bytes)
    }

    /// Builds an envelope with a given authenticator, valid or not (for tests and for faulty clients).
    public init(unverified message: Message, from sender: Principal, macs: [MAC]) {
        let bytes = WireFormat.signedPortion(sender: sender, message: message, version: WireFormat.macVersion)
        self.init(sender: sender, message: message, seal: .authenticator(macs), signedBytes: bytes)
    }

    /// The signature, if the envelope is signed.
    public var signature: Signature? {
        if case .signature(let signature) = seal { signature } else { nil }
    }

    /// The complete frame: the signed portion followed by the seal.
    public var encoded: [UInt8] {
        var frame: [UInt8] = []
        frame.reserveCapacity(signedBytes.count + seal.encodedCount)
        frame.append(contentsOf: signedBytes)
        seal.append(to: &frame)
        return frame
    }

    /// Whether the envelope is signed and the signature verifies under `key`.
    public func verify(with suite: some CryptoSuite, key: PublicKey) -> Bool {
        guard let signature else { return false }
        return suite.verify(signature, of: signedBytes, by: key)
    }

    /// Whether the envelope carries an authenticator whose entry `index` is the MAC under `key`.
    public func verifyMAC(at index: Int, key: any SessionKey) -> Bool {
        guard case .authenticator(let macs) = seal, index >= 0, index < macs.count else { return false }
        return key.mac(signedBytes).matches(macs[index])
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
