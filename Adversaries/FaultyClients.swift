import BFTCore

/// Faulty clients (../shared/PROTOCOL.md): what they send at one moment. The simulator injects these frames before
/// the heal; replicas must reject them with a counted reason and go on serving the correct clients.
public enum FaultyClient: String, CaseIterable, Sendable {
    /// A request in a correct client's name with a signature that does not verify.
    case badSignature = "bad-signature"
    /// 50 validly signed requests at once from one self-certifying client, each newer than the last.
    case flood
    /// A request whose operation exceeds the codec's limit on byte strings.
    case oversized
    /// Random bytes, a truncated request, and a request with an unknown format version.
    case malformed

    public var description: String {
        switch self {
        case .badSignature: "requests in another client's name with bad signatures"
        case .flood: "bursts of valid requests from one client"
        case .oversized: "a request larger than the codec allows"
        case .malformed: "random, truncated and wrongly versioned frames"
        }
    }

    /// The frames sent at one moment. `own` is the faulty client's key (its id is self-certifying); `victim` is a
    /// correct client whose name it abuses.
    public func frames(
        random: inout SeededRandom, own: any Signer, suite: any CryptoSuite, victim: ClientID, limits: CodecLimits
    ) -> [[UInt8]] {
        let me = ClientID(selfCertifying: own.publicKey, suite: suite)
        func request(_ timestamp: UInt64, _ operation: [UInt8]) -> Envelope {
            Envelope(
                signing: .request(Request(timestamp: Timestamp(timestamp), operation: operation, clientKey: own.publicKey)),
                from: .client(me), with: own)
        }
        switch self {
        case .badSignature:
            let bytes = (0..<64).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            return [Envelope(
                unverified: .request(Request(timestamp: Timestamp(1 << 40 | random.next() % 1000), operation: [1, 0, 0, 0, 1, 0x6b, 0, 0, 0, 1, 0x78])),
                from: .client(victim), signature: Signature(checked: bytes)).encoded]
        case .flood:
            let base = 1 << 40 | (random.next() % (1 << 30)) << 8
            return (0..<50).map { request(base + $0, [2, 0, 0, 0, 1, 0x6b]).encoded }
        case .oversized:
            return [request(random.next() % 1000 + 1, [UInt8](repeating: 7, count: limits.maxByteString + 1)).encoded]
        case .malformed:
            let length = 1 + Int(random.next() % 300)
            let noise = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let valid = request(random.next() % 1000 + 1, [2, 0, 0, 0, 1, 0x6b]).encoded
            var wrongVersion = valid
            wrongVersion[0] = 2
            return [noise, Array(valid.prefix(valid.count / 2)), wrongVersion]
        }
    }
}
