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
