import BFTCore
import BFTKeyValue
import Foundation
import Testing

/// The short form of the real-process adversarial suite: one `bftreplica` runs a catalog behaviour (replica 0, the
/// first primary), two clients run concurrently, and every result they accept must be the one a correct execution
/// gives.
@Suite("Replica processes with a Byzantine replica", .serialized)
struct AdversarialProcessTests {
    @Test("one Byzantine process of four: clients see only correct results, and the cluster stays live",
          arguments: [
            ("equivocating-primary", .pbft), ("lying-replier", .pbft), ("forger", .pbft), ("silent", .pbft),
            ("replayer", .pbft), ("equivocating-primary", .zyzzyva), ("lying-replier", .zyzzyva),
            ("silent", .zyzzyva), ("view-change-liar", .zyzzyva),
          ] as [(String, ReplicationProtocol)])
    func oneByzantine(name: String, replication: ReplicationProtocol) async throws {
        let cluster = try ProcessCluster(replication: replication)
        try cluster.start(0, extra: ["--adversary", name])
        // The behaviour must be running before the clients start, or the test would pass without an adversary (in
        // the full parallel `swift test` a process can take many seconds to come up).
        let announced = cluster.wait(seconds: 60) {
            cluster.log(0).contains("running the Byzantine behaviour '\(name)'")
        }
        try #require(announced, "replica 0 (running: \(cluster.isRunning(0))) logged: \(cluster.log(0))")
        for index in 1..<4 { try cluster.start(index) }
        func work(_ client: String) async throws -> (String, KeyValueResult) {
            let session = try TestClient(cluster.cluster)
            var expected = ""
            for i in 0..<10 {
                let token = "\(client)\(i),"
                expected += token
                let result = try await session.run(.append(key: Array(client.utf8), suffix: Array(token.utf8)))
                #expect(result == .value(Array(expected.utf8)), "\(name): append \(i) of \(client)")
            }
            let final = try await session.run(.get(key: Array(client.utf8)))
            await session.close()
            return (expected, final)
        }
        async let first = work("a")
        async let second = work("b")
        for (expected, final) in try await [first, second] {
            #expect(final == .value(Array(expected.utf8)), "\(name)")
        }
        #expect(cluster.isRunning(0), "\(name): the Byzantine replica must still be running at the end")
    }
}
