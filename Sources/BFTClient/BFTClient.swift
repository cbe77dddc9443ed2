import BFTCore
import BFTNIO
import Foundation
import NIOCore
import NIOPosix

/// An async client of a replica group: one identity, one request at a time, as PBFT's clients are; it accepts a
/// result once f+1 replicas sent matching replies (`ClientSession`). A `BFTClientPool` of one: use a pool for many
/// identities over shared connections.
public final class BFTClient: Sendable {
    public let id: ClientID
    let pool: BFTClientPool

    /// `signer` is the client's identity; its id is self-certifying (derived from the key), so the group needs no
    /// registration. `lastTimestamp` must exceed any timestamp this identity used before (the default, the wall
    /// clock in microseconds, does).
    public init(cluster: ClusterFile, signer: any Signer, suite: any CryptoSuite, loop: EventLoop,
                lastTimestamp: UInt64 = UInt64(Date().timeIntervalSince1970 * 1_000_000)) throws {
        pool = try BFTClientPool(
            cluster: cluster, signers: [signer], suite: suite, loop: loop, lastTimestamp: lastTimestamp)
        id = pool.ids[0]
    }

    /// Submits one operation and returns its result once f+1 replicas agree, or throws `BFTClientError.timedOut`.
    public func submit(_ operation: [UInt8], timeout: TimeAmount = .seconds(10)) async throws -> [UInt8] {
        try await pool.submit(operation, as: 0, timeout: timeout)
    }

    public func close() async { await pool.close() }
}
