import BFTCore
import BFTRuntime

/// Every Byzantine behaviour by name, with what it attacks. `bftsim sweep --adversary NAME` and
/// `bftreplica run --adversary NAME` look names up here.
public struct AdversaryEntry: Sendable {
    public let name: String
    public let description: String
    /// The property the attack aims at, and the defence that must hold.
    public let attacks: String
    public let make: @Sendable (AdversaryContext) -> any ReplicaBehavior
}

public enum AdversaryCatalog {
    public static let all: [AdversaryEntry] = [
        AdversaryEntry(
            name: "equivocating-primary",
            description: "conflicting pre-prepares (order-reqs: a forked history) for one slot to different backups",
            attacks: "agreement (2f+1 matching votes; speculatively 3f+1 or a certificate, proofs of misbehaviour, "
                + "rollback)") { EquivocatingPrimary($0) },
        AdversaryEntry(
            name: "equivocating-backup", description: "prepares and commits for different digests to different replicas",
            attacks: "agreement (one vote per replica per slot)") { EquivocatingBackup($0) },
        AdversaryEntry(
            name: "silent", description: "runs the protocol but sends nothing",
            attacks: "liveness (quorums without it; a view change if it is the primary)") { Silent($0) },
        AdversaryEntry(
            name: "selectively-silent", description: "talks to only part of the group",
            attacks: "liveness (quorums, retransmission, view change)") { SelectivelySilent($0) },
        AdversaryEntry(
            name: "partial-primary", description: "as primary, sends each pre-prepare to only f backups",
            attacks: "liveness (the view change)") { PartialPrimary($0) },
        AdversaryEntry(
            name: "lying-replier", description: "answers clients with wrong results",
            attacks: "client-visible safety (f+1 matching replies)") { LyingReplier($0) },
        AdversaryEntry(
            name: "lying-checkpointer", description: "wrong checkpoint digests, corrupt state-transfer chunks",
            attacks: "checkpoint agreement and state transfer (2f+1 certificates, digest check)") { LyingCheckpointer($0) },
        AdversaryEntry(
            name: "forger", description: "messages claiming other senders, and bad signatures",
            attacks: "authentication (every signature checked against the named sender)") { Forger($0) },
        AdversaryEntry(
            name: "replayer", description: "replays old messages from past views and sequence numbers",
            attacks: "freshness (view and watermark checks, one vote per slot, the reply table)") { Replayer($0) },
        AdversaryEntry(
            name: "view-change-liar",
            description: "omits or replays stale certificates (speculatively: its furthest-reaching old view-change); "
                + "forges new-views as primary",
            attacks: "view-change safety (highest-view rule, evidence ranked by view, recomputed new-views)") {
                ViewChangeLiar($0)
            },
        AdversaryEntry(
            name: "slow-primary", description: "holds each pre-prepare for 90% of the view-change timeout",
            attacks: "throughput (no Aardvark monitor here: progress only has to continue)") { SlowPrimary($0) },
        AdversaryEntry(
            name: "mutator", description: "ByzzFuzz-style small mutations (view ±1, sequence ±1, digest, omission)",
            attacks: "everything a little (all checks)") { Mutator($0) },
    ]

    public static func named(_ name: String) -> AdversaryEntry? { all.first { $0.name == name } }

    public static var names: [String] { all.map(\.name) }
}
