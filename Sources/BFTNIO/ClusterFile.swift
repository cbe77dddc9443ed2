import BFTCore
import Foundation

/// The cluster file: what every replica and client needs to know about the group. JSON, written by
/// `bftreplica init` and read by `bftreplica run`, `bftclient` and `BFTClient`:
///
///     {
///       "format": "bft-cluster-v1",
///       "protocol": "pbft",                      (or "zyzzyva": the speculative fast path)
///       "clientAuthentication": "signatures",    (or "macs", "signed-requests"; optional, signatures if absent)
///       "faultTolerance": 1,
///       "replicas": [ { "id": 0, "host": "127.0.0.1", "port": 7100, "publicKey": "<64 hex digits>" }, … ],
///       "checkpointInterval": 128, "logWindow": 256, "maxBatchRequests": 64,
///       "tickMilliseconds": 10, "viewChangeTimeoutTicks": 100
///     }
///
/// Replica ids are 0…n-1 in order. Clients need not be listed: they use self-certifying ids.
public struct ClusterFile: Codable, Hashable, Sendable {
    public struct Member: Codable, Hashable, Sendable {
        public var id: UInt32
        public var host: String
        public var port: Int
        public var publicKey: String

        public init(id: UInt32, host: String, port: Int, publicKey: String) {
            self.id = id
            self.host = host
            self.port = port
            self.publicKey = publicKey
        }
    }

    public static let currentFormat = "bft-cluster-v1"
    public var format = ClusterFile.currentFormat
    public var `protocol` = "pbft"
    /// "signatures", "macs" or "signed-requests"; absent means signatures (files written before MAC authenticators).
    public var clientAuthentication: String?
    public var faultTolerance: Int
    public var replicas: [Member]
    public var checkpointInterval: UInt64 = 128
    public var logWindow: UInt64 = 256
    public var maxBatchRequests = 64
    public var tickMilliseconds = 10
    public var viewChangeTimeoutTicks: UInt64 = 100

    public init(faultTolerance: Int, replicas: [Member]) {
        self.faultTolerance = faultTolerance
        self.replicas = replicas
    }

    /// Reads and checks a cluster file; errors say what is wrong in one line.
    public static func load(_ path: String) throws(ClusterFileError) -> ClusterFile {
        guard let data = FileManager.default.contents(atPath: path) else { throw .unreadable(path) }
        let file: ClusterFile
        do {
            file = try JSONDecoder().decode(ClusterFile.self, from: data)
        } catch {
            throw .malformed(path, "\(error)")
        }
        try file.check(path)
        return file
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path))
    }

    func check(_ path: String) throws(ClusterFileError) {
        guard format == Self.currentFormat else { throw .malformed(path, "format is '\(format)', expected '\(Self.currentFormat)'") }
        guard replication != nil else {
            let known = ReplicationProtocol.allCases.map(\.rawValue).joined(separator: ", ")
            throw .malformed(path, "protocol '\(self.protocol)' is not supported (known: \(known))")
        }
        guard authentication != nil else {
            let known = ClientAuthentication.allCases.map(\.rawValue).joined(separator: ", ")
            throw .malformed(path, "clientAuthentication '\(clientAuthentication ?? "")' is not supported (known: \(known))")
        }
        do { _ = try configuration() } catch { throw .malformed(path, error.description) }
        for (index, member) in replicas.enumerated() {
            guard member.id == UInt32(index) else { throw .malformed(path, "replica ids must be 0…n-1 in order") }
            guard (1...65535).contains(member.port) else { throw .malformed(path, "replica \(index): bad port \(member.port)") }
            guard PublicKey(hex: member.publicKey) != nil else {
                throw .malformed(path, "replica \(index): publicKey must be 64 hex digits")
            }
        }
        var options = replicaOptions
        options.checkpointInterval = checkpointInterval
        if let problem = options.validate() { throw .malformed(path, problem) }
        guard tickMilliseconds >= 1 else { throw .malformed(path, "tickMilliseconds must be at least 1") }
    }

    public func configuration() throws(ConfigurationError) -> Configuration {
        try Configuration(replicas: replicas.count, faulty: faultTolerance)
    }

    public var directory: KeyDirectory {
        KeyDirectory(replicas: replicas.compactMap { PublicKey(hex: $0.publicKey) }, clients: [:])
    }

    /// The agreement protocol the file names (nil if it names none this build knows).
    public var replication: ReplicationProtocol? { ReplicationProtocol(rawValue: self.protocol) }

    /// How client traffic is authenticated (nil if the file names a mode this build does not know).
    public var authentication: ClientAuthentication? {
        clientAuthentication.map { ClientAuthentication(rawValue: $0) } ?? .signatures
    }

    /// What clients of this cluster run.
    public var clientOptions: ClientOptions {
        ClientOptions(
            retransmitTicks: 50, replication: replication ?? .pbft, authentication: authentication ?? .signatures)
    }

    public var replicaOptions: ReplicaOptions {
        var options = ReplicaOptions()
        options.replication = replication ?? .pbft
        options.clientAuthentication = authentication ?? .signatures
        options.checkpointInterval = checkpointInterval
        options.logWindow = logWindow
        options.maxBatchRequests = maxBatchRequests
        options.viewChangeTimeoutTicks = viewChangeTimeoutTicks
        return options
    }
}

public enum ClusterFileError: Error, CustomStringConvertible {
    case unreadable(String)
    case malformed(String, String)

    public var description: String {
        switch self {
        case .unreadable(let path): "cannot read the cluster file \(path)"
        case .malformed(let path, let why): "cluster file \(path): \(why)"
        }
    }
}
