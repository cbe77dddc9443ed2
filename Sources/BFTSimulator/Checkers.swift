import BFTCore
import BFTKeyValue

/// The invariants of ../shared/PROTOCOL.md, checked over what the correct replicas reported and what the
/// clients saw. Byzantine replicas are left out: nothing they claim is evidence.
struct Checkers {
    let simulation: Simulation

    func check() -> [Violation] {
        var found: [Violation] = []
        found += agreement()
        found += integrity()
        found += validity()
        found += checkpointAgreement()
        found += linearizability()
        found += noRollback()
        if simulation.options.checkLiveness { found += liveness() + durability() }
        return found
    }

    private var correctLogs: [(ReplicaID, ReplicaLog)] {
        simulation.correctReplicas.map { ($0, simulation.logs[Int($0.rawValue)]) }
    }

    /// 1. No two correct replicas commit or execute different batches (or get different results) at one sequence
    /// number. Under the speculative protocol execution is final only up to what a replica saw committed (its
    /// stable checkpoints); above that correct replicas may hold different speculative histories.
    func agreement() -> [Violation] {
        var executed: [SequenceNumber: (ReplicaID, Digest, [ExecutedRequest])] = [:]
        var committed: [SequenceNumber: (ReplicaID, Digest)] = [:]
        var found: [Violation] = []
        let speculative = simulation.options.replication == .zyzzyva
        for (replica, log) in correctLogs {
            let final = speculative ? (log.committed.keys.max() ?? 0) : SequenceNumber(UInt64.max)
            for entry in log.executed where entry.sequence <= final {
                // Results too: the same request at the same place in the order must give the same result on every
                // correct replica, or some replica's state diverged (a corrupt state transfer, say).
                let keys = entry.requests
                if let (other, digest, requests) = executed[entry.sequence] {
                    if digest != entry.batch || requests != keys {
                        found.append(Violation(invariant: .agreement, detail:
                            "\(replica) and \(other) executed different batches at \(entry.sequence)"))
                    }
                } else {
                    executed[entry.sequence] = (replica, entry.batch, keys)
                }
            }
            for sequence in log.committed.keys.sorted() {
                guard let digest = log.committed[sequence] else { continue }
                if let (other, first) = committed[sequence], first != digest {
                    found.append(Violation(invariant: .agreement, detail:
                        "\(replica) and \(other) committed different digests at \(sequence)"))
                } else if committed[sequence] == nil {
                    committed[sequence] = (replica, digest)
                }
            }
        }
        return found
    }

    /// 2. A correct replica executes each slot once, in order, and each request at most once.
    func integrity() -> [Violation] {
        var found: [Violation] = []
        for (replica, log) in correctLogs {
            var expected: UInt64 = 1
            var seen: Set<ClientTimestamp> = []
            for (index, entry) in log.executed.enumerated() {
                if let resume = log.resumes[index] {
                    expected = resume.next
                    if resume.fresh { seen = [] }
                }
                if entry.sequence.rawValue != expected {
                    found.append(Violation(invariant: .integrity, detail:
                        "\(replica) executed \(entry.sequence) when \(expected) was next"))
                }
                expected = entry.sequence.rawValue + 1
                for request in entry.requests {
                    if !seen.insert(ClientTimestamp(request.client, request.timestamp)).inserted {
                        found.append(Violation(invariant: .integrity, detail:
                            "\(replica) executed \(request.client) \(request.timestamp) twice"))
                    }
                }
            }
        }
        return found
    }

    /// 3. Only requests that clients issued are executed.
    func validity() -> [Violation] {
        var issued: [ClientTimestamp: Digest] = [:]
        for operation in simulation.history {
            issued[ClientTimestamp(operation.client, operation.timestamp)] = operation.operationDigest
        }
        // Faulty clients issue requests too: the validly signed ones they sent count as issued.
        for (key, digest) in simulation.issuedByFaultyClients { issued[key] = digest }
        var found: [Violation] = []
        for (replica, log) in correctLogs {
            for entry in log.executed {
                for request in entry.requests {
                    let key = ClientTimestamp(request.client, request.timestamp)
                    if issued[key] != simulation.checkerSuite.digest(request.operation) {
                        found.append(Violation(invariant: .validity, detail:
                            "\(replica) executed \(request.client) \(request.timestamp) at \(entry.sequence), "
                            + "which that client never issued"))
                    }
                }
            }
        }
        return found
    }

    /// 6. Stable checkpoints at one sequence number have one digest on all correct replicas.
    func checkpointAgreement() -> [Violation] {
        var digests: [SequenceNumber: (ReplicaID, Digest)] = [:]
        var found: [Violation] = []
        for (replica, log) in correctLogs {
            for (sequence, digest) in log.stableCheckpoints {
                if let (other, first) = digests[sequence], first != digest {
                    found.append(Violation(invariant: .checkpointAgreement, detail:
                        "\(replica) and \(other) hold different stable checkpoints at \(sequence)"))
                } else {
                    digests[sequence] = (replica, digest)
                }
            }
        }
        return found
    }

    /// 4. Linearizability, with the agreed order as the witness: replaying the issued commands on a sequential
    /// key-value model in the order the correct replicas executed them must give every result a client accepted,
    /// and that order must respect real time (an operation that completed before another was invoked comes first).
    /// Passing proves the history linearizable; a failure means a client saw something the agreed order did not
    /// produce, which invariant 4 forbids even if some other order could explain it.
    func linearizability() -> [Violation] {
        // Per sequence number, what most correct replicas executed (all of them, under PBFT; under the speculative
        // protocol a replica may end on a speculative branch that the others left).
        var votes: [UInt64: [(requests: [ExecutedRequest], count: Int)]] = [:]
        for (_, log) in correctLogs {
            for entry in log.executed {
                var options = votes[entry.sequence.rawValue] ?? []
                if let index = options.firstIndex(where: { $0.requests == entry.requests }) {
                    options[index].count += 1
                } else {
                    options.append((entry.requests, 1))
                }
                votes[entry.sequence.rawValue] = options
            }
        }
        var agreed: [UInt64: [ExecutedRequest]] = [:]
        for (sequence, options) in votes {
            agreed[sequence] = options.max { $0.count < $1.count }?.requests
        }
        var operations: [ClientTimestamp: Int] = [:]
        for (index, operation) in simulation.history.enumerated() {
            operations[ClientTimestamp(operation.client, operation.timestamp)] = index
        }
        var model = KeyValueStore()
        var position: [Int: Int] = [:]
        var expected: [Int: [UInt8]] = [:]
        for request in agreed.keys.sorted().flatMap({ agreed[$0] ?? [] }) {
            guard let index = operations[ClientTimestamp(request.client, request.timestamp)] else { continue }
            position[index] = position.count
            expected[index] = model.execute(simulation.history[index].command).encoded()
        }
        var found: [Violation] = []
        for (index, operation) in simulation.history.enumerated() {
            guard let result = operation.result else { continue }
            guard let agreed = expected[index] else {
                found.append(Violation(invariant: .linearizability, detail:
                    "\(operation.client) \(operation.timestamp) completed but no correct replica executed it"))
                continue
            }
            if agreed != result {
                found.append(Violation(invariant: .linearizability, detail:
                    "\(operation.client) \(operation.timestamp) \(operation.command) returned "
                    + "\(describe(result)) but the agreed order gives \(describe(agreed))"))
            }
        }
        // Real time: walk the agreed order backwards, keeping the earliest completion among later operations.
        let ordered = position.sorted { $0.value < $1.value }.map(\.key)
        var earliestLaterCompletion = UInt64.max
        var earliestLater = -1
        for index in ordered.reversed() {
            let operation = simulation.history[index]
            if earliestLaterCompletion < operation.invoked {
                let later = simulation.history[earliestLater]
                found.append(Violation(invariant: .linearizability, detail:
                    "\(later.client) \(later.timestamp) completed before \(operation.client) \(operation.timestamp) "
                    + "was invoked, yet is ordered after it"))
            }
            if let completed = operation.completed, completed < earliestLaterCompletion {
                earliestLaterCompletion = completed
                earliestLater = index
            }
        }
        return found
    }

    /// 7. Every request completes within the bound after the network heals.
    func liveness() -> [Violation] {
        let options = simulation.options
        let expected = options.clients * options.requestsPerClient
        let completed = simulation.history.filter { $0.completed != nil }.count
        guard completed < expected else { return [] }
        let stuck = simulation.history.first { $0.completed == nil }
        return [Violation(invariant: .liveness, detail:
            "\(completed) of \(expected) requests completed within \(options.livenessBound / 1000) ms after the "
            + "heal at \(options.healTime / 1000) ms" + (stuck.map { "; first stuck: \($0.client) \($0.timestamp)" } ?? ""))]
    }

    /// Every completed operation lies at or below the last executed sequence number, at the end of the run, of
    /// all correct replicas but at most f (PBFT lets f correct replicas lag, see `Simulation.caughtUp`): no
    /// crash, restart or state transfer lost it.
    func durability() -> [Violation] {
        var sequenceOf: [ClientTimestamp: SequenceNumber] = [:]
        for (_, log) in correctLogs {
            for entry in log.executed {
                for request in entry.requests { sequenceOf[ClientTimestamp(request.client, request.timestamp)] = entry.sequence }
            }
        }
        var highest = SequenceNumber(0)
        for operation in simulation.history where operation.completed != nil {
            highest = max(highest, sequenceOf[ClientTimestamp(operation.client, operation.timestamp)] ?? 0)
        }
        let behind = simulation.correctReplicas.filter { simulation.status(of: $0).lastExecuted < highest }
        guard behind.count > simulation.configuration.faultTolerance else { return [] }
        return [Violation(invariant: .durability, detail:
            "\(behind.map(\.description).joined(separator: ", ")) end below \(highest), where a completed operation "
            + "was executed")]
    }

    private func describe(_ result: [UInt8]) -> String {
        KeyValueResult.decode(result).map { "\($0)" } ?? "\(result.count) undecodable bytes"
    }
}

struct ClientTimestamp: Hashable {
    let client: ClientID
    let timestamp: Timestamp
    init(_ client: ClientID, _ timestamp: Timestamp) {
        self.client = client
        self.timestamp = timestamp
    }
}
