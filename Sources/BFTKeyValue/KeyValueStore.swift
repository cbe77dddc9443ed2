import BFTCore

/// The bundled deterministic application: a key-value store. Its snapshot lists entries in ascending key order,
/// so equal stores have equal snapshots whatever order the dictionary keeps.
public struct KeyValueStore: StateMachine, Hashable {
    public private(set) var entries: [[UInt8]: [UInt8]] = [:]

    public init() {}

    public mutating func apply(_ command: [UInt8]) -> [UInt8] {
        switch KeyValueCommand.decode(command) {
        case .failure(let error): KeyValueResult.invalid(error.reason).encoded()
        case .success(let command): execute(command).encoded()
        }
    }

    public mutating func execute(_ command: KeyValueCommand) -> KeyValueResult {
        switch command {
        case .put(let key, let value):
            entries[key] = value
            return .ok
        case .get(let key):
            return entries[key].map(KeyValueResult.value) ?? .notFound
        case .delete(let key):
            return entries.removeValue(forKey: key) == nil ? .notFound : .ok
        case .compareAndSet(let key, let expected, let new):
            guard entries[key] == expected else { return .mismatch(current: entries[key]) }
            entries[key] = new
            return .ok
        case .append(let key, let suffix):
            let value = (entries[key] ?? []) + suffix
            guard value.count <= KeyValueCommand.maxValueBytes else { return .invalid("value would exceed 1 MiB") }
            entries[key] = value
            return .value(value)
        case .null(_, let replyBytes):
            return .value([UInt8](repeating: 0, count: Int(replyBytes)))
        }
    }

    public func snapshot() -> [UInt8] {
        var writer = ByteWriter()
        let keys = entries.keys.sorted { $0.lexicographicallyPrecedes($1) }
        writer.u32(UInt32(keys.count))
        for key in keys {
            writer.byteString(key)
            writer.byteString(entries[key] ?? [])
        }
        return writer.bytes
    }

    public mutating func restore(_ snapshot: [UInt8]) -> Bool {
        var reader = ByteReader(snapshot[...])
        var restored: [[UInt8]: [UInt8]] = [:]
        do throws(DecodeError) {
            let count = Int(try reader.u32())
            guard count * 8 <= reader.remaining else { return false }
            var previous: [UInt8]?
            for _ in 0..<count {
                let key = try reader.byteString("key", limit: KeyValueCommand.maxKeyBytes)
                let value = try reader.byteString("value", limit: KeyValueCommand.maxValueBytes)
                // Canonical snapshots list keys strictly ascending; anything else is corrupt.
                if let previous, !previous.lexicographicallyPrecedes(key) { return false }
                previous = key
                restored[key] = value
            }
            try reader.expectEnd()
        } catch {
            return false
        }
        entries = restored
        return true
    }
}
