import BFTCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Key files on disk. Both formats are short UTF-8 text, one `name: value` per line, `#` comments allowed:
///
///     # private key file, created with mode 0600
///     format: bft-ed25519-private-v1
///     seed: <64 hex digits: the RFC 8032 32-byte secret key>
///     public: <64 hex digits: the public key derived from the seed>
///
///     # public key file
///     format: bft-ed25519-public-v1
///     public: <64 hex digits>
///
/// A private key file is created with mode 0600 and never overwritten. Loading refuses a private key that group or
/// others may read or write (as ssh does), and one whose public line does not match its seed (a corrupted file).
public enum KeyFile {
    static let privateFormat = "bft-ed25519-private-v1"
    static let publicFormat = "bft-ed25519-public-v1"
    /// Key files are tiny; anything larger is not one of ours and is not read into memory.
    static let maximumFileBytes = 4096

    public static func writePrivateKey(_ signer: Ed25519Signer, to path: String) throws(KeyFileError) {
        let text = """
            # Ed25519 private key of a BFT replica or client. Keep it secret (mode 0600).
            format: \(privateFormat)
            seed: \(Hex.encode(signer.seed))
            public: \(signer.publicKey.hex)

            """
        try create(path, contents: Array(text.utf8), mode: 0o600)
    }

    public static func readPrivateKey(from path: String) throws(KeyFileError) -> Ed25519Signer {
        let (contents, mode) = try readSmallFile(path)
        guard mode & 0o077 == 0 else { throw .tooPermissive(path: path, mode: mode) }
        let fields = try parse(contents, path: path, format: privateFormat)
        guard let seedHex = fields["seed"], let seed = Hex.decode(seedHex), seed.count == Ed25519.seedByteCount,
            let signer = Ed25519Signer(seed: seed)
        else { throw .malformed(path: path, reason: "the seed line must hold 64 hex digits") }
        guard let publicHex = fields["public"], let stated = PublicKey(hex: publicHex) else {
            throw .malformed(path: path, reason: "the public line must hold 64 hex digits")
        }
        guard stated == signer.publicKey else { throw .publicKeyMismatch(path: path) }
        return signer
    }

    public static func writePublicKey(_ key: PublicKey, to path: String) throws(KeyFileError) {
        let text = """
            # Ed25519 public key of a BFT replica or client.
            format: \(publicFormat)
            public: \(key.hex)

            """
        try create(path, contents: Array(text.utf8), mode: 0o644)
    }

    public static func readPublicKey(from path: String) throws(KeyFileError) -> PublicKey {
        let (contents, _) = try readSmallFile(path)
        let fields = try parse(contents, path: path, format: publicFormat)
        guard let publicHex = fields["public"], let key = PublicKey(hex: publicHex) else {
            throw .malformed(path: path, reason: "the public line must hold 64 hex digits")
        }
        return key
    }

    // MARK: Parsing

    static func parse(_ contents: [UInt8], path: String, format: String) throws(KeyFileError) -> [String: String] {
        guard let text = String(validating: contents, as: UTF8.self) else {
            throw .malformed(path: path, reason: "not UTF-8 text")
        }
        var fields: [String: String] = [:]
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingSpaces
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":") else {
                throw .malformed(path: path, reason: "line '\(line.prefix(40))' is not 'name: value'")
            }
            let name = String(line[..<colon]).trimmingSpaces
            guard fields[name] == nil else { throw .malformed(path: path, reason: "'\(name)' appears twice") }
            fields[name] = String(line[line.index(after: colon)...]).trimmingSpaces
        }
        guard fields["format"] == format else {
            throw .malformed(path: path, reason: "expected 'format: \(format)'")
        }
        return fields
    }

    // MARK: Files

    private static func create(_ path: String, contents: [UInt8], mode: mode_t) throws(KeyFileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            let code = errno
            throw code == EEXIST ? .alreadyExists(path: path) : .io(path: path, operation: "create", errno: code)
        }
        defer { close(fd) }
        // umask can only remove permission bits; set them exactly so a public key is readable as documented.
        guard fchmod(fd, mode) == 0 else { throw .io(path: path, operation: "chmod", errno: errno) }
        var written = 0
        while written < contents.count {
            let n = contents[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw .io(path: path, operation: "write", errno: errno) }
            written += n
        }
        guard fsync(fd) == 0 else { throw .io(path: path, operation: "fsync", errno: errno) }
    }

    private static func readSmallFile(_ path: String) throws(KeyFileError) -> ([UInt8], mode_t) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw code == ENOENT ? .notFound(path: path) : .io(path: path, operation: "open", errno: code)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io(path: path, operation: "stat", errno: errno) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw .malformed(path: path, reason: "not a regular file") }
        guard info.st_size <= maximumFileBytes else {
            throw .malformed(path: path, reason: "\(info.st_size) bytes is too large for a key file")
        }
        var buffer = [UInt8](repeating: 0, count: maximumFileBytes + 1)
        var total = 0
        while total < buffer.count {
            let n = buffer[total...].withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw .io(path: path, operation: "read", errno: errno) }
            if n == 0 { break }
            total += n
        }
        guard total <= maximumFileBytes else { throw .malformed(path: path, reason: "too large for a key file") }
        return (Array(buffer[..<total]), info.st_mode & 0o7777)
    }
}

public enum KeyFileError: Error, Hashable, Sendable, CustomStringConvertible {
    case notFound(path: String)
    case alreadyExists(path: String)
    case tooPermissive(path: String, mode: mode_t)
    case malformed(path: String, reason: String)
    case publicKeyMismatch(path: String)
    case io(path: String, operation: String, errno: Int32)

    public var description: String {
        switch self {
        case .notFound(let path): "key file '\(path)' does not exist"
        case .alreadyExists(let path): "key file '\(path)' already exists; refusing to overwrite a key"
        case .tooPermissive(let path, let mode):
            "private key file '\(path)' has mode 0\(String(mode, radix: 8)): it must not be accessible by group or "
                + "others; run: chmod 600 '\(path)'"
        case .malformed(let path, let reason): "key file '\(path)' is malformed: \(reason)"
        case .publicKeyMismatch(let path):
            "private key file '\(path)' is corrupt: its public key does not match its seed"
        case .io(let path, let operation, let code):
            "cannot \(operation) key file '\(path)': \(String(cString: strerror(code)))"
        }
    }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        return String(String(drop(while: isSpace).reversed()).drop(while: isSpace).reversed())
    }
}
