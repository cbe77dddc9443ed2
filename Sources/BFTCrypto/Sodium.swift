import CSodium

/// libsodium must be initialised once before use; `sodium_init` is idempotent and thread-safe, and a `static let`
/// runs it exactly once.
enum Sodium {
    static let ready: Bool = sodium_init() >= 0

    static func ensureReady() {
        precondition(ready, "libsodium failed to initialise (sodium_init returned an error)")
    }
}

/// Comparisons of secrets (MACs, keys) that take the same time wherever the inputs first differ.
public enum ConstantTime {
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        Sodium.ensureReady()
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in sodium_memcmp(pa.baseAddress, pb.baseAddress, a.count) == 0 }
        }
    }
}
