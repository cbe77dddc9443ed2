import BFTClient
import BFTCore
import BFTCrypto
import BFTKeyValue
import BFTNIO
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// Many client identities over one connection per replica (`BFTClientPool`), against real `bftreplica` processes.
@Suite("Client pool", .serialized)
struct ClientPoolTests {
    func key(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("""
        a client pool: identities sharing one connection per replica each get their own results; a forged request \
        naming one of them does not divert its replies
        """, arguments: [ClientAuthentication.signatures, .signedRequests])
    func sharedConnections(_ authentication: ClientAuthentication) async throws {
        let cluster = try ProcessCluster(authentication: authentication)
        try cluster.startAll()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let members = 8
        let pool = try BFTClientPool(
            cluster: cluster.cluster, signers: (0..<members).map { _ in Ed25519Signer() }, suite: SodiumCryptoSuite(),
            loop: group.next())
        func run(_ command: KeyValueCommand, as member: Int) async throws -> KeyValueResult {
            let bytes = try await pool.submit(command.encoded(), as: member, timeout: .seconds(60))
            return KeyValueResult.decode(bytes) ?? .invalid("undecodable")
        }
        // Every identity appends its own digit to its own key, all at once, three rounds: each must get back its
        // own key's value (replies reach the identity they name, through the one connection they share).
        for round in 1...3 {
            try await withThrowingTaskGroup(of: (Int, KeyValueResult).self) { tasks in
                for member in 0..<members {
                    tasks.addTask {
                        (member, try await run(.append(key: key("p\(member)"), suffix: key("\(member)")), as: member))
                    }
                }
                for try await (member, result) in tasks {
                    #expect(result == .value(key(String(repeating: "\(member)", count: round))))
                }
            }
        }
        for member in 0..<members {
            let expected = key(String(repeating: "\(member)", count: 3))
            #expect(try await run(.get(key: key("p\(member)")), as: member) == .value(expected))
        }

        // An impostor names identity 0 in a request it cannot authenticate, on its own connection to each backup
        // (backups route replies by the requests they see; the pool's go to the primary only).
        let victim = pool.ids[0]
        let forged = Envelope(
            signing: .request(
                Request(timestamp: Timestamp(UInt64.max / 2), operation: KeyValueCommand.get(key: key("p0")).encoded())),
            from: .client(victim), with: Ed25519Signer())
        let received = ReceivedBytes.Total()
        var impostors: [Channel] = []
        for member in cluster.cluster.replicas.dropFirst() {
            let channel = try await ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ReceivedBytes(received))
                    }
                }
                .connect(host: member.host, port: member.port).get()
            let bytes = forged.encoded
            var buffer = channel.allocator.buffer(capacity: bytes.count + 4)
            buffer.writeInteger(UInt32(bytes.count))
            buffer.writeBytes(bytes)
            try await channel.writeAndFlush(buffer).get()
            impostors.append(channel)
        }
        try await Task.sleep(for: .milliseconds(300))  // let the backups read the forged frames first
        for round in 1...3 {
            let expected = "000" + String(repeating: "x", count: round)
            #expect(try await run(.append(key: key("p0"), suffix: key("x")), as: 0) == .value(key(expected)))
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(received.count.withLock { $0 } == 0, "no reply for identity 0 went to the impostor's connections")
        for channel in impostors { try? await channel.close().get() }
        await pool.close()
        try await group.shutdownGracefully()
    }
}

extension ClientPoolTests {
    @Test("""
        a client pool under Zyzzyva with one silent replica: every identity gets its own results, and the identities \
        of a batch share one commit certificate instead of sending one each
        """)
    func sharedCertificates() async throws {
        let cluster = try ProcessCluster(replication: .zyzzyva, authentication: .macs)
        try cluster.start(3, extra: ["--adversary", "silent"])
        let announced = cluster.wait(seconds: 60) { cluster.log(3).contains("running the Byzantine behaviour 'silent'") }
        try #require(announced, "replica 3 logged: \(cluster.log(3))")
        for index in 0..<3 { try cluster.start(index) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let members = 8
        let pool = try BFTClientPool(
            cluster: cluster.cluster, signers: (0..<members).map { _ in Ed25519Signer() }, suite: SodiumCryptoSuite(),
            loop: loop)
        // Each round submits every identity's append in one turn of the pool's loop, so the requests leave in one
        // write and the primary orders them as one batch; from the second round on, each identity's previous
        // request needed the commit path, so it commits as soon as 2f+1 spec-responses match (adaptive commit).
        let rounds = 5
        for round in 1...rounds {
            let results = try await loop.submit {
                let all = loop.makePromise(of: [(Int, Result<[UInt8], BFTClientError>)].self)
                var collected: [(Int, Result<[UInt8], BFTClientError>)] = []
                for member in 0..<members {
                    let append = KeyValueCommand.append(key: self.key("s\(member)"), suffix: self.key("\(member)"))
                    pool.submit(append.encoded(), as: member, timeout: .seconds(60)) { result in
                        collected.append((member, result))
                        if collected.count == members { all.succeed(collected) }
                    }
                }
                return all.futureResult
            }.get().get()
            for (member, result) in results {
                let value = try result.get()
                #expect(KeyValueResult.decode(value) == .value(key(String(repeating: "\(member)", count: round))))
            }
        }
        let (completions, certificates) = try await loop.submit {
            (pool.commitPathCompletions, pool.certificatesSent)
        }.get()
        #expect(completions == rounds * members, "the silent replica sends every request down the commit path")
        #expect(certificates < completions, "\(certificates) certificates for \(completions) commit-path completions")
        await pool.close()
        try await group.shutdownGracefully()
    }
}

/// Counts what arrives on the impostor's connections.
private final class ReceivedBytes: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    final class Total: Sendable { let count = Mutex(0) }
    let total: Total

    init(_ total: Total) { self.total = total }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let count = unwrapInboundIn(data).readableBytes
        total.count.withLock { $0 += count }
    }
}

extension ClientPoolTests {
    @Test("""
        signatures checked ahead: a backup checks a pre-prepare's signed requests on every core before its core \
        asks, and the pool's identities get their results
        """)
    func signaturesCheckedAhead() async throws {
        let cluster = try ProcessCluster(authentication: .signedRequests)
        let port = try ProcessCluster.freePorts(1)[0]
        try cluster.start(0)
        try cluster.start(1, extra: ["--metrics-port", "\(port)"])
        for index in 2..<4 { try cluster.start(index) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let members = 24
        let pool = try BFTClientPool(
            cluster: cluster.cluster, signers: (0..<members).map { _ in Ed25519Signer() }, suite: SodiumCryptoSuite(),
            loop: group.next())
        func checkedAhead() -> Int {
            let text = MetricsServer.fetch(port: port, path: "/metrics")
            let line = text.split(separator: "\n").first { $0.hasPrefix("bft_signatures_checked_ahead_total ") }
            return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        }
        // Rounds of every identity at once, so that the primary cuts batches of many signed requests; a few rounds
        // at most, in case the first batches were cut small.
        var rounds = 0
        repeat {
            rounds += 1
            let round = rounds
            try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { tasks in
                for member in 0..<members {
                    tasks.addTask {
                        let command = KeyValueCommand.put(key: key("s\(member)"), value: key("\(round)"))
                        return (member, try await pool.submit(command.encoded(), as: member, timeout: .seconds(60)))
                    }
                }
                for try await (_, bytes) in tasks { #expect(KeyValueResult.decode(bytes) == .ok) }
            }
        } while checkedAhead() == 0 && rounds < 5
        #expect(cluster.wait(seconds: 10) { checkedAhead() > 0 }, "the backup checked no signature ahead")
        await pool.close()
        try await group.shutdownGracefully()
    }
}
