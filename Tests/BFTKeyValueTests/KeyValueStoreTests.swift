import BFTCore
import BFTKeyValue
import Testing

@Suite("Key-value store")
struct KeyValueStoreTests {
    private func run(_ store: inout KeyValueStore, _ command: KeyValueCommand) -> KeyValueResult? {
        KeyValueResult.decode(store.apply(command.encoded()))
    }

    @Test("put, get, delete, compare-and-set and append behave as documented")
    func operations() {
        var store = KeyValueStore()
        let k = Array("k".utf8)
        #expect(run(&store, .get(key: k)) == .notFound)
        #expect(run(&store, .put(key: k, value: [1])) == .ok)
        #expect(run(&store, .get(key: k)) == .value([1]))
        #expect(run(&store, .compareAndSet(key: k, expected: [2], new: [3])) == .mismatch(current: [1]))
        #expect(run(&store, .compareAndSet(key: k, expected: [1], new: [3])) == .ok)
        #expect(run(&store, .append(key: k, suffix: [4])) == .value([3, 4]))
        #expect(run(&store, .delete(key: k)) == .ok)
        #expect(run(&store, .delete(key: k)) == .notFound)
        #expect(run(&store, .compareAndSet(key: k, expected: nil, new: [9])) == .ok)
        #expect(run(&store, .append(key: Array("new".utf8), suffix: [7])) == .value([7]))
    }

    @Test("null: a reply of the asked size, the state unchanged; an oversized reply or a key is refused")
    func nullOperation() {
        var store = KeyValueStore()
        _ = run(&store, .put(key: [1], value: [2]))
        let before = store.snapshot()
        #expect(run(&store, .null(payload: [UInt8](repeating: 7, count: 128), replyBytes: 64))
            == .value([UInt8](repeating: 0, count: 64)))
        #expect(run(&store, .null(payload: [], replyBytes: 0)) == .value([]))
        #expect(store.snapshot() == before)
        let oversized = KeyValueCommand.null(payload: [], replyBytes: UInt32(KeyValueCommand.maxValueBytes + 1))
        guard case .invalid = KeyValueResult.decode(store.apply(oversized.encoded())) else {
            Issue.record("an oversized null reply was not refused")
            return
        }
        // The key slot of a null operation must be empty.
        guard case .invalid = KeyValueResult.decode(store.apply([6, 0, 0, 0, 1, 9, 0, 0, 0, 0, 0, 0, 0, 0])) else {
            Issue.record("a null operation with a key was not refused")
            return
        }
    }

    @Test("an invalid command gets an error result, never a crash", arguments: [
        [], [0], [9, 0, 0, 0, 0], [1, 0, 0, 0, 5, 1], [2, 0, 0, 0, 1, 7, 0], [4, 0, 0, 0, 0, 2],
    ] as [[UInt8]])
    func invalidCommands(bytes: [UInt8]) {
        var store = KeyValueStore()
        guard case .invalid = KeyValueResult.decode(store.apply(bytes)) else {
            Issue.record("expected an invalid result for \(bytes)")
            return
        }
        #expect(store.entries.isEmpty)
    }

    @Test("random garbage never crashes the store and never changes it")
    func garbage() {
        var random = SeededRandom(seed: 99)
        var store = KeyValueStore()
        for _ in 0..<20_000 {
            var bytes = (0..<Int(random.next() % 24)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if !bytes.isEmpty { bytes[0] = UInt8(1 + random.next() % 5) }
            let before = store.snapshot()
            if case .invalid = KeyValueResult.decode(store.apply(bytes)) { #expect(store.snapshot() == before) }
        }
    }

    @Test("snapshots are canonical and restore exactly; a corrupt snapshot is refused without change")
    func snapshots() {
        var a = KeyValueStore()
        var b = KeyValueStore()
        for i in 0..<50 { _ = a.apply(KeyValueCommand.put(key: [UInt8(i)], value: [UInt8(i), 1]).encoded()) }
        for i in (0..<50).reversed() { _ = b.apply(KeyValueCommand.put(key: [UInt8(i)], value: [UInt8(i), 1]).encoded()) }
        #expect(a.snapshot() == b.snapshot())
        var restored = KeyValueStore()
        let restoredOK = restored.restore(a.snapshot())
        #expect(restoredOK)
        #expect(restored == a)
        var corrupt = a.snapshot()
        corrupt.removeLast()
        let corruptOK = restored.restore(corrupt)
        #expect(!corruptOK)
        #expect(restored == a)
    }

    @Test("results round-trip through their encoding")
    func resultCodec() {
        for result in [KeyValueResult.ok, .value([1, 2]), .notFound, .mismatch(current: nil), .mismatch(current: [3]),
                       .invalid("bad")] {
            #expect(KeyValueResult.decode(result.encoded()) == result)
        }
    }
}
