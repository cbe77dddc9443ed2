import BFTCore
import Testing

/// Feeds the decoder random and mutated byte strings. Every input must either decode or be rejected with a
/// `DecodeError` (a trap would end the test process), and every accepted input must be canonical: re-encoding
/// the decoded envelope gives back the input, byte for byte. The loop count fixes the run time's bound.
@Suite("Decoder robustness")
struct DecoderRobustnessTests {
    static let inputCount = 1_000_000

    @Test("1,000,000 random and mutated frames: no trap, only typed errors, accepted frames are canonical")
    func randomAndMutatedFrames() {
        var generator = MessageGenerator(seed: 0xB17_F00D)
        let corpus = (0..<256).map { _ in generator.anyEnvelope().encoded }
        var random = SeededRandom(seed: 0x5EED)
        var accepted = 0
        var rejected = 0
        var nonCanonical = 0
        var reasons: [String: Int] = [:]

        for index in 0..<Self.inputCount {
            let input = Self.input(number: index, corpus: corpus, random: &random)
            do {
                let envelope = try Envelope.decode(input)
                accepted += 1
                if envelope.encoded != input { nonCanonical += 1 }
            } catch {
                rejected += 1
                reasons[Self.reasonName(error), default: 0] += 1
            }
        }

        #expect(accepted + rejected == Self.inputCount)
        #expect(nonCanonical == 0, "decoded frames whose re-encoding differs from the input")
        // Both outcomes must occur, or the mutations were too timid or too wild to test anything.
        #expect(accepted > 1000)
        #expect(rejected > Self.inputCount / 2)
        for reason in ["truncated", "unsupportedVersion", "unknownTag", "limitExceeded", "trailingBytes",
                       "unexpectedMessage", "invalidValue", "senderKindMismatch"] {
            #expect((reasons[reason] ?? 0) > 0, "no input was rejected as \(reason)")
        }
    }

    static func input(number: Int, corpus: [[UInt8]], random: inout SeededRandom) -> [UInt8] {
        var bytes = corpus[Int(random.next() % UInt64(corpus.count))]
        switch number % 8 {
        case 0:  // random bytes, half of them behind a valid version byte and sender kind
            let count = Int(random.next() % 128)
            bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if count > 2, random.next() % 2 == 0 {
                bytes[0] = WireFormat.version
                bytes[1] = UInt8(random.next() % 2)
            }
        case 1, 2:  // flip a few bits
            for _ in 0...(random.next() % 4) where !bytes.isEmpty {
                let bit = Int(random.next() % UInt64(bytes.count * 8))
                bytes[bit / 8] ^= 1 << (bit % 8)
            }
        case 3:  // truncate
            bytes = Array(bytes.prefix(Int(random.next() % UInt64(bytes.count + 1))))
        case 4:  // overwrite a 4-byte window with an extreme length or count
            if bytes.count >= 4 {
                let at = Int(random.next() % UInt64(bytes.count - 3))
                let values: [UInt32] = [0, 1, 0x7fff_ffff, 0xffff_ffff, 1025, UInt32(random.next() % 4096)]
                let value = values[Int(random.next() % UInt64(values.count))]
                for k in 0..<4 { bytes[at + k] = UInt8(truncatingIfNeeded: value >> (24 - 8 * k)) }
            }
        case 5:  // insert or delete a byte
            let at = Int(random.next() % UInt64(bytes.count + 1))
            if random.next() % 2 == 0 || at == bytes.count {
                bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: at)
            } else {
                bytes.remove(at: at)
            }
        case 6:  // append trailing bytes
            bytes += (0...(random.next() % 8)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        default:  // change a byte among the first 16 (version, sender, tag, leading fields)
            let at = Int(random.next() % UInt64(min(16, bytes.count)))
            bytes[at] = UInt8(truncatingIfNeeded: random.next())
        }
        return bytes
    }

    static func reasonName(_ error: DecodeError) -> String {
        switch error {
        case .truncated: "truncated"
        case .unsupportedVersion: "unsupportedVersion"
        case .unknownTag: "unknownTag"
        case .invalidValue: "invalidValue"
        case .limitExceeded: "limitExceeded"
        case .unexpectedMessage: "unexpectedMessage"
        case .senderKindMismatch: "senderKindMismatch"
        case .trailingBytes: "trailingBytes"
        }
    }
}
