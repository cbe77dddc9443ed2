import BFTCore
import BFTKeyValue
import BFTSimulator
import Testing

/// One test per rule of PBFT's normal case (Castro & Liskov, OSDI 1999 §4.2), each driven message by message.
@Suite("PBFT normal-case rules")
struct NormalCaseRuleTests {
    let put = KeyValueCommand.put(key: Array("k".utf8), value: Array("v".utf8))

    @Test("pre-prepare acceptance: a valid pre-prepare from the primary is logged and answered with a prepare")
    func prePrepareAccepted() throws {
        var cluster = try ScriptedCluster()
        let batch = [cluster.request(1, 1, put)]
        let effects = cluster.deliver(cluster.prePrepare(sequence: 1, batch: batch), to: 1)
        #expect(effects.rejections.isEmpty)
        #expect(effects.sent(.prepare).count == 1)
        #expect(effects.sent(.prepare).first?.destination == .allReplicas)
        #expect(effects.durable.count == 2, "the pre-prepare and the prepare are made durable before sending")
        #expect(cluster.replicas[1].status.logEntries == 1)
    }

    @Test(
        "pre-prepare acceptance: each invalid pre-prepare is rejected with its reason and changes nothing",
        arguments: ["notFromPrimary", "wrongView", "outsideWatermarks", "digestMismatch", "badRequestInBatch",
                    "zeroSequence"])
    func prePrepareRejected(kind: String) throws {
        var cluster = try ScriptedCluster()
        let good = [cluster.request(1, 1, put)]
        let forged = Envelope(
            unverified: .request(Request(timestamp: 1, operation: put.encoded())), from: .client(2),
            signature: Signature(checked: [UInt8](repeating: 7, count: 64)))
        let (envelope, reason): (Envelope, RejectReason) =
            switch kind {
            case "notFromPrimary": (cluster.prePrepare(sequence: 1, batch: good, by: 2), .notFromPrimary)
            case "wrongView": (cluster.prePrepare(view: 1, sequence: 1, batch: good, by: 1), .wrongView)
            case "outsideWatermarks": (cluster.prePrepare(sequence: 257, batch: good), .outsideWatermarks)
            case "zeroSequence": (cluster.prePrepare(sequence: 0, batch: good), .outsideWatermarks)
            case "digestMismatch": (cluster.prePrepare(sequence: 1, batch: good, digest: .zero), .digestMismatch)
            default: (cluster.prePrepare(sequence: 1, batch: [forged]), .badRequestInBatch)
            }
        let before = cluster.replicas[3].status
        let effects = cluster.deliver(envelope, to: 3)
        #expect(effects.rejections == [reason])
        #expect(effects.messages.isEmpty && effects.durable.isEmpty)
        #expect(cluster.replicas[3].status == before)
    }

    @Test("pre-prepare acceptance: a second pre-prepare with another digest for the same view and number is refused")
    func conflictingPrePrepare() throws {
        var cluster = try ScriptedCluster()
        _ = cluster.deliver(cluster.prePrepare(sequence: 1, batch: [cluster.request(1, 1, put)]), to: 1)
        let other = cluster.prePrepare(sequence: 1, batch: [cluster.request(2, 1, put)])
        let effects = cluster.deliver(other, to: 1)
        #expect(effects.rejections == [.conflictingDigest])
        #expect(effects.messages.isEmpty)
    }

    @Test("a message with a bad signature or from an unknown sender is rejected")
    func authentication() throws {
        var cluster = try ScriptedCluster()
        let genuine = cluster.prepare(1, .zero, by: 2)
        let forged = Envelope(
            unverified: genuine.message, from: .replica(3), signature: try #require(genuine.signature))
        #expect(cluster.deliver(forged, to: 1).rejections == [.badSignature])
        let stranger = Envelope(
            unverified: genuine.message, from: .replica(9), signature: try #require(genuine.signature))
        #expect(cluster.deliver(stranger, to: 1).rejections == [.unknownSender])
    }

    @Test("prepared predicate: pre-prepare plus 2f matching prepares from distinct backups, then a commit")
    func preparedPredicate() throws {
        var cluster = try ScriptedCluster()
        let batch = [cluster.request(1, 1, put)]
        let digest = Replica.batchDigest(batch, suite: cluster.suite)
        _ = cluster.deliver(cluster.prePrepare(sequence: 1, batch: batch), to: 1)
        // Replica 1's own prepare is one of the 2f; a prepare from the primary does not count.
        #expect(cluster.deliver(cluster.prepare(1, digest, by: 0), to: 1).rejections == [.fromPrimary])
        let mismatched = cluster.deliver(cluster.prepare(1, .zero, by: 3), to: 1)
        #expect(mismatched.sent(.commit).isEmpty, "a prepare for another digest must not count")
        let matching = cluster.deliver(cluster.prepare(1, digest, by: 2), to: 1)
        #expect(matching.sent(.commit).count == 1)
        #expect(cluster.deliver(cluster.prepare(1, digest, by: 2), to: 1).rejections == [.redundantVote])
    }

    @Test("quorum reached: later prepares and commits for the slot are dropped before their signature is checked")
    func redundantVotesDropped() throws {
        var cluster = try ScriptedCluster()
        let batch = [cluster.request(1, 1, put)]
        let digest = Replica.batchDigest(batch, suite: cluster.suite)
        _ = cluster.deliver(cluster.prePrepare(sequence: 1, batch: batch), to: 1)
        func forged(_ genuine: Envelope, as sender: ReplicaID) throws -> Envelope {
            Envelope(unverified: genuine.message, from: .replica(sender), signature: try #require(genuine.signature))
        }
        // Not prepared yet: a prepare is checked (and a forged one refused for its signature).
        let early = try forged(cluster.prepare(1, digest, by: 2), as: 3)
        #expect(cluster.deliver(early, to: 1).rejections == [.badSignature])
        #expect(cluster.deliver(cluster.prepare(1, digest, by: 2), to: 1).sent(.commit).count == 1, "prepared")
        // Prepared: the third backup's prepare is not needed, so it is not even verified.
        #expect(cluster.deliver(early, to: 1).rejections == [.redundantVote])
        // Commits are checked until committed-local, then dropped unverified too.
        let lateCommit = try forged(cluster.commit(1, digest, by: 0), as: 2)
        #expect(cluster.deliver(lateCommit, to: 1).rejections == [.badSignature])
        _ = cluster.deliver(cluster.commit(1, digest, by: 0), to: 1)
        #expect(cluster.deliver(cluster.commit(1, digest, by: 3), to: 1).executedSequences == [1])
        #expect(cluster.deliver(lateCommit, to: 1).rejections == [.redundantVote])
        #expect(cluster.replicas[1].lastExecuted == 1)
        // Another slot, not prepared: its prepares are still checked.
        let other = try forged(cluster.prepare(2, digest, by: 2), as: 3)
        #expect(cluster.deliver(other, to: 1).rejections == [.badSignature])
    }

    @Test("committed predicate: prepared plus 2f+1 matching commits, own included, then execution")
    func committedPredicate() throws {
        var cluster = try ScriptedCluster()
        let batch = [cluster.request(1, 1, put)]
        let digest = Replica.batchDigest(batch, suite: cluster.suite)
        _ = cluster.deliver(cluster.prePrepare(sequence: 1, batch: batch), to: 1)
        _ = cluster.deliver(cluster.commit(1, digest, by: 0), to: 1)  // commits may arrive before prepared
        _ = cluster.deliver(cluster.commit(1, digest, by: 3), to: 1)
        #expect(cluster.replicas[1].lastExecuted == 0, "not prepared yet: commits alone do not commit")
        let effects = cluster.deliver(cluster.prepare(1, digest, by: 2), to: 1)
        #expect(effects.committedSequences == [1])
        #expect(effects.executedSequences == [1])
        #expect(effects.sent(.reply).count == 1)
        #expect(cluster.replicas[1].lastExecuted == 1)
    }

    @Test("committed predicate: 2f commits are one too few")
    func oneCommitShort() throws {
        var cluster = try ScriptedCluster()
        let batch = [cluster.request(1, 1, put)]
        let digest = Replica.batchDigest(batch, suite: cluster.suite)
        _ = cluster.deliver(cluster.prePrepare(sequence: 1, batch: batch), to: 1)
        _ = cluster.deliver(cluster.prepare(1, digest, by: 2), to: 1)
        let effects = cluster.deliver(cluster.commit(1, digest, by: 3), to: 1)
        #expect(effects.committedSequences.isEmpty)
        #expect(cluster.replicas[1].lastExecuted == 0)
    }

    /// Brings slot `sequence` to committed at replica 1.
    private func commitSlot(_ cluster: inout ScriptedCluster, _ sequence: SequenceNumber, _ batch: [Envelope])
        -> Effects
    {
        let digest = Replica.batchDigest(batch, suite: cluster.suite)
        var effects = cluster.deliver(cluster.prePrepare(sequence: sequence, batch: batch), to: 1)
        effects.append(cluster.deliver(cluster.prepare(sequence, digest, by: 2), to: 1))
        effects.append(cluster.deliver(cluster.commit(sequence, digest, by: 0), to: 1))
        effects.append(cluster.deliver(cluster.commit(sequence, digest, by: 3), to: 1))
        return effects
    }

    @Test("in-order execution: slot 2 committed first waits for slot 1")
    func inOrderExecution() throws {
        var cluster = try ScriptedCluster()
        let second = commitSlot(&cluster, 2, [cluster.request(2, 1, put)])
        #expect(second.committedSequences == [2])
        #expect(second.executedSequences.isEmpty)
        let first = commitSlot(&cluster, 1, [cluster.request(1, 1, put)])
        #expect(first.executedSequences == [1, 2])
    }

    @Test("exactly once: a repeated request gets the cached reply, an older one is ignored, a reordered one skipped")
    func exactlyOnce() throws {
        var cluster = try ScriptedCluster()
        let append = KeyValueCommand.append(key: Array("k".utf8), suffix: [1])
        let request = cluster.request(1, 5, append)
        let executed = commitSlot(&cluster, 1, [request])
        let reply = try #require(executed.sent(.reply).first)
        let again = cluster.deliver(request, to: 1)
        #expect(again.messages == [reply], "the cached reply is sent again, nothing is re-executed")
        #expect(cluster.deliver(cluster.request(1, 4, append), to: 1).rejections == [.staleRequest])
        // A faulty primary orders the same request again: it is not executed a second time.
        let duplicate = commitSlot(&cluster, 2, [request])
        #expect(duplicate.sent(.reply).isEmpty)
        guard case .executed(_, _, let requests) = duplicate.events.first(where: {
            if case .executed = $0 { true } else { false }
        }) else {
            Issue.record("slot 2 was not executed")
            return
        }
        #expect(requests.isEmpty)
    }

    @Test("a backup relays a client's request to the primary")
    func backupRelays() throws {
        var cluster = try ScriptedCluster()
        let request = cluster.request(1, 1, put)
        let effects = cluster.deliver(request, to: 2)
        #expect(effects.messages == [Outbound(request, to: .replica(0))])
    }

    @Test("the primary batches: requests go out at once while the pipeline is short, then queue until a tick")
    func primaryBatching() throws {
        var options = ReplicaOptions()
        options.maxInFlightBatches = 1
        var cluster = try ScriptedCluster(options: options)
        let first = cluster.deliver(cluster.request(1, 1, put), to: 0)
        #expect(first.sent(.prePrepare).count == 1)
        let second = cluster.deliver(cluster.request(2, 1, put), to: 0)
        #expect(second.sent(.prePrepare).isEmpty, "the pipeline is full: the request waits for a batch")
        let tick = cluster.replicas[0].tick()
        let flushed = try #require(tick.sent(.prePrepare).first)
        guard case .prePrepare(let prePrepare) = flushed.envelope.message else { return }
        #expect(prePrepare.sequence == 2)
        #expect(prePrepare.batch.count == 1)
    }

    @Test("checkpoint stability and truncation: 2f+1 matching checkpoints move h and drop the log below it")
    func checkpointStability() throws {
        var options = ReplicaOptions()
        options.checkpointInterval = 2
        options.logWindow = 4
        var cluster = try ScriptedCluster(options: options)
        _ = commitSlot(&cluster, 1, [cluster.request(1, 1, put)])
        let effects = commitSlot(&cluster, 2, [cluster.request(2, 1, put)])
        let own = try #require(effects.sent(.checkpoint).first?.envelope)
        guard case .checkpoint(let checkpoint) = own.message else { return }
        #expect(checkpoint.sequence == 2)
        #expect(cluster.replicas[1].status.logEntries == 2)
        // A slot above H is refused before the checkpoint is stable…
        let beyond = cluster.prePrepare(sequence: 5, batch: [cluster.request(1, 2, put)])
        #expect(cluster.deliver(beyond, to: 1).rejections == [.outsideWatermarks])
        // …a wrong digest does not count, two matching ones from others do.
        _ = cluster.deliver(cluster.signed(.checkpoint(Checkpoint(sequence: 2, stateDigest: .zero)), by: 0), to: 1)
        #expect(cluster.replicas[1].lowWatermark == 0)
        _ = cluster.deliver(cluster.signed(.checkpoint(checkpoint), by: 2), to: 1)
        #expect(cluster.replicas[1].lowWatermark == 0, "own and replica 2's make 2 of the 3 needed")
        let stable = cluster.deliver(cluster.signed(.checkpoint(checkpoint), by: 3), to: 1)
        #expect(stable.events.contains(.checkpointStable(sequence: 2, stateDigest: checkpoint.stateDigest)))
        #expect(cluster.replicas[1].lowWatermark == 2)
        #expect(cluster.replicas[1].status.logEntries == 0)
        #expect(cluster.replicas[1].stableProof.map(\.sender) == [.replica(1), .replica(2), .replica(3)])
    }

    @Test("a checkpoint not at a multiple of K is rejected")
    func misalignedCheckpoint() throws {
        var cluster = try ScriptedCluster()
        let bad = cluster.signed(.checkpoint(Checkpoint(sequence: 5, stateDigest: .zero)), by: 2)
        #expect(cluster.deliver(bad, to: 1).rejections == [.misalignedCheckpoint])
    }
}
