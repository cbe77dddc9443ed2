import BFTCore
import BFTNIO
import Foundation
import NIOCore
import NIOPosix

/// An async client of a replica group: it drives a `ClientSession` (which accepts a result once f+1 replicas sent
/// matching replies) over one TCP connection per replica, on one event loop, with the session's retransmission
/// ticks on that loop. One request at a time, as PBFT's clients do; use several clients for concurrency.
public final class BFTClient: @unchecked Sendable {
    public let id: ClientID
    let loop: EventLoop
    let cluster: ClusterFile
    var session: ClientSession
    var links: [ReplicaID: Link] = [:]
    var waiter: EventLoopPromise<[UInt8]>?
    var ticker: RepeatedTask?

    /// `signer` is the client's identity; its id is self-certifying (derived from the key), so the group needs no
    /// registration. `lastTimestamp` must exceed any timestamp this identity used before (the default, the wall
    /// clock in microseconds, does).
    public init(cluster: ClusterFile, signer: any Signer, suite: any CryptoSuite, loop: EventLoop,
                lastTimestamp: UInt64 = UInt64(Date().timeIntervalSince1970 * 1_000_000)) throws {
        let configuration = try cluster.configuration()
        id = ClientID(selfCertifying: signer.publicKey, suite: suite)
        self.loop = loop
        self.cluster = cluster
        let options = cluster.clientOptions
        session = ClientSession(
            client: id, configuration: configuration, options: options, directory: cluster.directory, suite: suite,
            signer: signer, lastTimestamp: Timestamp(lastTimestamp))
        let me = UnsafeTransfer(self)
        let maximum = cluster.replicaOptions.limits.maxFrameBytes
        loop.execute {
            let client = me.value
            for member in cluster.replicas {
                let link = Link(
                    host: member.host, port: member.port, loop: loop, maxQueuedBytes: 16 << 20,
                    maximumFrameBytes: maximum, onFrame: { me.value.received($0) })
                client.links[ReplicaID(member.id)] = link
                link.connect()
            }
            client.ticker = loop.scheduleRepeatedTask(
                initialDelay: .milliseconds(Int64(cluster.tickMilliseconds)),
                delay: .milliseconds(Int64(cluster.tickMilliseconds))
            ) { _ in me.value.tick() }
        }
    }

    /// Submits one operation and returns its result once f+1 replicas agree, or throws `BFTClientError.timedOut`.
    public func submit(_ operation: [UInt8], timeout: TimeAmount = .seconds(10)) async throws -> [UInt8] {
        let me = UnsafeTransfer(self)
        let promise = loop.makePromise(of: [UInt8].self)
        loop.execute {
            let client = me.value
            guard client.waiter == nil else { return promise.fail(BFTClientError.busy) }
            client.waiter = promise
            client.send(client.session.submit(operation))
            client.loop.scheduleTask(in: timeout) {
                guard let waiter = me.value.waiter, waiter.futureResult === promise.futureResult else { return }
                me.value.waiter = nil
                me.value.session.abandon()
                waiter.fail(BFTClientError.timedOut(timeout))
            }
        }
        return try await promise.futureResult.get()
    }

    private func send(_ outbound: [Outbound]) {
        for message in outbound {
            guard case .replica(let replica) = message.destination else { continue }
            links[replica]?.send(message.envelope.encoded)
            links[replica]?.flush()
        }
    }

    private func received(_ frame: [UInt8]) {
        guard let envelope = try? Envelope.decode(frame, limits: cluster.replicaOptions.limits) else { return }
        let step = session.receive(envelope)
        send(step.messages)
        if let completion = step.completion, let waiter {
            self.waiter = nil
            waiter.succeed(completion.result)
        }
    }

    private func tick() { send(session.tick()) }

    public func close() async {
        let me = UnsafeTransfer(self)
        try? await loop.submit {
            me.value.ticker?.cancel()
            for link in me.value.links.values { link.close() }
            me.value.waiter?.fail(BFTClientError.closed)
            me.value.waiter = nil
        }.get()
    }
}

public enum BFTClientError: Error, CustomStringConvertible {
    case timedOut(TimeAmount)
    case busy
    case closed

    public var description: String {
        switch self {
        case .timedOut(let timeout):
            "no f+1 matching replies within \(timeout.nanoseconds / 1_000_000) ms: is the cluster running and reachable?"
        case .busy: "a request is already outstanding on this client"
        case .closed: "the client was closed"
        }
    }
}
