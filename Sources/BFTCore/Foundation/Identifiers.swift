/// Identifiers used throughout the protocol. Each is a distinct type so a view can never be passed where a
/// sequence number is expected (PBFT's v, n, i, c and t).

/// A replica's index, 0 ..< n. The primary of view v is v mod n (PBFT §4.1).
public struct ReplicaID: RawRepresentable, Hashable, Comparable, Sendable, ExpressibleByIntegerLiteral,
    CustomStringConvertible
{
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ value: UInt32) { self.rawValue = value }
    public init(integerLiteral value: UInt32) { self.rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "r\(rawValue)" }
}

/// A client's identity; chosen by the deployment, bound to a public key.
public struct ClientID: RawRepresentable, Hashable, Comparable, Sendable, ExpressibleByIntegerLiteral,
    CustomStringConvertible
{
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    public init(integerLiteral value: UInt64) { self.rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "c\(rawValue)" }
}

/// A view number v. Views only grow.
public struct ViewNumber: RawRepresentable, Hashable, Comparable, Sendable, ExpressibleByIntegerLiteral,
    CustomStringConvertible
{
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    public init(integerLiteral value: UInt64) { self.rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "v\(rawValue)" }
    /// The view after this one; the protocol never gets near 2^64 views, so overflow is a programmer error.
    public var next: ViewNumber { ViewNumber(rawValue + 1) }
}

/// A sequence number n assigned by the primary; execution follows it strictly.
public struct SequenceNumber: RawRepresentable, Hashable, Comparable, Sendable, ExpressibleByIntegerLiteral,
    CustomStringConvertible
{
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    public init(integerLiteral value: UInt64) { self.rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "n\(rawValue)" }
    public var next: SequenceNumber { SequenceNumber(rawValue + 1) }
}

/// A client's request timestamp t: strictly increasing per client, which gives exactly-once semantics (PBFT §4.1).
public struct Timestamp: RawRepresentable, Hashable, Comparable, Sendable, ExpressibleByIntegerLiteral,
    CustomStringConvertible
{
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public init(_ value: UInt64) { self.rawValue = value }
    public init(integerLiteral value: UInt64) { self.rawValue = value }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "t\(rawValue)" }
}

/// Who signed a message: a replica or a client. Both kinds sign with their own Ed25519 key.
public enum Principal: Hashable, Sendable, CustomStringConvertible {
    case replica(ReplicaID)
    case client(ClientID)

    public var description: String {
        switch self {
        case .replica(let id): id.description
        case .client(let id): id.description
        }
    }

    public var replicaID: ReplicaID? {
        if case .replica(let id) = self { return id }
        return nil
    }

    public var clientID: ClientID? {
        if case .client(let id) = self { return id }
        return nil
    }
}
