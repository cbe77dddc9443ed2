import BFTCore
import Dispatch
import NIOCore

/// Checks the Ed25519 signatures of one read's frames on every core before the replica core sees them, then
/// answers the core's `verify` calls for exactly those (signature, bytes, key) triples from the results.
///
/// Why: with signed client requests a backup checks a whole batch's signatures (256 × ~60 µs) in one pre-prepare,
/// and the primary a read's worth of requests, in one single-threaded loop turn, while the other core often idles
/// (the batches move through the five processes as a convoy). The core itself stays single-threaded and
/// deterministic: it asks the same questions and gets the same answers, only sooner.
///
/// Sound by construction: an answer is reused only for the very signature, bytes and key it was computed for, and
/// anything else goes to the real check. Results live for one read (`forget()`), so the table is bounded.
final class PreverifyingSuite: CryptoSuite {
    let base: any CryptoSuite
    /// Below this many signatures in a read, starting threads costs more than it saves.
    let minimumParallel: Int
    private var checked: [Signature: Entry] = [:]
    /// Signatures whose answer came from the table (for tests and the metrics).
    private(set) var answered = 0
    /// Slots of `lookedAheadView` whose pre-prepare was looked at already: a primary that sends a slot's
    /// pre-prepare again (or another one for it) buys no second batch of checks.
    private var lookedAhead: Set<SequenceNumber> = []
    private var lookedAheadView: ViewNumber?

    private struct Entry {
        var key: PublicKey
        var bytes: [UInt8]
        var valid: Bool
    }

    init(base: any CryptoSuite, minimumParallel: Int = 8) {
        self.base = base
        self.minimumParallel = minimumParallel
    }

    func digest(_ bytes: UnsafeRawBufferPointer) -> Digest { base.digest(bytes) }

    func verify(_ signature: Signature, of message: UnsafeRawBufferPointer, by key: PublicKey) -> Bool {
        if let entry = checked[signature], entry.key == key, entry.bytes.elementsEqual(message) {
            answered += 1
            return entry.valid
        }
        return base.verify(signature, of: message, by: key)
    }

    var verifiesConcurrently: Bool { false }

    /// What the replica accepts pre-prepares for right now: its view, that view's primary and the watermarks.
    struct Window {
        var view: ViewNumber
        var primary: Principal
        var low: SequenceNumber
        var high: SequenceNumber

        func admits(_ prePrepare: PrePrepare, from sender: Principal) -> Bool {
            prePrepare.view == view && sender == primary && prePrepare.sequence > low && prePrepare.sequence <= high
        }
    }

    /// Checks, on every core, the signatures the core will ask about when it handles `envelopes`: signed client
    /// requests, and signed pre-prepares (order-reqs) that `window` admits, with the signed requests of their
    /// batch. Others are left to the core, which rejects most of them before checking anything: looking ahead at
    /// them would let a faulty replica buy a batch of checks with one stale pre-prepare. Votes are left too (the
    /// core drops those for a slot that already has its quorum unchecked).
    func check(_ envelopes: [Envelope], directory: KeyDirectory, window: Window?) {
        guard base.verifiesConcurrently else { return }
        var jobs: [Job] = []
        for envelope in envelopes { collect(envelope, directory, window, into: &jobs) }
        guard jobs.count >= minimumParallel else { return }
        let results = Self.run(jobs, base)
        for (job, valid) in zip(jobs, results) {
            checked[job.signature] = Entry(key: job.key, bytes: job.bytes, valid: valid)
        }
    }

    /// Drops the results of the last read.
    func forget() {
        if !checked.isEmpty { checked.removeAll(keepingCapacity: true) }
    }

    struct Job: Sendable {
        var signature: Signature
        var bytes: [UInt8]
        var key: PublicKey
    }

    private func collect(_ envelope: Envelope, _ directory: KeyDirectory, _ window: Window?, into jobs: inout [Job]) {
        guard let signature = envelope.signature else { return }
        switch envelope.message {
        case .request:
            // Keys are looked up here, on the loop (`digest` may reuse a context); a wrong guess only wastes a
            // check, since the core's own lookup must name the same key for the answer to be used.
            guard let key = directory.verifyingKey(for: envelope, suite: base) else { return }
            jobs.append(Job(signature: signature, bytes: envelope.signedBytes, key: key))
        case .prePrepare(let prePrepare):
            guard let window, window.admits(prePrepare, from: envelope.sender), firstLook(prePrepare, window),
                let key = directory.key(of: envelope.sender)
            else { return }
            jobs.append(Job(signature: signature, bytes: envelope.signedBytes, key: key))
            for request in prePrepare.batch { collect(request, directory, nil, into: &jobs) }
        default:
            return
        }
    }

    /// Whether this is the first pre-prepare for its slot looked at in this view (bounded: slots at or below the
    /// low watermark are forgotten).
    private func firstLook(_ prePrepare: PrePrepare, _ window: Window) -> Bool {
        if lookedAheadView != window.view {
            lookedAheadView = window.view
            lookedAhead.removeAll()
        }
        if lookedAhead.count >= 4096 { lookedAhead = lookedAhead.filter { $0 > window.low } }
        return lookedAhead.insert(prePrepare.sequence).inserted
    }

    /// The jobs' answers, computed in parallel (the calling thread takes a share).
    private static func run(_ jobs: [Job], _ base: any CryptoSuite) -> [Bool] {
        let lanes = min(jobs.count, max(1, System.coreCount))
        var results = [Bool](repeating: false, count: jobs.count)
        results.withUnsafeMutableBufferPointer { buffer in
            let shared = UnsafeTransfer((buffer, base))
            DispatchQueue.concurrentPerform(iterations: lanes) { lane in
                let (buffer, base) = shared.value
                // Lane k takes jobs k, k + lanes, …: each result slot is written by one lane only.
                for index in stride(from: lane, to: jobs.count, by: lanes) {
                    let job = jobs[index]
                    buffer[index] = base.verify(job.signature, of: job.bytes, by: job.key)
                }
            }
        }
        return results
    }
}
