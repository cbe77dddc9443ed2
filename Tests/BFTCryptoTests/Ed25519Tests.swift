import BFTCore
import BFTCrypto
import Testing

/// RFC 8032 §7.1 test vectors (TEST 1, 2 and 3).
struct RFC8032Vector: Sendable, CustomTestStringConvertible {
    let name: String
    let secret: String
    let publicKey: String
    let message: String
    let signature: String
    var testDescription: String { name }
}

let rfc8032Vectors = [
    RFC8032Vector(
        name: "TEST 1 (empty message)",
        secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        message: "",
        signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    ),
    RFC8032Vector(
        name: "TEST 2 (one byte)",
        secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        message: "72",
        signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
    ),
    RFC8032Vector(
        name: "TEST 3 (two bytes)",
        secret: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        message: "af82",
        signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"
    ),
]

@Suite("Ed25519 (libsodium)")
struct Ed25519Tests {
    @Test("RFC 8032 vectors: derived public key and signature match", arguments: rfc8032Vectors)
    func rfc8032(vector: RFC8032Vector) throws {
        let seed = try #require(Hex.decode(vector.secret))
        let signer = try #require(Ed25519Signer(seed: seed))
        let message = try #require(Hex.decode(vector.message))
        #expect(signer.publicKey.hex == vector.publicKey)
        let signature = signer.sign(message)
        #expect(Hex.encode(signature.bytes) == vector.signature)
        #expect(SodiumCryptoSuite().verify(signature, of: message, by: signer.publicKey))
    }

    @Test("a flipped bit in the message, the key or the signature fails verification", arguments: rfc8032Vectors)
    func flippedBitsFail(vector: RFC8032Vector) throws {
        let suite = SodiumCryptoSuite()
        let message = try #require(Hex.decode(vector.message)) + [0x5a]  // non-empty so a message bit can flip
        let seed = try #require(Hex.decode(vector.secret))
        let signer = try #require(Ed25519Signer(seed: seed))
        let signature = signer.sign(message)
        #expect(suite.verify(signature, of: message, by: signer.publicKey))

        for bit in 0..<(message.count * 8) {
            var flipped = message
            flipped[bit / 8] ^= 1 << (bit % 8)
            #expect(!suite.verify(signature, of: flipped, by: signer.publicKey), "message bit \(bit)")
        }
        for bit in 0..<(Signature.byteCount * 8) {
            var bytes = signature.bytes
            bytes[bit / 8] ^= 1 << (bit % 8)
            let bad = try #require(Signature(bytes: bytes))
            #expect(!suite.verify(bad, of: message, by: signer.publicKey), "signature bit \(bit)")
        }
        for bit in 0..<(PublicKey.byteCount * 8) {
            var bytes = signer.publicKey.bytes
            bytes[bit / 8] ^= 1 << (bit % 8)
            let bad = try #require(PublicKey(bytes: bytes))
            #expect(!suite.verify(signature, of: message, by: bad), "public key bit \(bit)")
        }
    }

    @Test("fresh key pairs differ and sign verifiably")
    func freshKeys() {
        let a = Ed25519Signer()
        let b = Ed25519Signer()
        #expect(a.publicKey != b.publicKey)
        let message: [UInt8] = Array("pre-prepare".utf8)
        let suite = SodiumCryptoSuite()
        #expect(suite.verify(a.sign(message), of: message, by: a.publicKey))
        #expect(!suite.verify(a.sign(message), of: message, by: b.publicKey))
    }

    @Test("a seed of the wrong length is refused")
    func wrongSeedLength() {
        #expect(Ed25519Signer(seed: [UInt8](repeating: 1, count: 31)) == nil)
        #expect(Ed25519Signer(seed: [UInt8](repeating: 1, count: 64)) == nil)
    }

    @Test("session keys: both ends agree from their own secrets, other pairs get other keys, a bad peer key none")
    func sessionKeys() throws {
        let client = Ed25519Signer()
        let replica = Ed25519Signer()
        let other = Ed25519Signer()
        let message: [UInt8] = Array("request".utf8)
        let clientSide = try #require(client.sessionKey(with: replica.publicKey))
        let replicaSide = try #require(replica.sessionKey(with: client.publicKey))
        #expect(clientSide.mac(message) == replicaSide.mac(message))
        #expect(clientSide.mac(message) != clientSide.mac(message + [0]))
        let otherPair = try #require(other.sessionKey(with: client.publicKey))
        #expect(otherPair.mac(message) != clientSide.mac(message))
        // The all-zero point has small order: no key agreement with it.
        #expect(client.sessionKey(with: try #require(PublicKey(bytes: [UInt8](repeating: 0, count: 32)))) == nil)
    }

    @Test("verified-signature memo: a remembered signature passes only over the same bytes; forgeries are still caught")
    func verifiedSignatures() throws {
        let suite = SodiumCryptoSuite()
        let replica = Ed25519Signer()
        let memo = VerifiedSignatures(capacity: 2)
        let vote = Envelope(
            signing: .historyVote(HistoryVote(view: 1, sequence: 5, history: .zero)), from: .replica(1), with: replica)
        #expect(memo.verify(vote, key: replica.publicKey, suite: suite))
        #expect(memo.verify(vote, key: replica.publicKey, suite: suite), "remembered")
        // The same signature over other bytes (another sequence number) is checked, and fails.
        let moved = Envelope(
            unverified: .historyVote(HistoryVote(view: 1, sequence: 6, history: .zero)), from: .replica(1),
            signature: try #require(vote.signature))
        #expect(!memo.verify(moved, key: replica.publicKey, suite: suite))
        // A wrong signature over the remembered bytes fails too.
        let forged = Envelope(
            unverified: vote.message, from: .replica(1), signature: Signature(checked: [UInt8](repeating: 9, count: 64)))
        #expect(!memo.verify(forged, key: replica.publicKey, suite: suite))
        // Past its capacity the memo starts over, and checks again.
        for sequence in 10..<13 as Range<UInt64> {
            let other = Envelope(
                signing: .historyVote(HistoryVote(view: 1, sequence: .init(sequence), history: .zero)),
                from: .replica(1), with: replica)
            #expect(memo.verify(other, key: replica.publicKey, suite: suite))
        }
        #expect(memo.verify(vote, key: replica.publicKey, suite: suite))
    }
}
