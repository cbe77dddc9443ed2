import BFTCore
import Testing

@Suite("Canonical wire format")
struct WireFormatTests {
    @Test("every message kind round-trips through encode and decode (500 random values each)",
          arguments: MessageKind.allCases)
    func roundTrip(kind: MessageKind) throws {
        var generator = MessageGenerator(seed: UInt64(kind.rawValue) * 7919)
        for _ in 0..<500 {
            let envelope = generator.envelope(generator.message(kind))
            let decoded = try Envelope.decode(envelope.encoded)
            #expect(decoded == envelope)
            #expect(decoded.encoded == envelope.encoded)
            #expect(decoded.message.kind == kind)
        }
    }

    // MARK: Golden bytes: hand-derived from the grammar in WireFormat's documentation.

    private static let signatureAB = Signature(checked: [UInt8](repeating: 0xab, count: 64))
    private static let digest00to1f = Digest(bytes: (0..<32).map { UInt8($0) })!

    @Test("golden bytes: prepare")
    func goldenPrepare() {
        let envelope = Envelope(
            unverified: .prepare(Prepare(view: 1, sequence: 7, digest: Self.digest00to1f)), from: .replica(2),
            signature: Self.signatureAB)
        let expected =
            "01" + "00" + "00000002" + "03" + "0000000000000001" + "0000000000000007"
            + "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f" + String(repeating: "ab", count: 64)
        #expect(Hex.encode(envelope.encoded) == expected)
    }

    private static let goldenRequestHex =
        "01" + "01" + "0102030405060708" + "01" + "000000000000002a" + "00" + "00000003" + "707574" + "00"
        + String(repeating: "cd", count: 64)

    private static var goldenRequest: Envelope {
        Envelope(
            unverified: .request(Request(timestamp: 42, operation: Array("put".utf8))),
            from: .client(0x0102_0304_0506_0708), signature: Signature(checked: [UInt8](repeating: 0xcd, count: 64)))
    }

    @Test("golden bytes: request")
    func goldenRequestBytes() {
        #expect(Hex.encode(Self.goldenRequest.encoded) == Self.goldenRequestHex)
    }

    @Test("golden bytes: checkpoint")
    func goldenCheckpoint() {
        let envelope = Envelope(
            unverified: .checkpoint(Checkpoint(sequence: 128, stateDigest: Digest(bytes: [UInt8](repeating: 0xff, count: 32))!)),
            from: .replica(0), signature: Self.signatureAB)
        let expected =
            "01" + "00" + "00000000" + "06" + "0000000000000080" + String(repeating: "ff", count: 32)
            + String(repeating: "00", count: 32) + String(repeating: "ab", count: 64)
        #expect(Hex.encode(envelope.encoded) == expected)
    }

    @Test("golden bytes: spec-response")
    func goldenSpecResponse() {
        let envelope = Envelope(
            unverified: .specResponse(SpecResponse(
                view: 2, sequence: 3, history: Digest(bytes: [UInt8](repeating: 0x22, count: 32))!, timestamp: 7,
                client: 9, result: [0x6f, 0x6b])),
            from: .replica(1), signature: Self.signatureAB)
        let expected =
            "01" + "00" + "00000001" + "0c" + "0000000000000002" + "0000000000000003"
            + String(repeating: "22", count: 32) + "0000000000000007" + "0000000000000009" + "00000002" + "6f6b" + "00"
            + String(repeating: "ab", count: 64)
        #expect(Hex.encode(envelope.encoded) == expected)
    }

    @Test("golden bytes: pre-prepare carrying one nested request")
    func goldenPrePrepare() {
        let envelope = Envelope(
            unverified: .prePrepare(
                PrePrepare(
                    view: 0, sequence: 1, digest: Digest(bytes: [UInt8](repeating: 0x11, count: 32))!,
                    batch: [Self.goldenRequest])),
            from: .replica(0), signature: Self.signatureAB)
        let expected =
            "01" + "00" + "00000000" + "02" + "0000000000000000" + "0000000000000001"
            + String(repeating: "11", count: 32) + "00000001" + "0000005c" + Self.goldenRequestHex
            + String(repeating: "00", count: 32) + String(repeating: "ab", count: 64)
        #expect(Hex.encode(envelope.encoded) == expected)
    }

    // MARK: Rejections

    private func encodedPrepare() -> [UInt8] {
        Envelope(
            unverified: .prepare(Prepare(view: 1, sequence: 7, digest: Self.digest00to1f)), from: .replica(2),
            signature: Self.signatureAB
        ).encoded
    }

    @Test("trailing bytes are rejected")
    func trailingBytes() {
        #expect(throws: DecodeError.trailingBytes(1)) { try Envelope.decode(encodedPrepare() + [0]) }
    }

    @Test("a truncated frame is rejected at every length")
    func truncation() {
        let bytes = encodedPrepare()
        for length in 0..<bytes.count {
            #expect(throws: DecodeError.self) { try Envelope.decode(Array(bytes[..<length])) }
        }
    }

    @Test("an unknown version, sender kind or message tag is rejected")
    func unknownTags() {
        var bytes = encodedPrepare()
        bytes[0] = 2
        #expect(throws: DecodeError.unsupportedVersion(2)) { try Envelope.decode(bytes) }
        bytes = encodedPrepare()
        bytes[1] = 7
        #expect(throws: DecodeError.unknownTag(7, context: "sender")) { try Envelope.decode(bytes) }
        bytes = encodedPrepare()
        bytes[6] = 0xee
        #expect(throws: DecodeError.unknownTag(0xee, context: "message")) { try Envelope.decode(bytes) }
    }

    @Test("a boolean other than 0 or 1 is rejected, so every value has one encoding")
    func nonCanonicalBool() {
        var bytes = Self.goldenRequest.encoded
        bytes[19] = 2  // readOnly
        #expect(throws: DecodeError.invalidValue(field: "readOnly", value: 2)) { try Envelope.decode(bytes) }
    }

    @Test("a request must come from a client and every other message from a replica")
    func senderKinds() {
        let fromReplica = Envelope(
            unverified: .request(Request(timestamp: 1, operation: [])), from: .replica(1), signature: Self.signatureAB)
        #expect(throws: DecodeError.senderKindMismatch(.request)) { try Envelope.decode(fromReplica.encoded) }
        let fromClient = Envelope(
            unverified: .commit(Commit(view: 0, sequence: 1, digest: .zero)), from: .client(1), signature: Self.signatureAB)
        #expect(throws: DecodeError.senderKindMismatch(.commit)) { try Envelope.decode(fromClient.encoded) }
    }

    @Test("a nested message of the wrong kind is rejected (a batch holds only requests)")
    func wrongNestedKind() {
        let prepare = Envelope(
            unverified: .prepare(Prepare(view: 0, sequence: 1, digest: .zero)), from: .replica(1),
            signature: Self.signatureAB)
        var writer = ByteWriter()
        writer.u8(WireFormat.version)
        writer.u8(0)
        writer.u32(0)
        writer.u8(MessageKind.prePrepare.rawValue)
        writer.u64(0)
        writer.u64(1)
        writer.digest(.zero)
        writer.u32(1)
        writer.u32(UInt32(prepare.encoded.count))
        writer.raw(prepare.encoded)
        writer.raw(Self.signatureAB.bytes)
        #expect(throws: DecodeError.unexpectedMessage(expected: .request, found: .prepare)) {
            try Envelope.decode(writer.bytes)
        }
    }

    @Test("a forged list count cannot make the decoder allocate: over the limit, or more than the bytes left")
    func forgedCounts() {
        func prePrepare(count: UInt32) -> [UInt8] {
            var writer = ByteWriter()
            writer.u8(WireFormat.version)
            writer.u8(0)
            writer.u32(0)
            writer.u8(MessageKind.prePrepare.rawValue)
            writer.u64(0)
            writer.u64(1)
            writer.digest(.zero)
            writer.u32(count)
            writer.raw(Self.signatureAB.bytes)
            return writer.bytes
        }
        #expect(throws: DecodeError.limitExceeded(field: "batch", value: Int(UInt32.max), limit: 1024)) {
            try Envelope.decode(prePrepare(count: .max))
        }
        #expect(throws: DecodeError.self) { try Envelope.decode(prePrepare(count: 1000)) }
    }

    @Test("a forged byte-string length is rejected against the limit and against the bytes left")
    func forgedLength() {
        var bytes = Self.goldenRequest.encoded
        bytes.replaceSubrange(20..<24, with: [0xff, 0xff, 0xff, 0xff])
        #expect(throws: DecodeError.limitExceeded(field: "operation", value: Int(UInt32.max), limit: 1 << 20)) {
            try Envelope.decode(bytes)
        }
        bytes.replaceSubrange(20..<24, with: [0x00, 0x00, 0x10, 0x00])
        #expect(throws: DecodeError.self) { try Envelope.decode(bytes) }
    }

    @Test("a frame over the size limit is rejected before it is parsed")
    func oversizedFrame() {
        let limits = CodecLimits(maxFrameBytes: 100, maxByteString: 1 << 20, maxBatchRequests: 8, maxCertificateEntries: 8)
        let big = Envelope(
            unverified: .request(Request(timestamp: 1, operation: [UInt8](repeating: 0, count: 200))),
            from: .client(1), signature: Self.signatureAB)
        #expect(throws: DecodeError.limitExceeded(field: "frame", value: big.encoded.count, limit: 100)) {
            try Envelope.decode(big.encoded, limits: limits)
        }
    }

    @Test("a state chunk's index must lie below its count")
    func chunkIndex() throws {
        var generator = MessageGenerator(seed: 3)
        let bad = Envelope(
            unverified: .stateChunk(StateChunk(sequence: 1, stateDigest: .zero, chunkIndex: 2, chunkCount: 2, data: [])),
            from: .replica(0), signature: generator.signature())
        #expect(throws: DecodeError.invalidValue(field: "chunkIndex", value: 2)) { try Envelope.decode(bad.encoded) }
    }

    @Test("the envelope keeps the exact signed bytes: everything but the trailing signature")
    func signedBytes() throws {
        var generator = MessageGenerator(seed: 11)
        for _ in 0..<200 {
            let envelope = generator.anyEnvelope()
            let decoded = try Envelope.decode(envelope.encoded)
            #expect(decoded.signedBytes == Array(envelope.encoded.dropLast(Signature.byteCount)))
        }
    }

    // MARK: MAC authenticators (version 2)

    private static let macAB = MAC(checked: [UInt8](repeating: 0xab, count: 16))

    @Test("golden bytes: a request sealed with a two-entry authenticator")
    func goldenAuthenticatedRequest() throws {
        let envelope = Envelope(
            unverified: .request(Request(timestamp: 42, operation: Array("put".utf8))),
            from: .client(0x0102_0304_0506_0708), macs: [Self.macAB, Self.macAB])
        let expected =
            "02" + "01" + "0102030405060708" + "01" + "000000000000002a" + "00" + "00000003" + "707574" + "00"
            + "02" + String(repeating: "ab", count: 32)
        #expect(Hex.encode(envelope.encoded) == expected)
        let decoded = try Envelope.decode(envelope.encoded)
        #expect(decoded == envelope)
        #expect(decoded.signedBytes == Array(envelope.encoded.dropLast(1 + 32)))
    }

    @Test("an authenticator only on client traffic, with at least one entry and nothing after it")
    func authenticatorRules() throws {
        let prepare = Envelope(
            unverified: .prepare(Prepare(view: 1, sequence: 7, digest: Self.digest00to1f)), from: .replica(2),
            signature: Self.signatureAB)
        // The same prepare re-sealed as version 2 with a one-entry authenticator.
        let forged = [2] + prepare.signedBytes.dropFirst() + [1] + Self.macAB.bytes
        #expect(throws: DecodeError.unsupportedVersion(2)) { try Envelope.decode(forged) }
        let request = Envelope(
            unverified: .request(Request(timestamp: 1, operation: [])), from: .client(5), macs: [Self.macAB])
        let empty = request.signedBytes + [0]
        #expect(throws: DecodeError.invalidValue(field: "authenticator entries", value: 0)) { try Envelope.decode(empty) }
        #expect(throws: DecodeError.trailingBytes(1)) { try Envelope.decode(request.encoded + [0]) }
        #expect(throws: DecodeError.truncated(needed: 16, remaining: 15)) {
            try Envelope.decode(Array(request.encoded.dropLast()))
        }
    }
}
