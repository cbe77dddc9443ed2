import ArgumentParser
import BFTCore
import BFTCrypto
import BFTKeyValue
import BFTSimulator
import BFTStorage
import Foundation

/// The costs below the network: crypto calls as the engine makes them, the codec on a full batch, and the core
/// running one normal-case round of four replicas with simulated crypto (so only the engine's own work shows).
struct MicroBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "micro",
        abstract: "Per-call costs: crypto, encode/decode of a 64-request batch, one normal-case round of the core.",
        discussion: """
            Each figure is the best of --rounds rounds. The core round: 64 clients each send one null request to \
            the primary of four in-memory replicas (SimulatedCrypto, KeyValueStore), the primary cuts them into \
            one batch, and pre-prepare, prepares and commits are delivered until every replica executed all 64; \
            no network, no storage. The log rows append one signed prepare to a LogFileStore in the temporary \
            directory (the disk the bench's replicas use), with and without its fdatasync: a replica makes such an \
            append before each message it sends. Build with -c release: swift run -c release bftbench micro
            """
    )

    @Option(help: "Rounds per figure; the best is reported.") var rounds = 5
    @Option(help: "Requests per batch in the codec and core figures.") var batch = 64

    func validate() throws {
        guard rounds > 0, (1...1024).contains(batch) else { throw ValidationError("rounds > 0, batch in 1…1024") }
    }

    func run() throws {
        #if DEBUG
            let build = "debug (not representative: use -c release)"
        #else
            let build = "release"
        #endif
        print("bftbench micro")
        print("settings: build=\(build) rounds=\(rounds) batch=\(batch) replicas=4")
        print("operation".padded(48) + "µs per call")
        for (name, measure) in try cryptoRows() + codecRows() + storageRows() {
            print(name.padded(48) + format(best(measure) / 1000))
        }
        let core = best {
            var round = CoreRound(batch: batch)
            return round.nanosecondsPerRound(rounds: 20)
        }
        print("core round, \(batch) requests, 4 replicas".padded(48) + format(core / 1000)
            + "  (\(format(core / 1000 / Double(batch))) per request)")
    }

    /// One signed prepare appended per call, synced (`--sync batch`, the default) or not (`--sync none`).
    private func storageRows() throws -> [(String, () -> Double)] {
        let signer = Ed25519Signer()
        let vote = DurableRecord.vote(
            Envelope(signing: .prepare(Prepare(view: 0, sequence: 1, digest: .zero)), from: .replica(1), with: signer))
        return try [SyncMode.batch, .none].map { mode in
            let path = NSTemporaryDirectory() + "bftbench-micro-\(UUID().uuidString).log"
            let store = try LogFileStore(path: path, sync: mode)
            let name = "log append of one prepare, " + (mode == .none ? "no sync" : "fdatasync")
            return (name, {
                var failed = false
                return timed(200) { _ in
                    do { try store.persist([vote]) } catch { failed = true }
                } finally: {
                    try? FileManager.default.removeItem(atPath: path)
                    if failed { print("(a log append failed: the figure is not valid)") }
                }
            })
        }
    }

    private func best(_ measure: () -> Double) -> Double { (0..<rounds).map { _ in measure() }.min() ?? 0 }

    private func cryptoRows() -> [(String, () -> Double)] {
        let client = Ed25519Signer()
        let replicas = (0..<4).map { _ in Ed25519Signer() }
        let keys = replicas.compactMap { client.sessionKey(with: $0.publicKey) }
        let request = Message.request(Request(timestamp: 1, operation: KeyValueCommand.null(payload: [], replyBytes: 0).encoded()))
        let signed = Envelope(signing: request, from: .client(1), with: client)
        let suite = SodiumCryptoSuite()
        var sink: UInt8 = 0
        return [
            ("ed25519 sign a request", { timed(2000) { _ in sink ^= client.sign(signed.signedBytes).bytes[0] } finally: {} }),
            ("ed25519 verify a request", {
                timed(2000) { _ in sink ^= signed.verify(with: suite, key: client.publicKey) ? 1 : 0 } finally: {}
            }),
            ("x25519 session key agreement", {
                timed(500) { _ in sink ^= client.sessionKey(with: replicas[0].publicKey) == nil ? 1 : 0 } finally: {}
            }),
            ("MAC authenticator for 4 replicas (request)", {
                timed(50_000) { _ in
                    sink ^= Envelope(authenticating: request, from: .client(1), keys: keys).signedBytes[0]
                } finally: {}
            }),
            ("verify one authenticator entry", {
                let sealed = Envelope(authenticating: request, from: .client(1), keys: keys)
                return timed(100_000) { _ in sink ^= sealed.verifyMAC(at: 1, key: keys[1]) ? 1 : 0 } finally: {
                    blackHole(sink)
                }
            }),
            ("sha-256 of a request", { timed(100_000) { _ in sink ^= suite.digest(signed.signedBytes).bytes[0] } finally: {} }),
        ]
    }

    private func codecRows() -> [(String, () -> Double)] {
        let replica = Ed25519Signer()
        let client = Ed25519Signer()
        let keys = (0..<4).compactMap { _ in client.sessionKey(with: Ed25519Signer().publicKey) }
        let operation = KeyValueCommand.null(payload: [], replyBytes: 0).encoded()
        func prePrepare(macs: Bool) -> Envelope {
            let requests = (0..<batch).map { index in
                let message = Message.request(Request(timestamp: Timestamp(UInt64(index + 1)), operation: operation))
                return macs
                    ? Envelope(authenticating: message, from: .client(ClientID(UInt64(index))), keys: keys)
                    : Envelope(signing: message, from: .client(ClientID(UInt64(index))), with: client)
            }
            let digest = Replica.batchDigest(requests, suite: SodiumCryptoSuite())
            return Envelope(signing: .prePrepare(PrePrepare(view: 0, sequence: 1, digest: digest, batch: requests)),
                            from: .replica(0), with: replica)
        }
        var rows: [(String, () -> Double)] = []
        for macs in [false, true] {
            let envelope = prePrepare(macs: macs)
            let frame = envelope.encoded
            let kind = macs ? "MAC" : "signed"
            rows.append(("encode pre-prepare, \(batch) \(kind) requests", {
                var sink = 0
                return timed(2000) { _ in
                    sink &+= WireFormat.signedPortion(sender: envelope.sender, message: envelope.message).count
                } finally: { blackHole(UInt8(truncatingIfNeeded: sink)) }
            }))
            rows.append(("decode pre-prepare, \(batch) \(kind) requests (\(frame.count) B)", {
                var sink = 0
                return timed(2000) { _ in sink &+= (try? Envelope.decode(frame))?.signedBytes.count ?? 0 } finally: {
                    blackHole(UInt8(truncatingIfNeeded: sink))
                }
            }))
        }
        // What a Zyzzyva client decodes four times per request when replies are MAC'd.
        let vote = Envelope(
            signing: .historyVote(HistoryVote(view: 0, sequence: 1, history: .zero)), from: .replica(1), with: replica)
        let response = Envelope(
            authenticating: .specResponse(SpecResponse(
                view: 0, sequence: 1, history: .zero, timestamp: 1, client: 1, result: [], vote: vote)),
            from: .replica(1), keys: [keys[0]])
        let responseFrame = response.encoded
        rows.append(("decode a MAC spec-response with its vote (\(responseFrame.count) B)", {
            var sink = 0
            return timed(100_000) { _ in sink &+= (try? Envelope.decode(responseFrame))?.signedBytes.count ?? 0 } finally: {
                blackHole(UInt8(truncatingIfNeeded: sink))
            }
        }))
        return rows
    }
}

/// Four in-memory replicas and `batch` clients, run through normal-case rounds by hand.
struct CoreRound {
    let batch: Int
    var replicas: [Replica] = []
    var clients: [SimulatedSigner] = []
    var timestamp: UInt64 = 0
    let operation = KeyValueCommand.null(payload: [], replyBytes: 0).encoded()

    init(batch: Int) {
        self.batch = batch
        let registry = SimulatedKeyRegistry()
        let suite = SimulatedCrypto(registry: registry)
        let signers = (0..<4).map { registry.signer(secret: 1000 + UInt64($0)) }
        clients = (0..<batch).map { registry.signer(secret: 5000 + UInt64($0)) }
        var clientKeys: [ClientID: PublicKey] = [:]
        for (index, client) in clients.enumerated() { clientKeys[ClientID(UInt64(index))] = client.publicKey }
        let directory = KeyDirectory(replicas: signers.map(\.publicKey), clients: clientKeys)
        var options = ReplicaOptions()
        options.cutBatchesAtTurnEnd = true
        options.maxBatchRequests = batch
        let configuration: Configuration
        do { configuration = try Configuration(replicas: 4) } catch { preconditionFailure("n = 4 is valid") }
        replicas = (0..<4).map { index in
            Replica(
                id: ReplicaID(UInt32(index)), configuration: configuration, options: options, directory: directory,
                suite: suite, signer: signers[index], application: KeyValueStore())
        }
    }

    /// Runs `rounds` rounds and returns nanoseconds per round; traps if a round does not execute every request.
    mutating func nanosecondsPerRound(rounds: Int) -> Double {
        timed(UInt64(rounds)) { _ in round() } finally: {}
    }

    private mutating func round() {
        timestamp += 1
        for (index, client) in clients.enumerated() {
            let request = Envelope(
                signing: .request(Request(timestamp: Timestamp(timestamp), operation: operation)),
                from: .client(ClientID(UInt64(index))), with: client)
            _ = replicas[0].receive(request)
        }
        var queue: [(Envelope, Destination)] = replicas[0].endOfTurn().messages.map { ($0.envelope, $0.destination) }
        var executed = 0
        var head = 0
        while head < queue.count, head < 100_000 {
            let (envelope, destination) = queue[head]
            head += 1
            let targets: [Int] =
                switch destination {
                case .allReplicas: (0..<4).filter { .replica(ReplicaID(UInt32($0))) != envelope.sender }
                case .replica(let id): [Int(id.rawValue)]
                case .client: []
                }
            if case .client = destination { executed += 1 }
            for target in targets {
                queue += replicas[target].receive(envelope).messages.map { ($0.envelope, $0.destination) }
            }
        }
        precondition(executed == 4 * batch, "a core round executed \(executed) of \(4 * batch) replies")
    }
}
