import BFTCore

/// Random but seeded messages of every kind, for property-style round trips and for mutation inputs.
struct MessageGenerator {
    var random: SeededRandom

    init(seed: UInt64) { random = SeededRandom(seed: seed) }

    mutating func u64() -> UInt64 {
        // Mix small values (where off-by-one bugs live) with full-width ones.
        random.next() % 4 == 0 ? random.next() % 4 : random.next()
    }

    mutating func bytes(max: Int) -> [UInt8] {
        let count = Int(random.next() % UInt64(max + 1))
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    }

    mutating func digest() -> Digest { Digest(words: (u64(), u64(), u64(), u64())) }

    mutating func signature() -> Signature {
        Signature(checked: (0..<Signature.byteCount).map { _ in UInt8(truncatingIfNeeded: random.next()) })
    }

    mutating func replica() -> Principal { .replica(ReplicaID(UInt32(truncatingIfNeeded: u64()))) }

    mutating func envelope(_ message: Message) -> Envelope {
        let sender: Principal = message.kind.isFromClient ? .client(ClientID(u64())) : replica()
        return Envelope(unverified: message, from: sender, signature: signature())
    }

    mutating func count(_ max: Int) -> Int { Int(random.next() % UInt64(max + 1)) }

    mutating func request() -> Request {
        Request(
            timestamp: Timestamp(u64()), operation: bytes(max: 40), readOnly: random.next() % 2 == 0,
            clientKey: random.next() % 2 == 0 ? nil : PublicKey(bytes: (0..<32).map { _ in UInt8(truncatingIfNeeded: u64()) }))
    }

    mutating func prePrepare(maxBatch: Int = 3) -> PrePrepare {
        let batch = (0..<count(maxBatch)).map { _ in envelope(.request(request())) }
        return PrePrepare(
            view: ViewNumber(u64()), sequence: SequenceNumber(u64()), digest: digest(), batch: batch,
            history: random.next() % 2 == 0 ? .zero : digest())
    }

    mutating func certificate() -> PreparedCertificate {
        PreparedCertificate(
            prePrepare: envelope(.prePrepare(prePrepare(maxBatch: 2))),
            prepares: (0..<count(3)).map { _ in
                envelope(.prepare(Prepare(view: ViewNumber(u64()), sequence: .init(u64()), digest: digest())))
            })
    }

    mutating func viewChange() -> ViewChange {
        ViewChange(
            newView: ViewNumber(u64()), stableSequence: SequenceNumber(u64()),
            checkpointProof: (0..<count(3)).map { _ in
                envelope(.checkpoint(Checkpoint(sequence: .init(u64()), stateDigest: digest(), history: digest())))
            },
            prepared: (0..<count(2)).map { _ in certificate() },
            certificate: (0..<count(3)).map { _ in envelope(historyVote()) })
    }

    mutating func historyVote() -> Message {
        .historyVote(HistoryVote(view: ViewNumber(u64()), sequence: .init(u64()), history: digest()))
    }

    mutating func specResponse() -> Message {
        .specResponse(SpecResponse(
            view: ViewNumber(u64()), sequence: .init(u64()), history: digest(), timestamp: Timestamp(u64()),
            client: ClientID(u64()), result: bytes(max: 40), vote: u64() % 2 == 0 ? envelope(historyVote()) : nil))
    }

    mutating func message(_ kind: MessageKind) -> Message {
        switch kind {
        case .request: .request(request())
        case .prePrepare: .prePrepare(prePrepare())
        case .prepare: .prepare(Prepare(view: ViewNumber(u64()), sequence: .init(u64()), digest: digest()))
        case .commit: .commit(Commit(view: ViewNumber(u64()), sequence: .init(u64()), digest: digest()))
        case .reply: .reply(Reply(
            view: ViewNumber(u64()), timestamp: Timestamp(u64()), client: ClientID(u64()), result: bytes(max: 40)))
        case .checkpoint: .checkpoint(Checkpoint(sequence: SequenceNumber(u64()), stateDigest: digest()))
        case .viewChange: .viewChange(viewChange())
        case .newView:
            .newView(
                NewView(
                    view: ViewNumber(u64()),
                    viewChanges: (0..<count(2)).map { _ in envelope(.viewChange(viewChange())) },
                    prePrepares: (0..<count(2)).map { _ in envelope(.prePrepare(prePrepare(maxBatch: 1))) }))
        case .stateRequest:
            .stateRequest(
                StateRequest(sequence: .init(u64()), stateDigest: digest(), chunkIndex: UInt32(truncatingIfNeeded: u64())))
        case .stateChunk:
            chunk()
        case .status:
            .status(Status(view: ViewNumber(u64()), lastExecuted: .init(u64()), stableSequence: .init(u64())))
        case .specResponse: specResponse()
        case .commitCertificate:
            .commitCertificate(CommitCertificate(responses: (0..<count(3)).map { _ in
                envelope(random.next() % 2 == 0 ? specResponse() : historyVote())
            }))
        case .localCommit:
            .localCommit(LocalCommit(
                view: ViewNumber(u64()), sequence: .init(u64()), history: digest(), timestamp: Timestamp(u64()),
                client: ClientID(u64())))
        case .fillHole: .fillHole(FillHole(view: ViewNumber(u64()), from: .init(u64()), to: .init(u64())))
        case .misbehaviourProof:
            .misbehaviourProof(MisbehaviourProof(
                first: envelope(.prePrepare(prePrepare(maxBatch: 1))), second: envelope(.prePrepare(prePrepare(maxBatch: 1)))))
        case .hateThePrimary: .hateThePrimary(HateThePrimary(view: ViewNumber(u64())))
        case .historyVote: historyVote()
        }
    }

    private mutating func chunk() -> Message {
        let total = UInt32(truncatingIfNeeded: random.next() % 1000) + 1
        return .stateChunk(
            StateChunk(
                sequence: .init(u64()), stateDigest: digest(), chunkIndex: UInt32(random.next() % UInt64(total)),
                chunkCount: total, data: bytes(max: 100)))
    }

    mutating func anyEnvelope() -> Envelope {
        let kinds = MessageKind.allCases
        return envelope(message(kinds[Int(random.next() % UInt64(kinds.count))]))
    }
}
