/// The one canonical binary encoding of every message. Every value has exactly one encoding, and the decoder
/// rejects anything else (unknown tags, booleans other than 0 and 1, a sender of the wrong kind, trailing bytes),
/// so equal messages have equal bytes and a signature over bytes is a signature over the message.
///
/// Integers are big-endian and fixed-width; `digest` is 32 bytes; `signature` is 64 bytes; `mac` is 16 bytes.
///
///     frame         := envelope
///     envelope      := version:u8 (= 1) | sender | payload | signature        signed: all but the signature
///                    | version:u8 (= 2) | sender | payload | count:u8 | count × mac
///                          (an authenticator: only client traffic in MAC mode: requests, replies, spec-responses,
///                           commit certificates and local-commits)
///     sender        := 0x00 replica:u32 | 0x01 client:u64
///     bytes         := length:u32 | length bytes
///     list<T>       := count:u32 | count × T
///     nested<K>     := length:u32 | envelope whose payload is a K            (a signed message inside another)
///     bool          := 0x00 | 0x01
///
///     payload       := tag:u8 | fields
///     request       :=  1 | timestamp:u64 | readOnly:bool | operation:bytes | clientKey   sent by a client
///     clientKey     := 0x00 | 0x01 key:32 bytes                  (only for a self-certifying client id)
///     pre-prepare   :=  2 | view:u64 | sequence:u64 | digest | batch:list<nested<request>> | history:digest
///     prepare       :=  3 | view:u64 | sequence:u64 | digest
///     commit        :=  4 | view:u64 | sequence:u64 | digest
///     reply         :=  5 | view:u64 | timestamp:u64 | client:u64 | result:bytes
///     checkpoint    :=  6 | sequence:u64 | stateDigest:digest | history:digest
///     view-change   :=  7 | newView:u64 | stableSequence:u64 | proof:list<nested<checkpoint>>
///                         | prepared:list<certificate> | commitCertificate:list<nested<vote>>
///     certificate   := prePrepare:nested<pre-prepare> | prepares:list<nested<prepare>>
///     new-view      :=  8 | view:u64 | viewChanges:list<nested<view-change>> | prePrepares:list<nested<pre-prepare>>
///     state-request :=  9 | sequence:u64 | stateDigest:digest | chunkIndex:u32
///     state-chunk   := 10 | sequence:u64 | stateDigest:digest | chunkIndex:u32 | chunkCount:u32 | data:bytes
///     status        := 11 | view:u64 | lastExecuted:u64 | stableSequence:u64
///     spec-response := 12 | view:u64 | sequence:u64 | history:digest | timestamp:u64 | client:u64 | result:bytes
///                         | vote: 0x00 | 0x01 nested<history-vote>          (the vote only in MAC mode)
///     commit-cert   := 13 | responses:list<nested<vote>> | clientKey                             sent by a client
///     local-commit  := 14 | view:u64 | sequence:u64 | history:digest | timestamp:u64 | client:u64
///     fill-hole     := 15 | view:u64 | from:u64 | to:u64
///     misbehaviour  := 16 | first:nested<pre-prepare> | second:nested<pre-prepare>
///     hate-primary  := 17 | view:u64
///     history-vote  := 18 | view:u64 | sequence:u64 | history:digest
///     vote          := a spec-response or a history-vote
///
/// Requests and commit certificates are signed by clients, every other message by a replica. Nesting is fixed by
/// the grammar (at most new-view → view-change → certificate → pre-prepare → request), so decoding depth is bounded.
public enum WireFormat {
    /// The version byte of a signed envelope.
    public static let version: UInt8 = 1
    /// The version byte of an envelope sealed with a MAC authenticator.
    public static let macVersion: UInt8 = 2
    /// Most entries in an authenticator: one per replica, and a replica id of a configuration fits in it.
    public static let maxAuthenticatorEntries = 255

    /// The smallest possible envelope: version, a replica sender, a tag, a one-entry authenticator.
    static let minimumEnvelopeBytes = 1 + 5 + 1 + 1 + MAC.byteCount
    static let minimumNestedBytes = 4 + minimumEnvelopeBytes

    /// The bytes a seal covers: version, sender, payload.
    public static func signedPortion(sender: Principal, message: Message, version: UInt8 = version) -> [UInt8] {
        var writer = ByteWriter(capacity: 96)
        writer.u8(version)
        writeSender(&writer, sender)
        writeMessage(&writer, message)
        return writer.bytes
    }

    // MARK: Encoding

    static func writeSender(_ writer: inout ByteWriter, _ sender: Principal) {
        switch sender {
        case .replica(let id):
            writer.u8(0)
            writer.u32(id.rawValue)
        case .client(let id):
            writer.u8(1)
            writer.u64(id.rawValue)
        }
    }

    static func writeNested(_ writer: inout ByteWriter, _ envelope: Envelope) {
        writer.u32(UInt32(envelope.signedBytes.count + envelope.seal.encodedCount))
        writer.raw(envelope.signedBytes)
        writer.seal(envelope.seal)
    }

    static func writeMessage(_ writer: inout ByteWriter, _ message: Message) {
        writer.u8(message.kind.rawValue)
        switch message {
        case .request(let m):
            writer.u64(m.timestamp.rawValue)
            writer.bool(m.readOnly)
            writer.byteString(m.operation)
            writeClientKey(&writer, m.clientKey)
        case .prePrepare(let m):
            writer.u64(m.view.rawValue)
            writer.u64(m.sequence.rawValue)
            writer.digest(m.digest)
            writer.list(m.batch, writeNested)
            writer.digest(m.history)
        case .prepare(let m):
            writer.u64(m.view.rawValue)
            writer.u64(m.sequence.rawValue)
            writer.digest(m.digest)
        case .commit(let m):
            writer.u64(m.view.rawValue)
            writer.u64(m.sequence.rawValue)
            writer.digest(m.digest)
        case .reply(let m):
            writer.u64(m.view.rawValue)
            writer.u64(m.timestamp.rawValue)
            writer.u64(m.client.rawValue)
            writer.byteString(m.result)
        case .checkpoint(let m):
            writer.u64(m.sequence.rawValue)
            writer.digest(m.stateDigest)
            writer.digest(m.history)
        case .viewChange(let m):
            writer.u64(m.newView.rawValue)
            writer.u64(m.stableSequence.rawValue)
            writer.list(m.checkpointProof, writeNested)
            writer.list(m.prepared) { writer, certificate in
                writeNested(&writer, certificate.prePrepare)
                writer.list(certificate.prepares, writeNested)
            }
            writer.list(m.certificate, writeNested)
        case .newView(let m):
            writer.u64(m.view.rawValue)
            writer.list(m.viewChanges, writeNested)
            writer.list(m.prePrepares, writeNested)
        case .stateRequest(let m):
            writer.u64(m.sequence.rawValue)
            writer.digest(m.stateDigest)
            writer.u32(m.chunkIndex)
        case .stateChunk(let m):
            writer.u64(m.sequence.rawValue)
            writer.digest(m.stateDigest)
            writer.u32(m.chunkIndex)
            writer.u32(m.chunkCount)
            writer.byteString(m.data)
        case .status(let m):
            writer.u64(m.view.rawValue)
            writer.u64(m.lastExecuted.rawValue)
            writer.u64(m.stableSequence.rawValue)
        case .specResponse(let m):
            writer.u64(m.view.rawValue)
            writer.u64(m.sequence.rawValue)
            writer.digest(m.history)
            writer.u64(m.timestamp.rawValue)
            writer.u64(m.client.rawValue)
            writer.byteString(m.result)
            if let vote = m.vote {
                writer.u8(1)
                writeNested(&writer, vote)
            } else {
                writer.u8(0)
            }
        case .commitCertificate(let m):
            writer.list(m.responses, writeNested)
            writeClientKey(&writer, m.clientKey)
        case .localCommit(let m):
            writer.u64(m.view.rawValue)
            writer.u64(m.sequence.rawValue)
            writer.digest(m.history)
            writer.u64(m.timestamp.rawValue)
            writer.u64(m.client.rawValue)
        case .fillHole(let m):
            writer.u64(m.view.rawValue)
            writer.u64(m.from.rawValue)
            writer.u64(m.to.rawValue)
        case .misbehaviourProof(let m):
            writeNested(&writer, m.first)
            writeNested(&writer, m.second)
        case .hateThePrimary(let m):
            writer.u64(m.view.rawValue)
        case .historyVote(let m):
            writer.u64(m.view.rawValue)
            writer.u64(m.sequence.rawValue)
            writer.digest(m.history)
        }
    }

    // MARK: Decoding

    /// Reads one envelope that fills the rest of `reader`. With `expecting`, the payload must be that kind; the tag
    /// is checked before the payload is decoded, which bounds nesting.
    static func readEnvelope(
        _ reader: inout ByteReader, expecting: [MessageKind]?, limits: CodecLimits
    ) throws(DecodeError) -> Envelope {
        let start = reader.offset
        let version = try reader.u8()
        guard version == Self.version || version == Self.macVersion else { throw .unsupportedVersion(version) }
        let sender = try readSender(&reader)
        let message = try readMessage(&reader, expecting: expecting, limits: limits)
        let isClientMessage = message.kind.isFromClient
        guard isClientMessage == (sender.clientID != nil) else { throw .senderKindMismatch(message.kind) }
        let signedEnd = reader.offset
        let seal = version == Self.version ? try readSignature(&reader) : try readAuthenticator(&reader, message.kind)
        return Envelope(
            sender: sender, message: message, seal: seal,
            signedBytes: try signedBytes(of: reader, from: start, to: signedEnd))
    }

    private static func readSignature(_ reader: inout ByteReader) throws(DecodeError) -> Seal {
        guard reader.remaining == Signature.byteCount else {
            if reader.remaining < Signature.byteCount {
                throw .truncated(needed: Signature.byteCount, remaining: reader.remaining)
            }
            throw .trailingBytes(reader.remaining - Signature.byteCount)
        }
        return .signature(Signature(checked: Array(try reader.raw(Signature.byteCount))))
    }

    /// Only client traffic may carry an authenticator: everything else must be checkable by third parties.
    private static func readAuthenticator(_ reader: inout ByteReader, _ kind: MessageKind) throws(DecodeError) -> Seal {
        guard [.request, .reply, .specResponse, .commitCertificate, .localCommit].contains(kind) else {
            throw .unsupportedVersion(macVersion)
        }
        let count = Int(try reader.u8())
        guard count >= 1 else { throw .invalidValue(field: "authenticator entries", value: 0) }
        let needed = count * MAC.byteCount
        guard reader.remaining == needed else {
            if reader.remaining < needed { throw .truncated(needed: needed, remaining: reader.remaining) }
            throw .trailingBytes(reader.remaining - needed)
        }
        var macs: [MAC] = []
        macs.reserveCapacity(count)
        for _ in 0..<count {
            macs.append(MAC(checked: try reader.raw(MAC.byteCount)))
        }
        return .authenticator(macs)
    }

    static func writeClientKey(_ writer: inout ByteWriter, _ key: PublicKey?) {
        if let key {
            writer.u8(1)
            writer.raw(key.bytes)
        } else {
            writer.u8(0)
        }
    }

    static func readClientKey(_ reader: inout ByteReader) throws(DecodeError) -> PublicKey? {
        guard try reader.bool("hasClientKey") else { return nil }
        return PublicKey(bytes: Array(try reader.raw(PublicKey.byteCount)))
    }

    private static func signedBytes(of reader: ByteReader, from start: Int, to end: Int) throws(DecodeError) -> [UInt8]
    {
        var copy = reader
        copy.rewind(to: start)
        return Array(try copy.raw(end - start))
    }

    static func readNested(
        _ reader: inout ByteReader, _ kind: MessageKind, limits: CodecLimits
    ) throws(DecodeError) -> Envelope {
        try readNested(&reader, [kind], limits: limits)
    }

    static func readNested(
        _ reader: inout ByteReader, _ kinds: [MessageKind], limits: CodecLimits
    ) throws(DecodeError) -> Envelope {
        let length = Int(try reader.u32())
        var inner = ByteReader(try reader.raw(length))
        return try readEnvelope(&inner, expecting: kinds, limits: limits)
    }

    static func readSender(_ reader: inout ByteReader) throws(DecodeError) -> Principal {
        switch try reader.u8() {
        case 0: .replica(ReplicaID(try reader.u32()))
        case 1: .client(ClientID(try reader.u64()))
        case let other: throw .unknownTag(other, context: "sender")
        }
    }

    static func readMessage(
        _ reader: inout ByteReader, expecting: [MessageKind]?, limits: CodecLimits
    ) throws(DecodeError) -> Message {
        let tag = try reader.u8()
        guard let kind = MessageKind(rawValue: tag) else { throw .unknownTag(tag, context: "message") }
        if let expecting, let first = expecting.first, !expecting.contains(kind) {
            throw .unexpectedMessage(expected: first, found: kind)
        }
        switch kind {
        case .request:
            let timestamp = Timestamp(try reader.u64())
            let readOnly = try reader.bool("readOnly")
            let operation = try reader.byteString("operation", limit: limits.maxByteString)
            let clientKey = try readClientKey(&reader)
            return .request(Request(timestamp: timestamp, operation: operation, readOnly: readOnly, clientKey: clientKey))
        case .prePrepare:
            return .prePrepare(try readPrePrepare(&reader, limits: limits))
        case .prepare:
            return .prepare(Prepare(view: ViewNumber(try reader.u64()), sequence: .init(try reader.u64()),
                                    digest: try reader.digest()))
        case .commit:
            return .commit(Commit(view: ViewNumber(try reader.u64()), sequence: .init(try reader.u64()),
                                  digest: try reader.digest()))
        case .reply:
            let view = ViewNumber(try reader.u64())
            let timestamp = Timestamp(try reader.u64())
            let client = ClientID(try reader.u64())
            let result = try reader.byteString("result", limit: limits.maxByteString)
            return .reply(Reply(view: view, timestamp: timestamp, client: client, result: result))
        case .checkpoint:
            return .checkpoint(Checkpoint(sequence: SequenceNumber(try reader.u64()), stateDigest: try reader.digest(),
                                          history: try reader.digest()))
        case .viewChange:
            return .viewChange(try readViewChange(&reader, limits: limits))
        case .newView:
            let view = ViewNumber(try reader.u64())
            let viewChanges = try readNestedList(&reader, "viewChanges", .viewChange, limits: limits)
            let prePrepares = try readNestedList(&reader, "prePrepares", .prePrepare, limits: limits)
            return .newView(NewView(view: view, viewChanges: viewChanges, prePrepares: prePrepares))
        case .stateRequest:
            return .stateRequest(StateRequest(sequence: SequenceNumber(try reader.u64()),
                                              stateDigest: try reader.digest(), chunkIndex: try reader.u32()))
        case .stateChunk:
            let sequence = SequenceNumber(try reader.u64())
            let stateDigest = try reader.digest()
            let index = try reader.u32()
            let count = try reader.u32()
            guard index < count else { throw .invalidValue(field: "chunkIndex", value: UInt64(index)) }
            let data = try reader.byteString("data", limit: limits.maxByteString)
            return .stateChunk(StateChunk(sequence: sequence, stateDigest: stateDigest, chunkIndex: index,
                                          chunkCount: count, data: data))
        case .status:
            return .status(Status(view: ViewNumber(try reader.u64()), lastExecuted: .init(try reader.u64()),
                                  stableSequence: .init(try reader.u64())))
        default:
            return try readSpeculativeMessage(&reader, kind, limits: limits)
        }
    }

    /// The messages only the speculative protocol uses.
    private static func readSpeculativeMessage(
        _ reader: inout ByteReader, _ kind: MessageKind, limits: CodecLimits
    ) throws(DecodeError) -> Message {
        switch kind {
        case .specResponse:
            let view = ViewNumber(try reader.u64())
            let sequence = SequenceNumber(try reader.u64())
            let history = try reader.digest()
            let timestamp = Timestamp(try reader.u64())
            let client = ClientID(try reader.u64())
            let result = try reader.byteString("result", limit: limits.maxByteString)
            let vote = try reader.bool("vote") ? try readNested(&reader, .historyVote, limits: limits) : nil
            return .specResponse(SpecResponse(view: view, sequence: sequence, history: history, timestamp: timestamp,
                                              client: client, result: result, vote: vote))
        case .commitCertificate:
            let votes = try readVotes(&reader, limits: limits)
            return .commitCertificate(CommitCertificate(responses: votes, clientKey: try readClientKey(&reader)))
        case .localCommit:
            return .localCommit(LocalCommit(view: ViewNumber(try reader.u64()), sequence: .init(try reader.u64()),
                                            history: try reader.digest(), timestamp: Timestamp(try reader.u64()),
                                            client: ClientID(try reader.u64())))
        case .fillHole:
            return .fillHole(FillHole(view: ViewNumber(try reader.u64()), from: .init(try reader.u64()),
                                      to: .init(try reader.u64())))
        case .misbehaviourProof:
            let first = try readNested(&reader, .prePrepare, limits: limits)
            let second = try readNested(&reader, .prePrepare, limits: limits)
            return .misbehaviourProof(MisbehaviourProof(first: first, second: second))
        case .hateThePrimary:
            return .hateThePrimary(HateThePrimary(view: ViewNumber(try reader.u64())))
        case .historyVote:
            return .historyVote(HistoryVote(view: ViewNumber(try reader.u64()), sequence: .init(try reader.u64()),
                                            history: try reader.digest()))
        default:
            throw .unknownTag(kind.rawValue, context: "message")
        }
    }

    /// A commit certificate: spec-responses or history votes.
    private static func readVotes(_ reader: inout ByteReader, limits: CodecLimits) throws(DecodeError) -> [Envelope] {
        try reader.list("certificate", limit: limits.maxCertificateEntries, minimumElementBytes: minimumNestedBytes) {
            (reader: inout ByteReader) throws(DecodeError) in
            try readNested(&reader, [.specResponse, .historyVote], limits: limits)
        }
    }

    private static func readPrePrepare(_ reader: inout ByteReader, limits: CodecLimits) throws(DecodeError) -> PrePrepare {
        let view = ViewNumber(try reader.u64())
        let sequence = SequenceNumber(try reader.u64())
        let digest = try reader.digest()
        let batch = try reader.list("batch", limit: limits.maxBatchRequests, minimumElementBytes: minimumNestedBytes) {
            (reader: inout ByteReader) throws(DecodeError) in try readNested(&reader, .request, limits: limits)
        }
        return PrePrepare(view: view, sequence: sequence, digest: digest, batch: batch, history: try reader.digest())
    }

    private static func readViewChange(_ reader: inout ByteReader, limits: CodecLimits) throws(DecodeError) -> ViewChange {
        let newView = ViewNumber(try reader.u64())
        let stable = SequenceNumber(try reader.u64())
        let proof = try readNestedList(&reader, "checkpointProof", .checkpoint, limits: limits)
        let prepared = try reader.list(
            "prepared", limit: limits.maxCertificateEntries, minimumElementBytes: minimumNestedBytes + 4
        ) { (reader: inout ByteReader) throws(DecodeError) in
            let prePrepare = try readNested(&reader, .prePrepare, limits: limits)
            let prepares = try readNestedList(&reader, "prepares", .prepare, limits: limits)
            return PreparedCertificate(prePrepare: prePrepare, prepares: prepares)
        }
        return ViewChange(newView: newView, stableSequence: stable, checkpointProof: proof, prepared: prepared,
                          certificate: try readVotes(&reader, limits: limits))
    }

    private static func readNestedList(
        _ reader: inout ByteReader, _ field: String, _ kind: MessageKind, limits: CodecLimits
    ) throws(DecodeError) -> [Envelope] {
        try reader.list(field, limit: limits.maxCertificateEntries, minimumElementBytes: minimumNestedBytes) {
            (reader: inout ByteReader) throws(DecodeError) in try readNested(&reader, kind, limits: limits)
        }
    }
}
