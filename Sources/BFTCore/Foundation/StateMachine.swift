/// The deterministic application a replica group replicates. Every replica applies the same commands in the same
/// order and must reach the same state and results: no clocks, randomness or iteration order of hashed
/// collections may reach a result or a snapshot.
public protocol StateMachine: Sendable {
    /// Applies one command and returns its result. An invalid command gets an error result, never a crash.
    mutating func apply(_ command: [UInt8]) -> [UInt8]
    /// A canonical encoding of the whole state: equal states give equal snapshots.
    func snapshot() -> [UInt8]
    /// Replaces the state with a snapshot; false (and no change) if the snapshot is malformed.
    mutating func restore(_ snapshot: [UInt8]) -> Bool
}

/// Public keys of every replica and of the clients the group serves.
public struct KeyDirectory: Sendable {
    public var replicas: [PublicKey]
    public var clients: [ClientID: PublicKey]

    public init(replicas: [PublicKey], clients: [ClientID: PublicKey]) {
        self.replicas = replicas
        self.clients = clients
    }

    public func key(of principal: Principal) -> PublicKey? {
        switch principal {
        case .replica(let id): Int(id.rawValue) < replicas.count ? replicas[Int(id.rawValue)] : nil
        case .client(let id): clients[id]
        }
    }
}

extension KeyDirectory {
    /// The key that verifies `envelope`: the configured one, or, for a client with a self-certifying id that the
    /// group does not know, the key its request carries, if the id is that key's (`ClientID(selfCertifying:)`).
    /// `bindings` remembers ids already checked against their keys (a SHA-256 each time otherwise).
    public func verifyingKey(
        for envelope: Envelope, suite: any CryptoSuite, bindings: SessionKeyCache? = nil
    ) -> PublicKey? {
        if let key = key(of: envelope.sender) { return key }
        let claimed: PublicKey? =
            switch envelope.message {
            case .request(let request): request.clientKey
            case .commitCertificate(let certificate): certificate.clientKey
            default: nil
            }
        guard case .client(let id) = envelope.sender, id.isSelfCertifying, let key = claimed else { return nil }
        if let bindings { return bindings.isBound(id, to: key, suite: suite) ? key : nil }
        guard ClientID(selfCertifying: key, suite: suite) == id else { return nil }
        return key
    }
}

extension ClientID {
    /// A client id bound to a public key, so a client needs no registration: the top bit set (configured ids stay
    /// below 2^63 and cannot collide) and 63 bits of SHA-256 of the key. Nobody else can sign for it.
    public init(selfCertifying key: PublicKey, suite: any CryptoSuite) {
        let digest = suite.digest(key.bytes).bytes
        var value: UInt64 = 0
        for byte in digest.prefix(8) { value = value << 8 | UInt64(byte) }
        self.init(value | 1 << 63)
    }

    public var isSelfCertifying: Bool { rawValue >> 63 == 1 }
}
