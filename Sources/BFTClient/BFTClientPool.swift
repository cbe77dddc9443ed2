import BFTCore
import BFTNIO
import Foundation
import NIOCore
import NIOPosix

/// Many client identities behind one TCP connection per replica, on one event loop: a client process that speaks
/// for many users (a gateway, a load generator). Each identity is its own `ClientSession` (PBFT's one request at a
/// time, f+1 matching replies); replies are routed to their session by the client they name (PBFT §4.1's c).
/// Requests made during a loop turn leave together at its end (one write per replica, not one per request), and
/// one ticker drives every session's retransmission and timeout. Under the speculative protocol the sessions share
/// commit certificates (`SharedCommits`): with a replica silent, one certificate completes a whole batch's requests.
public final class BFTClientPool: @unchecked Sendable {
    public typealias Completion = (Result<[UInt8], BFTClientError>) -> Void

    /// The identities, in the order of the signers given; `submit(_:as:)` names one by its index here.
    public let ids: [ClientID]
    /// The event loop the pool runs on: its counters are read there.
    public let loop: EventLoop
    let limits: CodecLimits
    let speculative: Bool
    private var sessions: [ClientSession]
    private let indexOf: [ClientID: Int]
    private var waiting: [(completion: Completion, deadline: NIODeadline, timeout: TimeAmount)?]
    private var links: [ReplicaID: Link] = [:]
    /// Identities whose first request on the current connections went to every replica (see `submit`).
    private var introduced: [Bool]
    private var ticker: RepeatedTask?
    private var flushScheduled = false
    private var closed = false
    /// Replies that named no identity of this pool, or that their session refused (forged, stale, duplicate).
    public private(set) var refusedReplies = 0
    /// Requests sent again to every replica after a retransmission timeout (PBFT §4.1).
    public private(set) var retransmissions = 0
    /// Speculative protocol: requests completed off their own fast path: by a commit certificate, their own or a
    /// batch-mate's, or on a batch-mate's fast path (`SharedCommits`).
    public private(set) var commitPathCompletions = 0
    /// Speculative protocol: commit certificates sent (each to every replica). With a replica silent, about one per
    /// batch, since the sessions of the pool share them (`SharedCommits`). Resends are counted apart.
    public private(set) var certificatesSent = 0
    /// Speculative protocol: certificates sent again to replicas that had not answered them
    /// (`ClientOptions.certificateResendTicks`).
    public private(set) var certificatesResent = 0

    /// `signers` are the identities; each id is self-certifying (derived from its key), so the group needs no
    /// registration. `lastTimestamp` must exceed any timestamp these identities used before (the default, the wall
    /// clock in microseconds, does).
    public init(
        cluster: ClusterFile, signers: [any Signer], suite: any CryptoSuite, loop: EventLoop,
        lastTimestamp: UInt64 = UInt64(Date().timeIntervalSince1970 * 1_000_000)
    ) throws {
        let configuration = try cluster.configuration()
        let options = cluster.clientOptions
        // Every session of the pool gets the same votes per batch, and one commit certificate serves the batch.
        let votes = VerifiedSignatures()
        let commits = SharedCommits()
        sessions = signers.map { signer in
            ClientSession(
                client: ClientID(selfCertifying: signer.publicKey, suite: suite), configuration: configuration,
                options: options, directory: cluster.directory, suite: suite, signer: signer,
                lastTimestamp: Timestamp(lastTimestamp), verifiedVotes: votes, sharedCommits: commits)
        }
        ids = sessions.map(\.client)
        indexOf = Dictionary(ids.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { first, _ in first })
        waiting = Array(repeating: nil, count: signers.count)
        introduced = Array(repeating: false, count: signers.count)
        self.loop = loop
        limits = cluster.replicaOptions.limits
        speculative = options.replication == .zyzzyva
        let me = UnsafeTransfer(self)
        loop.execute {
            let pool = me.value
            for member in cluster.replicas {
                let link = Link(
                    host: member.host, port: member.port, loop: loop, maxQueuedBytes: 16 << 20,
                    maximumFrameBytes: pool.limits.maxFrameBytes, onFrame: { me.value.received($0) })
                // A new connection is unknown to that replica: introduce every identity again on it (see `submit`).
                link.onConnect = { me.value.introduced = Array(repeating: false, count: me.value.introduced.count) }
                pool.links[ReplicaID(member.id)] = link
                link.connect()
            }
            let tick = TimeAmount.milliseconds(Int64(cluster.tickMilliseconds))
            pool.ticker = loop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in me.value.tick() }
        }
    }

    /// Submits one operation as identity `member` and calls `completion` on the pool's loop with the result once
    /// f+1 replicas agree, or with `.timedOut`, `.busy` (that identity has a request outstanding) or `.closed`.
    /// Call it on the pool's loop (from a completion, say) to keep a closed loop without hopping threads.
    public func submit(
        _ operation: [UInt8], as member: Int, timeout: TimeAmount = .seconds(10), completion: @escaping Completion
    ) {
        guard loop.inEventLoop else {
            let call = UnsafeTransfer((self, completion))
            return loop.execute {
                call.value.0.submit(operation, as: member, timeout: timeout, completion: call.value.1)
            }
        }
        guard !closed else { return completion(.failure(.closed)) }
        guard sessions.indices.contains(member), waiting[member] == nil else { return completion(.failure(.busy)) }
        waiting[member] = (completion, .now() + timeout, timeout)
        var outbound = sessions[member].submit(operation)
        if !introduced[member] {
            // A replica routes a client's replies by the connection its requests come on, and backups see a request
            // only inside a pre-prepare: an identity's first request (and its first after any reconnect) also goes
            // to every backup (which relays it to the primary, PBFT §4.1), or only the primary could answer it
            // until the retransmission timeout.
            introduced[member] = true
            let first = outbound.filter { $0.envelope.message.kind == .request }
            for message in first {
                for replica in links.keys.sorted() where Destination.replica(replica) != message.destination {
                    outbound.append(Outbound(message.envelope, to: .replica(replica)))
                }
            }
        }
        send(outbound)
    }

    /// `submit(_:as:timeout:completion:)` for async code.
    public func submit(
        _ operation: [UInt8], as member: Int, timeout: TimeAmount = .seconds(10)
    ) async throws -> [UInt8] {
        try await withCheckedThrowingContinuation { continuation in
            submit(operation, as: member, timeout: timeout) { continuation.resume(with: $0) }
        }
    }

    private func send(_ outbound: [Outbound], resending: Bool = false) {
        // A session's step sends at most one certificate (to every replica, or again to those that did not answer).
        if speculative, outbound.contains(where: { $0.envelope.message.kind == .commitCertificate }) {
            if resending { certificatesResent += 1 } else { certificatesSent += 1 }
        }
        for message in outbound {
            guard case .replica(let replica) = message.destination else { continue }
            links[replica]?.send(message.envelope.encoded)
        }
        guard !outbound.isEmpty, !flushScheduled else { return }
        // Everything sent during this loop turn goes out in one write per replica, at its end.
        flushScheduled = true
        let me = UnsafeTransfer(self)
        loop.execute {
            me.value.flushScheduled = false
            for link in me.value.links.values { link.flush() }
        }
    }

    private func received(_ frame: [UInt8]) {
        guard let envelope = try? Envelope.decode(frame, limits: limits), let client = envelope.message.addressee,
            let member = indexOf[client]
        else {
            refusedReplies += 1
            return
        }
        let step = sessions[member].receive(envelope)
        if step.rejected != nil { refusedReplies += 1 }
        finish(step, of: member)
        // The commit that completed this session (a certificate, or the fast path) also completes those of the pool
        // that rode on it.
        for rider in step.shared?.riders ?? [] {
            guard let shared = step.shared, let index = indexOf[rider] else { continue }
            finish(sessions[index].historyCommitted(shared.history, fastPath: shared.fastPath), of: index)
        }
    }

    private func finish(_ step: ClientStep, of member: Int) {
        send(step.messages)
        if speculative, let completion = step.completion, !completion.fastPath { commitPathCompletions += 1 }
        if let completion = step.completion, let waiter = waiting[member] {
            waiting[member] = nil
            waiter.completion(.success(completion.result))
        }
    }

    private func tick() {
        let now = NIODeadline.now()
        // Only mutating calls on `sessions[member]`: they work in place, where a getter would copy the session.
        for member in sessions.indices {
            // Idle: a session is busy while it has a waiter. Read in place: copying the waiter out would retain its
            // completion for every member on every tick.
            guard let deadline = waiting.withUnsafeBufferPointer({ $0[member]?.deadline }) else { continue }
            if deadline <= now, let waiter = waiting[member] {
                waiting[member] = nil
                sessions[member].abandon()
                waiter.completion(.failure(.timedOut(waiter.timeout)))
                continue
            }
            var resending = false
            let resent = sessions[member].tick(resending: &resending)
            if resent.contains(where: { $0.envelope.message.kind == .request }) { retransmissions += 1 }
            send(resent, resending: resending)
        }
    }

    /// Closes the connections; requests still outstanding fail with `.closed`.
    public func close() async {
        let me = UnsafeTransfer(self)
        try? await loop.submit {
            let pool = me.value
            pool.closed = true
            pool.ticker?.cancel()
            for link in pool.links.values { link.close() }
            for member in pool.waiting.indices {
                guard let waiter = pool.waiting[member] else { continue }
                pool.waiting[member] = nil
                waiter.completion(.failure(.closed))
            }
        }.get()
    }
}

public enum BFTClientError: Error, CustomStringConvertible, Equatable {
    case timedOut(TimeAmount)
    case busy
    case closed

    public var description: String {
        switch self {
        case .timedOut(let timeout):
            "no f+1 matching replies within \(timeout.nanoseconds / 1_000_000) ms: is the cluster running and reachable?"
        case .busy: "a request is already outstanding for this client identity"
        case .closed: "the client was closed"
        }
    }
}
