import BFTCore
import BFTRuntime

/// Small-scope random faults in the spirit of ByzzFuzz (Winter et al., OOPSLA 2023): each protocol round (a
/// sequence number, or a view for view-change traffic) is faulty with probability 1/4; in a faulty round each
/// message it sends is, with probability 1/2, mutated in one field (view ±1, sequence ±1, a random digest) or
/// omitted, and re-signed with its own key. Combined with the simulator's partitions, it explores the corner cases
/// where a slightly wrong message meets a slightly stale replica. Attacks everything a little.
public struct Mutator: EffectsRewriter {
    public var context: AdversaryContext
    var faultyRounds: [UInt64: Bool] = [:]

    public init(_ context: AdversaryContext) { self.context = context }

    public mutating func rewrite(_ effects: Effects) -> Effects {
        var messages: [Outbound] = []
        for outbound in effects.messages {
            guard let round = Self.round(of: outbound.envelope.message), isFaulty(round), context.chance(1, in: 2) else {
                messages.append(outbound)
                continue
            }
            switch context.random.next() % 4 {
            case 0: continue  // omission
            case let kind:
                guard let mutated = mutate(outbound.envelope.message, kind: kind) else { continue }
                messages.append(Outbound(context.sign(mutated), to: outbound.destination))
            }
        }
        return effects.with(messages: messages)
    }

    mutating func isFaulty(_ round: UInt64) -> Bool {
        if let known = faultyRounds[round] { return known }
        if faultyRounds.count > 4096 { faultyRounds.removeAll() }
        let faulty = context.chance(1, in: 4)
        faultyRounds[round] = faulty
        return faulty
    }

    static func round(of message: Message) -> UInt64? {
        switch message {
        case .prePrepare(let m): m.sequence.rawValue
        case .prepare(let m): m.sequence.rawValue
        case .commit(let m): m.sequence.rawValue
        case .checkpoint(let m): m.sequence.rawValue
        case .viewChange(let m): 1 << 40 | m.newView.rawValue
        case .newView(let m): 1 << 40 | m.view.rawValue
        case .historyVote(let m): m.sequence.rawValue
        case .specResponse(let m): m.sequence.rawValue
        case .hateThePrimary(let m): 1 << 40 | m.view.rawValue
        default: nil
        }
    }

    mutating func shift(_ value: UInt64) -> UInt64 { context.chance(1, in: 2) ? value &+ 1 : (value == 0 ? 0 : value - 1) }

    mutating func mutate(_ message: Message, kind: UInt64) -> Message? {
        let digest = Digest(words: (context.random.next(), context.random.next(), 0, 0))
        switch message {
        case .prePrepare(var m):
            if kind == 1 { m.view = ViewNumber(shift(m.view.rawValue)) } else if kind == 2 {
                m.sequence = SequenceNumber(shift(m.sequence.rawValue))
            } else { m.digest = digest }
            return .prePrepare(m)
        case .prepare(var m):
            if kind == 1 { m.view = ViewNumber(shift(m.view.rawValue)) } else if kind == 2 {
                m.sequence = SequenceNumber(shift(m.sequence.rawValue))
            } else { m.digest = digest }
            return .prepare(m)
        case .commit(var m):
            if kind == 1 { m.view = ViewNumber(shift(m.view.rawValue)) } else if kind == 2 {
                m.sequence = SequenceNumber(shift(m.sequence.rawValue))
            } else { m.digest = digest }
            return .commit(m)
        case .checkpoint(var m):
            if kind == 2 { m.sequence = SequenceNumber(shift(m.sequence.rawValue)) } else { m.stateDigest = digest }
            return .checkpoint(m)
        case .viewChange(var m):
            if kind == 1 { m.newView = ViewNumber(shift(m.newView.rawValue)) } else { m.prepared = Array(m.prepared.dropLast()) }
            return .viewChange(m)
        case .newView(var m):
            m.prePrepares = Array(m.prePrepares.dropLast())
            return .newView(m)
        case .historyVote(var m):
            if kind == 1 { m.view = ViewNumber(shift(m.view.rawValue)) } else if kind == 2 {
                m.sequence = SequenceNumber(shift(m.sequence.rawValue))
            } else { m.history = digest }
            return .historyVote(m)
        case .specResponse(var m):
            if kind == 1 { m.view = ViewNumber(shift(m.view.rawValue)) } else if kind == 2 {
                m.sequence = SequenceNumber(shift(m.sequence.rawValue))
            } else { m.history = digest }
            return .specResponse(m)
        case .hateThePrimary(var m):
            m.view = ViewNumber(shift(m.view.rawValue))
            return .hateThePrimary(m)
        default:
            return nil
        }
    }
}
