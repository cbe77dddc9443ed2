import BFTCore

/// The bytes a disk store keeps for each `DurableRecord`, in the style of the wire format (big-endian, lengths
/// first, signed messages as their exact envelope bytes, so they verify again after a restart):
///
///     record            := tag:u8 | fields
///     pre-prepare       := 1 | envelope:bytes
///     vote              := 2 | envelope:bytes
///     prepared          := 3 | prePrepare:bytes | prepares:list<bytes>
///     committed         := 4 | view:u64 | sequence:u64 | digest
///     view-change       := 5 | envelope:bytes
///     new-view          := 6 | envelope:bytes
///     stable-checkpoint := 7 | sequence:u64 | stateDigest:digest | proof:list<bytes> | state:bytes
///     certificate       := 8 | votes:list<bytes>
///
/// A store also files each record under its tag and a sequence number (`key(of:)`) so that it can drop what a
/// stable checkpoint supersedes without decoding.
public enum DurableRecordCodec {
    public static func encode(_ record: DurableRecord) -> [UInt8] {
        var writer = ByteWriter()
        switch record {
        case .prePrepare(let envelope):
            writer.u8(1)
            writer.byteString(envelope.encoded)
        case .vote(let envelope):
            writer.u8(2)
            writer.byteString(envelope.encoded)
        case .prepared(let certificate):
            writer.u8(3)
            writer.byteString(certificate.prePrepare.encoded)
            writeEnvelopes(certificate.prepares, to: &writer)
        case .committed(let view, let sequence, let digest):
            writer.u8(4)
            writer.u64(view.rawValue)
            writer.u64(sequence.rawValue)
            writer.digest(digest)
        case .viewChange(let envelope):
            writer.u8(5)
            writer.byteString(envelope.encoded)
        case .newView(let envelope):
            writer.u8(6)
            writer.byteString(envelope.encoded)
        case .stableCheckpoint(let checkpoint):
            writer.u8(7)
            writer.u64(checkpoint.sequence.rawValue)
            writer.digest(checkpoint.stateDigest)
            writeEnvelopes(checkpoint.proof, to: &writer)
            writer.byteString(checkpoint.state)
        case .certificate(let votes):
            writer.u8(8)
            writeEnvelopes(votes, to: &writer)
        }
        return writer.bytes
    }

    public static func decode(_ bytes: [UInt8], limits: CodecLimits = .standard) throws(DecodeError) -> DurableRecord {
        var reader = ByteReader(bytes[...])
        let frame = limits.maxFrameBytes
        func envelope(_ reader: inout ByteReader) throws(DecodeError) -> Envelope {
            try Envelope.decode(try reader.byteString("envelope", limit: frame), limits: limits)
        }
        let record: DurableRecord
        switch try reader.u8() {
        case 1: record = .prePrepare(try envelope(&reader))
        case 2: record = .vote(try envelope(&reader))
        case 3:
            let prePrepare = try envelope(&reader)
            let prepares = try readEnvelopes(&reader, "prepares", limits: limits)
            record = .prepared(PreparedCertificate(prePrepare: prePrepare, prepares: prepares))
        case 4:
            record = .committed(view: ViewNumber(try reader.u64()), sequence: SequenceNumber(try reader.u64()),
                                digest: try reader.digest())
        case 5: record = .viewChange(try envelope(&reader))
        case 6: record = .newView(try envelope(&reader))
        case 7:
            let sequence = SequenceNumber(try reader.u64())
            let digest = try reader.digest()
            let proof = try readEnvelopes(&reader, "proof", limits: limits)
            let state = try reader.byteString("state", limit: reader.remaining)
            record = .stableCheckpoint(StableCheckpoint(sequence: sequence, stateDigest: digest, proof: proof, state: state))
        case 8:
            record = .certificate(try readEnvelopes(&reader, "votes", limits: limits))
        case let tag: throw .invalidValue(field: "record tag", value: UInt64(tag))
        }
        try reader.expectEnd()
        return record
    }

    /// A list of envelopes as records carry them (certificate entries): their exact bytes, each length-prefixed.
    public static func writeEnvelopes(_ envelopes: [Envelope], to writer: inout ByteWriter) {
        writer.list(envelopes) { $0.byteString($1.encoded) }
    }

    /// Reads what `writeEnvelopes` wrote, at most `maxCertificateEntries` of them.
    public static func readEnvelopes(_ reader: inout ByteReader, _ field: String, limits: CodecLimits) throws(DecodeError)
        -> [Envelope]
    {
        try reader.list(field, limit: limits.maxCertificateEntries, minimumElementBytes: 4) {
            (reader: inout ByteReader) throws(DecodeError) in
            try Envelope.decode(try reader.byteString("envelope", limit: limits.maxFrameBytes), limits: limits)
        }
    }

    /// A record's tag (its first byte) and the sequence number it is filed under (0 for records kept by kind
    /// instead): all `survivors` needs, so a store can truncate without decoding.
    public static func key(of record: DurableRecord) -> (tag: UInt8, sequence: SequenceNumber) {
        switch record {
        case .prePrepare(let envelope): (1, InMemoryStore.sequence(of: envelope) ?? 0)
        case .vote(let envelope): (2, InMemoryStore.sequence(of: envelope) ?? 0)
        case .prepared(let certificate): (3, InMemoryStore.sequence(of: certificate.prePrepare) ?? 0)
        case .committed(_, let sequence, _): (4, sequence)
        case .viewChange: (5, 0)
        case .newView: (6, 0)
        case .stableCheckpoint(let checkpoint): (7, checkpoint.sequence)
        case .certificate: (8, 0)
        }
    }

    /// Whether records with this tag are kept by kind, only the newest (view-change, new-view, stable checkpoint,
    /// certificate), rather than by slot; any other tag a store uses for a slot's record is kept by its sequence.
    public static func supersedesOthers(_ tag: UInt8) -> Bool { (5...8).contains(tag) }

    /// Which records recovery still needs (the same answer for every store): the newest stable checkpoint, the
    /// newest view-change, new-view and certificate, and every per-slot record above that checkpoint. A stable
    /// checkpoint supersedes everything at or below it (PBFT §4.3's garbage collection).
    public static func survivors(_ keys: [(tag: UInt8, sequence: SequenceNumber)]) -> [Bool] {
        var stable: SequenceNumber = 0
        var newest: [Int] = Array(repeating: -1, count: 9)
        for (index, key) in keys.enumerated() where supersedesOthers(key.tag) {
            if key.tag == 7 && key.sequence < stable { continue }
            if key.tag == 7 { stable = key.sequence }
            newest[Int(key.tag)] = index
        }
        var kept: [Bool] = []
        kept.reserveCapacity(keys.count)
        for (index, key) in keys.enumerated() {
            kept.append(supersedesOthers(key.tag) ? newest[Int(key.tag)] == index : key.sequence > stable)
        }
        return kept
    }
}
