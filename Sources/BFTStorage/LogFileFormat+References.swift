import BFTCore
import BFTRuntime

/// A prepared certificate is its slot's pre-prepare plus 2f prepares, and the replica logged that pre-prepare
/// when it accepted it: written out in full, every batch went into the log twice. When the file already holds
/// that pre-prepare, the certificate names it instead:
///
///     prepared-by-reference := 9 | view:u64 | sequence:u64 | digest | prepares:list<bytes>
///
/// The named record is earlier in the file and is filed under the same sequence number, so truncation and
/// compaction keep or drop the two together. A certificate whose pre-prepare the file does not hold (a new
/// primary's re-issued slots are logged only inside the new-view) is written in full, as `DurableRecordCodec` does.
extension LogFileFormat {
    static let preparedReferenceTag: UInt8 = 9

    /// A slot of one view: pre-prepares are looked up by it.
    struct Slot: Hashable {
        var view: ViewNumber
        var sequence: SequenceNumber

        init(view: ViewNumber, sequence: SequenceNumber) {
            self.view = view
            self.sequence = sequence
        }

        init(_ prePrepare: PrePrepare) { self.init(view: prePrepare.view, sequence: prePrepare.sequence) }
    }

    /// The pre-prepare records a file holds, by slot.
    typealias PrePrepares = [Slot: Envelope]

    /// A pre-prepare record's slot and envelope (nil for any other record).
    static func prePrepare(in record: DurableRecord) -> (Slot, Envelope)? {
        guard case .prePrepare(let envelope) = record, case .prePrepare(let p) = envelope.message else { return nil }
        return (Slot(p), envelope)
    }

    /// The bytes and truncation key of `record`: a prepared certificate whose pre-prepare `logged` holds goes by
    /// reference, everything else as `DurableRecordCodec` encodes it.
    static func encode(_ record: DurableRecord, logged: PrePrepares) -> (bytes: [UInt8], tag: UInt8, sequence: SequenceNumber) {
        let key = DurableRecordCodec.key(of: record)
        guard case .prepared(let certificate) = record, case .prePrepare(let p) = certificate.prePrepare.message,
            logged[Slot(p)] == certificate.prePrepare
        else { return (DurableRecordCodec.encode(record), key.tag, key.sequence) }
        var writer = ByteWriter(capacity: 64 + certificate.prepares.reduce(0) { $0 + $1.signedBytes.count + 70 })
        writer.u8(preparedReferenceTag)
        writer.u64(p.view.rawValue)
        writer.u64(p.sequence.rawValue)
        writer.digest(p.digest)
        DurableRecordCodec.writeEnvelopes(certificate.prepares, to: &writer)
        return (writer.bytes, preparedReferenceTag, key.sequence)
    }

    /// Decodes one record of a file, resolving a reference against the pre-prepares before it; a reference to a
    /// pre-prepare the file does not hold is damage (`nil`).
    static func decode(_ bytes: ArraySlice<UInt8>, logged: PrePrepares, limits: CodecLimits) throws -> DurableRecord? {
        guard bytes.first == preparedReferenceTag else { return try DurableRecordCodec.decode(Array(bytes), limits: limits) }
        var reader = ByteReader(bytes.dropFirst())
        let slot = Slot(view: ViewNumber(try reader.u64()), sequence: SequenceNumber(try reader.u64()))
        let digest = try reader.digest()
        let prepares = try DurableRecordCodec.readEnvelopes(&reader, "prepares", limits: limits)
        try reader.expectEnd()
        guard let prePrepare = logged[slot], case .prePrepare(let p) = prePrepare.message, p.digest == digest else {
            return nil
        }
        return .prepared(PreparedCertificate(prePrepare: prePrepare, prepares: prepares))
    }
}
