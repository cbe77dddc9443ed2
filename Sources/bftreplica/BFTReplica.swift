import ArgumentParser
import BFTCore
import BFTCrypto
import BFTNIO
import Foundation

@main
struct BFTReplica: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bftreplica",
        abstract: "Runs a replica of a PBFT group (n = 3f+1) over TCP, with its state in an append-only log file.",
        discussion: """
            Quick start on one machine:
              bftreplica local --demo 200        # 4 replicas on loopback, 200 client operations, then stop
            A real group: 'bftreplica init' writes a cluster file and one key per replica; copy the cluster file \
            to every host and each key to its replica's host only, then start 'bftreplica run' on each.
            """,
        subcommands: [InitCommand.self, RunCommand.self, LocalCommand.self, SuiteCommand.self]
    )
}

/// A failure reported as one line, with exit status 1 (ArgumentParser prints "Error: …").
struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension ReplicationProtocol: ExpressibleByArgument {}
extension ClientAuthentication: ExpressibleByArgument {}

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Writes a cluster file and one private key file per replica.",
        discussion: """
            Writes OUT/cluster.json (ids, addresses, public keys, protocol settings) and OUT/replica-I.key for \
            each replica (mode 0600; existing keys are never overwritten). Replica i listens on HOST at \
            BASE-PORT + i.
            """
    )

    @Option(help: "Number of replicas n.") var replicas = 4
    @Option(help: "Faults tolerated f (default: the largest with n ≥ 3f+1).") var faulty: Int?
    @Option(help: "Address every replica listens on (edit the cluster file for several hosts).") var host = "127.0.0.1"
    @Option(help: "Port of replica 0; replica i gets base-port + i.") var basePort = 7100
    @Option(help: "Directory to write into (created if missing).") var out: String
    @Option(name: .customLong("protocol"), help: "Agreement protocol: pbft, or zyzzyva (the speculative fast path).")
    var replication: ReplicationProtocol = .pbft
    @Option(
        name: .customLong("client-auth"),
        help: """
            How clients authenticate requests and replicas replies: signatures (Ed25519 both ways), macs (one HMAC \
            per replica, PBFT's authenticators: much cheaper, but only the addressee can check a MAC), or \
            signed-requests (Ed25519 requests, replies MAC'd for their client: no faulty client can split the \
            replicas, at about half the cost of signatures).
            """)
    var clientAuthentication: ClientAuthentication = .signatures

    func run() throws {
        let cluster = try Self.initialize(
            replicas: replicas, faulty: faulty, host: host, basePort: basePort, out: out, replication: replication,
            clientAuthentication: clientAuthentication)
        print("wrote \(out)/cluster.json: n = \(cluster.replicas.count), f = \(cluster.faultTolerance), "
            + "protocol \(cluster.protocol), client authentication \(clientAuthentication.rawValue)")
        for member in cluster.replicas {
            print("  replica \(member.id): \(member.host):\(member.port), key \(out)/replica-\(member.id).key")
        }
    }

    static func initialize(
        replicas: Int, faulty: Int?, host: String, basePort: Int, out: String, replication: ReplicationProtocol = .pbft,
        clientAuthentication: ClientAuthentication = .signatures
    ) throws -> ClusterFile {
        let configuration: Configuration
        do { configuration = try Configuration(replicas: replicas, faulty: faulty) } catch { throw Failure(error.description) }
        guard basePort >= 1, basePort + replicas - 1 <= 65535 else { throw Failure("ports \(basePort)… do not fit") }
        do {
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            throw Failure("cannot create \(out): \(error.localizedDescription)")
        }
        var members: [ClusterFile.Member] = []
        for index in 0..<replicas {
            let signer = Ed25519Signer()
            do { try KeyFile.writePrivateKey(signer, to: "\(out)/replica-\(index).key") } catch {
                throw Failure(error.description)
            }
            members.append(ClusterFile.Member(
                id: UInt32(index), host: host, port: basePort + index, publicKey: signer.publicKey.hex))
        }
        var cluster = ClusterFile(faultTolerance: configuration.faultTolerance, replicas: members)
        cluster.protocol = replication.rawValue
        cluster.clientAuthentication = clientAuthentication.rawValue
        do { try cluster.write(to: "\(out)/cluster.json") } catch {
            throw Failure("cannot write \(out)/cluster.json: \(error.localizedDescription)")
        }
        return cluster
    }
}
