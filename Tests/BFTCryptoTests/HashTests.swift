import BFTCore
import BFTCrypto
import Testing

@Suite("SHA-256 (libcrypto)")
struct SHA256Tests {
    /// FIPS 180-4 examples (NIST CSRC "SHA256.pdf" and the long-message example).
    @Test(
        "FIPS 180-4 vectors",
        arguments: [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
            ),
        ])
    func fips180(input: String, expected: String) {
        #expect(Hex.encode(SHA256Hasher().digest(Array(input.utf8)).bytes) == expected)
    }

    @Test("FIPS 180-4: one million 'a'")
    func millionA() {
        let digest = SHA256Hasher().digest([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
        #expect(Hex.encode(digest.bytes) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test("a reused context gives the same digest as a fresh one")
    func reuseIsStateless() {
        let reused = SHA256Hasher()
        var random = SeededRandom(seed: 7)
        for size in [0, 1, 55, 56, 64, 1000, 4096] {
            let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &random) }
            let first = reused.digest(bytes)
            #expect(reused.digest(bytes) == first)
            #expect(SHA256Hasher().digest(bytes) == first)
            #expect(SodiumCryptoSuite().digest(bytes) == first)
        }
    }
}

@Suite("HMAC-SHA256 (libcrypto's SHA-256)")
struct HMACTests {
    /// RFC 4231 test cases 1, 2 and 6.
    @Test("RFC 4231 vectors")
    func rfc4231() {
        let case1 = HMACSHA256(key: [UInt8](repeating: 0x0b, count: 20))
        #expect(
            Hex.encode(case1.mac(Array("Hi There".utf8)))
                == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        let case2 = HMACSHA256(key: Array("Jefe".utf8))
        #expect(
            Hex.encode(case2.mac(Array("what do ya want for nothing?".utf8)))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // Case 6: a key longer than the block is hashed first.
        let case6 = HMACSHA256(key: [UInt8](repeating: 0xaa, count: 131))
        #expect(
            Hex.encode(case6.mac(Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test("re-initialising without the key keeps the key: the same MAC every time")
    func keyedContextIsReusable() {
        let mac = HMACSHA256(key: [UInt8](repeating: 0x0b, count: 20))
        let message = Array("Hi There".utf8)
        let first = mac.mac(message)
        for _ in 0..<10 { #expect(mac.mac(message) == first) }
        #expect(mac.mac(Array("another".utf8)) != first)
        #expect(mac.mac(message) == first)
    }

    @Test("verify accepts the right tag and rejects a flipped bit or another key")
    func verify() {
        let mac = HMACSHA256(key: Array("client-7/replica-2".utf8))
        let message = Array("request".utf8)
        let tag = mac.mac(message)
        #expect(mac.verify(tag, of: message))
        for bit in 0..<(tag.count * 8) {
            var bad = tag
            bad[bit / 8] ^= 1 << (bit % 8)
            #expect(!mac.verify(bad, of: message))
        }
        #expect(!HMACSHA256(key: Array("other".utf8)).verify(tag, of: message))
        #expect(!mac.verify(Array(tag.prefix(16)), of: message))
    }

    @Test("constant-time equality")
    func constantTimeEqual() {
        #expect(ConstantTime.equal([1, 2, 3], [1, 2, 3]))
        #expect(!ConstantTime.equal([1, 2, 3], [1, 2, 4]))
        #expect(!ConstantTime.equal([1, 2, 3], [1, 2]))
        #expect(ConstantTime.equal([], []))
    }
}
