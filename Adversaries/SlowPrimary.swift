import BFTCore
import BFTRuntime

/// A primary that orders just under the view-change timeout (Aardvark, NSDI 2009): it holds every pre-prepare for
/// 90 % of T ticks before sending it. Attacks throughput without tripping the timer; this engine has no
/// Aardvark-style throughput monitor, so the defence is only that progress never stops (liveness, slowly).
public struct SlowPrimary: ReplicaBehavior {
    public var context: AdversaryContext
    var held: [(release: UInt64, outbound: Outbound)] = []
    var ticks: UInt64 = 0

    public init(_ context: AdversaryContext) { self.context = context }

    public var status: ReplicaStatus { context.replica.status }

    var delay: UInt64 { context.replica.options.viewChangeTimeoutTicks * 9 / 10 }

    public mutating func receive(_ envelope: Envelope) -> Effects { hold(context.replica.receive(envelope)) }

    public mutating func endOfTurn() -> Effects { hold(context.replica.endOfTurn()) }

    public mutating func tick() -> Effects {
        ticks += 1
        var effects = hold(context.replica.tick())
        while let first = held.first, first.release <= ticks {
            effects.messages.append(first.outbound)
            held.removeFirst()
        }
        return effects
    }

    mutating func hold(_ effects: Effects) -> Effects {
        var copy = effects
        copy.messages = []
        for outbound in effects.messages {
            if case .prePrepare = outbound.envelope.message {
                held.append((ticks + delay, outbound))
            } else {
                copy.messages.append(outbound)
            }
        }
        return copy
    }
}
