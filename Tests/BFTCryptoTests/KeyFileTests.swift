import BFTCore
import BFTCrypto
import Foundation
import Testing

@Suite("Key files")
struct KeyFileTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("bft-keys-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    private func mode(_ path: String) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    @Test("a private key is written with mode 0600 and read back to the same identity")
    func privateRoundTrip() throws {
        let path = directory + "/replica-0.key"
        let signer = Ed25519Signer()
        try KeyFile.writePrivateKey(signer, to: path)
        #expect(try mode(path) == 0o600)
        let loaded = try KeyFile.readPrivateKey(from: path)
        #expect(loaded.publicKey == signer.publicKey)
        let message: [UInt8] = [1, 2, 3]
        #expect(SodiumCryptoSuite().verify(loaded.sign(message), of: message, by: signer.publicKey))
    }

    @Test("a public key is written and read back")
    func publicRoundTrip() throws {
        let path = directory + "/replica-0.pub"
        let key = Ed25519Signer().publicKey
        try KeyFile.writePublicKey(key, to: path)
        #expect(try KeyFile.readPublicKey(from: path) == key)
    }

    @Test("loading refuses a private key readable by group or others, with the chmod to run", arguments: [0o644, 0o640, 0o604, 0o606])
    func refusesPermissiveKey(permissions: Int) throws {
        let path = directory + "/open.key"
        try KeyFile.writePrivateKey(Ed25519Signer(), to: path)
        try FileManager.default.setAttributes([.posixPermissions: permissions], ofItemAtPath: path)
        let error = #expect(throws: KeyFileError.self) { try KeyFile.readPrivateKey(from: path) }
        guard case .tooPermissive = error else {
            Issue.record("expected tooPermissive, got \(String(describing: error))")
            return
        }
        #expect(error?.description.contains("chmod 600") == true)
    }

    @Test("an existing key is never overwritten")
    func noOverwrite() throws {
        let path = directory + "/kept.key"
        let first = Ed25519Signer()
        try KeyFile.writePrivateKey(first, to: path)
        #expect(throws: KeyFileError.alreadyExists(path: path)) { try KeyFile.writePrivateKey(Ed25519Signer(), to: path) }
        #expect(try KeyFile.readPrivateKey(from: path).publicKey == first.publicKey)
    }

    @Test("a missing file, a corrupted seed and a garbage file get clear errors")
    func badFiles() throws {
        #expect(throws: KeyFileError.notFound(path: directory + "/none.key")) {
            try KeyFile.readPrivateKey(from: directory + "/none.key")
        }
        let path = directory + "/corrupt.key"
        try KeyFile.writePrivateKey(Ed25519Signer(), to: path)
        var text = try String(contentsOfFile: path, encoding: .utf8)
        let seedRange = try #require(text.range(of: "seed: "))
        let firstDigit = text.index(seedRange.upperBound, offsetBy: 0)
        text.replaceSubrange(firstDigit...firstDigit, with: text[firstDigit] == "0" ? "1" : "0")
        try writeSecret(text, to: path)
        #expect(throws: KeyFileError.publicKeyMismatch(path: path)) { try KeyFile.readPrivateKey(from: path) }

        for garbage in ["", "hello", "format: bft-ed25519-private-v1\nseed: zz\npublic: 00\n", "format: other\n"] {
            try writeSecret(garbage, to: path)
            let error = #expect(throws: KeyFileError.self) { try KeyFile.readPrivateKey(from: path) }
            guard case .malformed = error else {
                Issue.record("expected malformed for \(garbage.debugDescription), got \(String(describing: error))")
                continue
            }
        }
    }

    private func writeSecret(_ text: String, to path: String) throws {
        try? FileManager.default.removeItem(atPath: path)
        let created = FileManager.default.createFile(
            atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        #expect(created)
    }
}
