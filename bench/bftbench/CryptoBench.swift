import ArgumentParser
import BFTCore
import BFTCrypto
import CBaseline

/// Times the BFTCrypto wrappers next to the same C calls made directly from C, so the wrappers' overhead is known.
struct CryptoBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crypto",
        abstract: "Cost per call of Ed25519 sign/verify, SHA-256 and HMAC-SHA256: Swift wrappers against direct C.",
        discussion: """
            Each figure is the best of --rounds rounds, in microseconds per call. 'C direct' calls libsodium and \
            libcrypto from C (bench/CBaseline) with the same reuse of contexts as the wrappers. Build with \
            -c release for meaningful figures: swift run -c release bftbench crypto
            """
    )

    @Option(help: "Calls per round for Ed25519 sign and verify.")
    var signatureIterations: Int = 4000

    @Option(help: "Calls per round for SHA-256 and HMAC.")
    var hashIterations: Int = 200_000

    @Option(help: "Rounds per figure; the best round is reported.")
    var rounds: Int = 5

    @Option(help: "Message size in bytes for Ed25519.")
    var signatureMessageBytes: Int = 64

    func validate() throws {
        guard signatureIterations > 0, hashIterations > 0, rounds > 0, signatureMessageBytes >= 0 else {
            throw ValidationError("iterations and rounds must be positive, sizes not negative")
        }
    }

    func run() throws {
        #if DEBUG
            let build = "debug (figures are not representative: use -c release)"
        #else
            let build = "release"
        #endif
        print("bftbench crypto")
        print(
            "settings: build=\(build) rounds=\(rounds) signature-iterations=\(signatureIterations) "
                + "hash-iterations=\(hashIterations) ed25519-message=\(signatureMessageBytes)B")
        print("operation".padded(26) + "swift µs".padded(12) + "C µs".padded(12) + "overhead")
        let sig = UInt64(signatureIterations)
        let hash = UInt64(hashIterations)
        let rows: [(String, () -> Double, () -> Double)] = [
            ("ed25519 sign \(signatureMessageBytes) B", { swiftSign(sig) }, {
                bft_c_ed25519_sign_ns(signatureMessageBytes, sig) }),
            ("ed25519 verify \(signatureMessageBytes) B", { swiftVerify(sig) }, {
                bft_c_ed25519_verify_ns(signatureMessageBytes, sig) }),
            ("sha256 64 B", { swiftSHA256(64, hash) }, { bft_c_sha256_ns(64, hash) }),
            ("sha256 1 KiB", { swiftSHA256(1024, hash) }, { bft_c_sha256_ns(1024, hash) }),
            ("hmac-sha256 64 B", { swiftHMAC(64, hash) }, { bft_c_hmac_sha256_ns(64, hash) }),
            ("hmac-sha256 1 KiB", { swiftHMAC(1024, hash) }, { bft_c_hmac_sha256_ns(1024, hash) }),
        ]
        for (name, swiftCall, cCall) in rows {
            let swiftNs = best(swiftCall)
            let cNs = best(cCall)
            guard swiftNs > 0, cNs > 0 else { throw ValidationError("\(name): a call failed") }
            let overhead = (swiftNs - cNs) / cNs * 100
            print(
                name.padded(26) + format(swiftNs / 1000).padded(12) + format(cNs / 1000).padded(12)
                    + (overhead >= 0 ? "+" : "") + format(overhead, digits: 1) + "%")
        }
        let openSSL = best { bft_c_openssl_ed25519_verify_ns(signatureMessageBytes, sig) }
        guard openSSL > 0 else { throw ValidationError("OpenSSL Ed25519 verify failed") }
        print("ed25519 verify \(signatureMessageBytes) B through OpenSSL (EVP_DigestVerify, C): "
            + "\(format(openSSL / 1000)) µs (the alternative to libsodium)")
    }

    private func best(_ measure: () -> Double) -> Double {
        (0..<rounds).map { _ in measure() }.min() ?? 0
    }

    private func swiftSign(_ iterations: UInt64) -> Double {
        let signer = Ed25519Signer()
        var message = [UInt8](repeating: 0, count: signatureMessageBytes + 1)
        var sink: UInt8 = 0
        return timed(iterations) { i in
            message[0] = UInt8(truncatingIfNeeded: i)
            let signature = message.withUnsafeBytes { raw in
                signer.sign(UnsafeRawBufferPointer(rebasing: raw[0..<signatureMessageBytes]))
            }
            sink ^= signature.bytes[0]
        } finally: { blackHole(sink) }
    }

    private func swiftVerify(_ iterations: UInt64) -> Double {
        let signer = Ed25519Signer()
        let message = [UInt8](repeating: 0, count: signatureMessageBytes)
        let signature = signer.sign(message)
        let key = signer.publicKey
        var failures = 0
        let ns = message.withUnsafeBytes { raw in
            timed(iterations) { _ in if !Ed25519.verify(signature, of: raw, by: key) { failures += 1 } } finally: {}
        }
        return failures == 0 ? ns : -1
    }

    private func swiftSHA256(_ size: Int, _ iterations: UInt64) -> Double {
        let hasher = SHA256Hasher()
        var message = [UInt8](repeating: 0, count: size)
        var sink: UInt64 = 0
        return timed(iterations) { i in
            message[0] = UInt8(truncatingIfNeeded: i)
            sink ^= hasher.digest(message).w0
        } finally: { blackHole(UInt8(truncatingIfNeeded: sink)) }
    }

    private func swiftHMAC(_ size: Int, _ iterations: UInt64) -> Double {
        let mac = HMACSHA256(key: [1, 2, 3] + [UInt8](repeating: 0, count: 29))
        var message = [UInt8](repeating: 0, count: size)
        var sink: UInt8 = 0
        return timed(iterations) { i in
            message[0] = UInt8(truncatingIfNeeded: i)
            sink ^= mac.mac(message)[0]
        } finally: { blackHole(sink) }
    }
}

/// Nanoseconds per call of `body` over `iterations` calls.
func timed(_ iterations: UInt64, _ body: (UInt64) -> Void, finally: () -> Void) -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    for i in 0..<iterations { body(i) }
    let elapsed = clock.now - start
    finally()
    let (seconds, attoseconds) = elapsed.components
    return (Double(seconds) * 1e9 + Double(attoseconds) / 1e9) / Double(iterations)
}

@inline(never)
func blackHole(_ value: UInt8) {
    if value == 0xFF && CommandLine.arguments.count > 1000 { print(value) }
}

func format(_ value: Double, digits: Int = 2) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    var text = String(rounded)
    if let dot = text.firstIndex(of: ".") {
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        if decimals < digits { text += String(repeating: "0", count: digits - decimals) }
    }
    return text
}

extension String {
    func padded(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
