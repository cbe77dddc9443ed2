import BFTCore

/// Commands of the bundled key-value store, and their binary format (integers big-endian):
///
///     command := 1 put    | key:bytes | value:bytes                      → ok
///              | 2 get    | key:bytes                                    → value | notFound
///              | 3 delete | key:bytes                                    → ok | notFound
///              | 4 cas    | key:bytes | expected:optional | new:bytes    → ok | mismatch(current:optional)
///              | 5 append | key:bytes | suffix:bytes                     → value (the new value)
///              | 6 null   | key:bytes (empty) | payload:bytes | replyBytes:u32   → value (replyBytes zero bytes)
///     bytes    := length:u32 | length bytes
///     optional := 0x00 (absent) | 0x01 bytes
///
///     result  := 0 ok | 1 value:bytes | 2 notFound | 3 mismatch:optional | 255 invalid:bytes (a UTF-8 reason)
///
/// `append` returns the new value, so the order in which appends ran is visible in their results. `null` changes
/// nothing: it is the null operation of PBFT's benchmarks, with a request and a reply of chosen sizes.
public enum KeyValueCommand: Hashable, Sendable {
    case put(key: [UInt8], value: [UInt8])
    case get(key: [UInt8])
    case delete(key: [UInt8])
    case compareAndSet(key: [UInt8], expected: [UInt8]?, new: [UInt8])
    case append(key: [UInt8], suffix: [UInt8])
    case null(payload: [UInt8], replyBytes: UInt32)

    public static let maxKeyBytes = 1024
    public static let maxValueBytes = 1 << 20

    public var key: [UInt8] {
        switch self {
        case .put(let key, _), .get(let key), .delete(let key), .compareAndSet(let key, _, _), .append(let key, _): key
        case .null: []
        }
    }

    public var isReadOnly: Bool { if case .get = self { true } else { false } }

    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 16 + key.count)
        switch self {
        case .put(let key, let value):
            writer.u8(1)
            writer.byteString(key)
            writer.byteString(value)
        case .get(let key):
            writer.u8(2)
            writer.byteString(key)
        case .delete(let key):
            writer.u8(3)
            writer.byteString(key)
        case .compareAndSet(let key, let expected, let new):
            writer.u8(4)
            writer.byteString(key)
            writeOptional(&writer, expected)
            writer.byteString(new)
        case .append(let key, let suffix):
            writer.u8(5)
            writer.byteString(key)
            writer.byteString(suffix)
        case .null(let payload, let replyBytes):
            writer.u8(6)
            writer.byteString([])
            writer.byteString(payload)
            writer.u32(replyBytes)
        }
        return writer.bytes
    }

    /// Decodes a command; a malformed one gets a reason instead of a crash.
    public static func decode(_ bytes: [UInt8]) -> Result<KeyValueCommand, KeyValueError> {
        var reader = ByteReader(bytes[...])
        do throws(DecodeError) {
            let op = try reader.u8()
            let key = try reader.byteString("key", limit: maxKeyBytes)
            let command: KeyValueCommand
            switch op {
            case 1: command = .put(key: key, value: try reader.byteString("value", limit: maxValueBytes))
            case 2: command = .get(key: key)
            case 3: command = .delete(key: key)
            case 4:
                let expected = try readOptional(&reader)
                command = .compareAndSet(
                    key: key, expected: expected, new: try reader.byteString("new", limit: maxValueBytes))
            case 5: command = .append(key: key, suffix: try reader.byteString("suffix", limit: maxValueBytes))
            case 6 where key.isEmpty:
                let payload = try reader.byteString("payload", limit: maxValueBytes)
                let replyBytes = try reader.u32()
                guard replyBytes <= maxValueBytes else {
                    return .failure(KeyValueError(reason: "a null reply of \(replyBytes) bytes exceeds 1 MiB"))
                }
                command = .null(payload: payload, replyBytes: replyBytes)
            default: return .failure(KeyValueError(reason: "unknown operation \(op)"))
            }
            try reader.expectEnd()
            return .success(command)
        } catch {
            return .failure(KeyValueError(reason: error.description))
        }
    }
}

public struct KeyValueError: Error, Hashable, Sendable {
    public var reason: String
}

public enum KeyValueResult: Hashable, Sendable {
    case ok
    case value([UInt8])
    case notFound
    case mismatch(current: [UInt8]?)
    case invalid(String)

    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        switch self {
        case .ok: writer.u8(0)
        case .value(let value):
            writer.u8(1)
            writer.byteString(value)
        case .notFound: writer.u8(2)
        case .mismatch(let current):
            writer.u8(3)
            writeOptional(&writer, current)
        case .invalid(let reason):
            writer.u8(255)
            writer.byteString(Array(reason.utf8))
        }
        return writer.bytes
    }

    public static func decode(_ bytes: [UInt8]) -> KeyValueResult? {
        var reader = ByteReader(bytes[...])
        do throws(DecodeError) {
            let result: KeyValueResult
            switch try reader.u8() {
            case 0: result = .ok
            case 1: result = .value(try reader.byteString("value", limit: Int.max))
            case 2: result = .notFound
            case 3: result = .mismatch(current: try readOptional(&reader))
            case 255: result = .invalid(String(decoding: try reader.byteString("reason", limit: 4096), as: UTF8.self))
            default: return nil
            }
            try reader.expectEnd()
            return result
        } catch {
            return nil
        }
    }
}

private func writeOptional(_ writer: inout ByteWriter, _ value: [UInt8]?) {
    if let value {
        writer.u8(1)
        writer.byteString(value)
    } else {
        writer.u8(0)
    }
}

private func readOptional(_ reader: inout ByteReader) throws(DecodeError) -> [UInt8]? {
    switch try reader.u8() {
    case 0: return nil
    case 1: return try reader.byteString("optional", limit: KeyValueCommand.maxValueBytes)
    case let other: throw .invalidValue(field: "optional", value: UInt64(other))
    }
}

/// Bytes as a quoted string when they are printable UTF-8, else as hex: for people reading logs and demos.
func readable(_ bytes: [UInt8]) -> String {
    if let text = String(validating: bytes, as: UTF8.self), text.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f }) {
        return "\"\(text)\""
    }
    return "0x" + Hex.encode(bytes)
}

extension KeyValueCommand: CustomStringConvertible {
    public var description: String {
        switch self {
        case .put(let key, let value): "put \(readable(key)) = \(readable(value))"
        case .get(let key): "get \(readable(key))"
        case .delete(let key): "delete \(readable(key))"
        case .compareAndSet(let key, let expected, let new):
            "cas \(readable(key)) from \(expected.map(readable) ?? "absent") to \(readable(new))"
        case .append(let key, let suffix): "append \(readable(suffix)) to \(readable(key))"
        case .null(let payload, let replyBytes): "null (\(payload.count) bytes in, \(replyBytes) out)"
        }
    }
}

extension KeyValueResult: CustomStringConvertible {
    public var description: String {
        switch self {
        case .ok: "ok"
        case .value(let value): readable(value)
        case .notFound: "not found"
        case .mismatch(let current): "mismatch (current value \(current.map(readable) ?? "absent"))"
        case .invalid(let reason): "invalid: \(reason)"
        }
    }
}
