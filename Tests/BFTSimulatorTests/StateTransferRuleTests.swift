import BFTCore
import BFTKeyValue
import BFTSimulator
import Testing

/// State transfer (PBFT §4.3, TOCS §6.2) and recovery from durable records, driven message by message.
@Suite("State transfer and recovery rules")
struct StateTransferRuleTests {
    static func options() -> ReplicaOptions {
        var options = ViewChangeRuleTests.options()
        options.stateChunkBytes = 16  // several chunks even for a small state
        return options
    }

    func put(_ i: Int) -> KeyValueCommand { .put(key: Array("k\(i % 3)".utf8), value: Array("v\(i)".utf8)) }

    /// Runs requests `range` through replicas 0–2 while replica 3 hears nothing.
    static func runWithout3(_ cluster: inout ScriptedCluster, _ range: ClosedRange<Int>, _ put: (Int) -> KeyValueCommand) {
        for t in range {
            let effects = cluster.deliver(cluster.request(1, Timestamp(UInt64(t)), put(t)), to: 0)
            cluster.run(effects, from: 0) { _, to in to == 3 }
        }
    }

    /// Serves replica 3's state requests until it stops asking; `corrupt` may rewrite a chunk on its way.
    static func serveTransfer(
        _ cluster: inout ScriptedCluster, _ first: Effects, corrupt: (Int, Envelope) -> Envelope? = { _, _ in nil }
    ) -> [Effects] {
        var outcomes: [Effects] = []
        var pending = first.messages.filter { $0.envelope.message.kind == .stateRequest }
        var served = 0
        while let request = pending.first, served < 100 {
            pending.removeFirst()
            guard case .replica(let source) = request.destination else { continue }
            let answer = cluster.deliver(request.envelope, to: source)
            for chunk in answer.messages where chunk.destination == .replica(3) {
                let delivered = corrupt(served, chunk.envelope) ?? chunk.envelope
                served += 1
                let effects = cluster.deliver(delivered, to: 3)
                outcomes.append(effects)
                pending += effects.messages.filter { $0.envelope.message.kind == .stateRequest }
            }
        }
        return outcomes
    }

    @Test("state transfer: a corrupt chunk is rejected, and the state is fetched from another replica and verified")
    func corruptChunk() throws {
        var cluster = try ScriptedCluster(options: Self.options())
        Self.runWithout3(&cluster, 1...4, put)
        let proof = cluster.replicas[0].stableProof
        #expect(cluster.replicas[0].status.lowWatermark == 4 && proof.count >= 3)
        for envelope in proof { _ = cluster.deliver(envelope, to: 3) }
        // Within its window, replica 3 first gives its own execution a status interval to catch up.
        let ticks = cluster.tick(3, 20)
        let asking = try #require(ticks.first { !$0.sent(.stateRequest).isEmpty })
        #expect(asking.events.contains(.fellBehind(stableSequence: 4)))
        var firstSource: Principal?
        let signing = cluster  // signs for the source; the keys do not change
        let outcomes = Self.serveTransfer(&cluster, asking) { index, envelope in
            guard index == 1, case .stateChunk(var chunk) = envelope.message, let source = envelope.sender.replicaID
            else { return nil }
            firstSource = envelope.sender
            chunk.data[0] ^= 0xFF
            return signing.signed(.stateChunk(chunk), by: source)
        }
        let rejected = outcomes.flatMap(\.rejections)
        #expect(rejected == [.stateDigestMismatch], "the corrupt chunk spoils the digest and is rejected once")
        let retry = outcomes.flatMap { $0.messages }.filter { $0.envelope.message.kind == .stateRequest }
        #expect(retry.contains { $0.destination != .replica(firstSource?.replicaID ?? 99) })
        #expect(outcomes.contains { $0.events.contains(.stateTransferred(sequence: 4)) })
        let status = cluster.replicas[3].status
        #expect(status.lastExecuted == 4 && status.lowWatermark == 4 && status.replyTableEntries == 1)
        // Replica 3 now executes the next request with everyone, with the same result.
        let fifth = cluster.deliver(cluster.request(1, 5, .get(key: Array("k1".utf8))), to: 0)
        let all = cluster.run(fifth, from: 0)
        let results = all.flatMap { _, effects in
            effects.events.compactMap { if case .executed(_, _, let requests) = $0 { requests.first?.result } else { nil } }
        }
        #expect(results.count == 4 && Set(results).count == 1, "all four replicas execute slot 5 alike")
    }

    @Test("state transfer: a replica more than L behind adopts the checkpoint 2f+1 peers prove and fetches it")
    func farBehind() throws {
        var cluster = try ScriptedCluster(options: Self.options())
        Self.runWithout3(&cluster, 1...10, put)
        var asked = Effects()
        for envelope in cluster.replicas[0].stableProof { asked.append(cluster.deliver(envelope, to: 3)) }
        #expect(!asked.sent(.stateRequest).isEmpty, "10 is beyond its high watermark 4: no waiting")
        let outcomes = Self.serveTransfer(&cluster, asked)
        #expect(outcomes.contains { $0.events.contains(.stateTransferred(sequence: 10)) })
        #expect(cluster.replicas[3].status.lastExecuted == 10 && cluster.replicas[3].status.highWatermark == 14)
    }

    @Test("state requests: one peer gets at most stateChunksPerTick chunks per tick, then a rate-limited refusal")
    func stateRequestsRateLimited() throws {
        var cluster = try ScriptedCluster(options: Self.options())
        Self.runWithout3(&cluster, 1...4, put)
        let request = cluster.signed(
            .stateRequest(StateRequest(sequence: 4, stateDigest: cluster.replicas[0].stableStateDigest,
                                       chunkIndex: 0)), by: 3)
        let answers = (0..<20).map { _ in cluster.deliver(request, to: 0) }
        #expect(answers.prefix(16).allSatisfy { $0.sent(.stateChunk).count == 1 })
        #expect(answers.suffix(4).allSatisfy { $0.rejections == [.rateLimited] && $0.messages.isEmpty })
        _ = cluster.tick(0, 1)
        #expect(cluster.deliver(request, to: 0).sent(.stateChunk).count == 1, "the next tick serves again")
    }

    @Test("restart without equivocation: a restarted replica refuses a second digest for a slot it prepared")
    func restartKeepsVotes() throws {
        var cluster = try ScriptedCluster(options: Self.options())
        let first = cluster.prePrepare(sequence: 1, batch: [cluster.request(1, 1, put(1))])
        #expect(cluster.deliver(first, to: 1).sent(.prepare).count == 1)
        _ = cluster.restart(1)
        let second = cluster.prePrepare(sequence: 1, batch: [cluster.request(2, 1, put(2))])
        let effects = cluster.deliver(second, to: 1)
        #expect(effects.rejections == [.conflictingDigest])
        #expect(effects.sent(.prepare).isEmpty)
        // The same pre-prepare again is a duplicate: the restarted replica knows it already voted.
        #expect(cluster.deliver(first, to: 1).rejections == [.duplicate])
    }

    @Test("restart without equivocation: a replica that left a view stays out of it after a restart")
    func restartKeepsViewChange() throws {
        var cluster = try ScriptedCluster(options: Self.options())
        _ = cluster.deliver(cluster.viewChange(to: 1, by: 0), to: 2)
        let joined = cluster.deliver(cluster.viewChange(to: 1, by: 3), to: 2)
        let own = try #require(joined.messages.first { $0.envelope.message.kind == .viewChange }?.envelope)
        _ = cluster.restart(2)
        #expect(cluster.replicas[2].status.view == 1 && !cluster.replicas[2].status.viewActive)
        let old = cluster.deliver(cluster.prePrepare(sequence: 1, batch: [cluster.request(1, 1, put(1))]), to: 2)
        #expect(old.rejections == [.staleView] && old.messages.isEmpty)
        let resent = cluster.tick(2, 20).flatMap(\.messages).filter { $0.envelope.message.kind == .viewChange }
        #expect(resent.first?.envelope == own, "it repeats the view-change it sent before the crash, byte for byte")
    }

    @Test("recovery: a restarted replica restores its checkpoint and re-executes what it committed above it")
    func recoveryReexecutes() throws {
        var cluster = try ScriptedCluster(options: Self.options())
        for t in 1...3 {
            cluster.run(cluster.deliver(cluster.request(1, Timestamp(UInt64(t)), put(t)), to: 0), from: 0)
        }
        let before = cluster.replicas[1].status
        #expect(before.lastExecuted == 3 && before.lowWatermark == 2)
        let effects = cluster.restart(1)
        #expect(effects.events.first == .recovered(view: 0, stableSequence: 2))
        #expect(effects.executedSequences == [3])
        #expect(cluster.replicas[1].status == before)
    }
}
