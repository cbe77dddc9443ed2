import Foundation
import Testing

/// Keeps the layering rules of the design honest (in the spirit of TigerBeetle's `tidy`): the deterministic
/// targets import nothing but each other and never reach for a clock, a socket, a file, a thread or an unseeded
/// random source. Only the targets that exist are scanned; later targets join the list when they are added.
@Suite("Tidy: the deterministic core stays pure")
struct TidyTests {
    static let deterministicTargets = ["Sources/BFTCore", "Sources/BFTRuntime", "Sources/BFTSimulator", "Adversaries"]
    static let allowedImports: Set<String> = ["BFTCore", "BFTRuntime", "BFTKeyValue", "BFTSimulator", "Adversaries"]

    /// Patterns that mean I/O, wall-clock time, concurrency or unseeded randomness.
    static let forbidden: [(pattern: String, why: String)] = [
        ("ContinuousClock", "reads a clock"), ("SuspendingClock", "reads a clock"), ("Date(", "reads a clock"),
        ("DispatchQueue", "starts threads"), ("Task {", "starts a task"), ("Task.detached", "starts a task"),
        ("Thread", "starts threads"), ("SystemRandomNumberGenerator", "unseeded randomness"),
        ("fopen(", "file I/O"), ("FileManager", "file I/O"), ("socket(", "network I/O"),
        ("print(", "writes to stdout: report an event instead"),
    ]

    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static func swiftFiles(under directory: String) -> [URL] {
        let url = root.appendingPathComponent(directory)
        guard let enumerator = FileManager.default.enumerator(at: url, includingPropertiesForKeys: nil) else {
            return []
        }
        return enumerator.compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }.sorted { $0.path < $1.path }
    }

    /// Finds violations in one file's text; separated out so a deliberately bad file can show the check bites.
    static func violations(in text: String, file: String) -> [String] {
        var found: [String] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let code = line.split(separator: "//", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let trimmed = code.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("import ") || trimmed.contains(" import ") {
                let module = trimmed.split(separator: " ").last.map(String.init) ?? ""
                if !allowedImports.contains(module) { found.append("\(file):\(number + 1): imports \(module)") }
            }
            for (pattern, why) in forbidden where code.contains(pattern) {
                found.append("\(file):\(number + 1): '\(pattern)' \(why)")
            }
            if code.contains(".random(") && !code.contains("using:") {
                found.append("\(file):\(number + 1): random value without a seeded generator")
            }
        }
        return found
    }

    @Test("deterministic targets import only each other and use no clock, I/O, thread or unseeded randomness")
    func deterministicTargetsArePure() throws {
        var scanned = 0
        var all: [String] = []
        for target in Self.deterministicTargets {
            for file in Self.swiftFiles(under: target) {
                scanned += 1
                all += Self.violations(in: try String(contentsOf: file, encoding: .utf8), file: file.lastPathComponent)
            }
        }
        #expect(scanned >= 10, "the scan found too few files: is the path right?")
        #expect(all.isEmpty, "\(all.joined(separator: "\n"))")
    }

    @Test("the check catches a file that imports Foundation, reads the clock and draws unseeded randomness")
    func checkBites() {
        let bad = """
            import Foundation
            let now = ContinuousClock().now
            let coin = Bool.random()
            """
        #expect(Self.violations(in: bad, file: "Bad.swift").count == 3)
        #expect(Self.violations(in: "import BFTCore\nlet x = 1 // print(x)\n", file: "Good.swift").isEmpty)
    }
}
