import BFTCore
import BFTRuntime

/// A replica that lies in view changes: its view-change messages carry no prepared certificate, or the oldest
/// ones it ever reported instead of the newest (stale); as a new primary it sends a new-view whose pre-prepares
/// are all null requests, dropping what V shows prepared. Attacks the view change's safety (a committed request
/// must survive); the defences are 2f+1 view-changes in which f+1 correct replicas carry the certificate, the
/// highest-view rule, and backups recomputing O from V. Under the speculative protocol it instead replays, half
/// the time, the evidence of its earlier view-change whose commit certificate reached furthest, whatever has
/// happened since (the attack on Zyzzyva's published view change, which trusts the certificate with the highest
/// sequence number); the defence is ranking evidence by view.
public struct ViewChangeLiar: EffectsRewriter {
    public var context: AdversaryContext
    /// The first certificate it ever reported per sequence number.
    var stale: [UInt64: PreparedCertificate] = [:]
    /// Speculative protocol: the view-change whose commit certificate covered the highest sequence number.
    var furthest: (sequence: UInt64, message: ViewChange)?

    public init(_ context: AdversaryContext) { self.context = context }

    public mutating func rewrite(_ effects: Effects) -> Effects {
        var messages: [Outbound] = []
        for outbound in effects.messages {
            switch outbound.envelope.message {
            case .viewChange(let viewChange) where !viewChange.certificate.isEmpty || furthest != nil:
                messages.append(Outbound(context.sign(.viewChange(replayFurthest(viewChange))), to: outbound.destination))
            case .viewChange(var viewChange):
                for certificate in viewChange.prepared {
                    guard case .prePrepare(let p) = certificate.prePrepare.message else { continue }
                    if stale[p.sequence.rawValue] == nil { stale[p.sequence.rawValue] = certificate }
                }
                if context.chance(1, in: 2) {
                    viewChange.prepared = []
                } else {
                    viewChange.prepared = viewChange.prepared.map { certificate in
                        guard case .prePrepare(let p) = certificate.prePrepare.message else { return certificate }
                        return stale[p.sequence.rawValue] ?? certificate
                    }
                }
                messages.append(Outbound(context.sign(.viewChange(viewChange)), to: outbound.destination))
            case .newView(var newView):
                newView.prePrepares = newView.prePrepares.compactMap { envelope in
                    guard case .prePrepare(var p) = envelope.message else { return nil }
                    p.batch = []
                    p.digest = Replica.batchDigest([], suite: context.suite)
                    return context.sign(.prePrepare(p))
                }
                messages.append(Outbound(context.sign(.newView(newView)), to: outbound.destination))
            default:
                messages.append(outbound)
            }
        }
        return effects.with(messages: messages)
    }

    /// Keeps the speculative view-change whose certificate reached furthest, and sends it (for the new view) half
    /// the time instead of the true one.
    private mutating func replayFurthest(_ viewChange: ViewChange) -> ViewChange {
        let reach = viewChange.certificate.compactMap(Self.sequence).max() ?? 0
        if reach > (furthest?.sequence ?? 0) { furthest = (reach, viewChange) }
        guard var replay = furthest?.message, context.chance(1, in: 2) else { return viewChange }
        replay.newView = viewChange.newView
        return replay
    }

    private static func sequence(_ vote: Envelope) -> UInt64? {
        switch vote.message {
        case .specResponse(let r): r.sequence.rawValue
        case .historyVote(let v): v.sequence.rawValue
        default: nil
        }
    }
}
