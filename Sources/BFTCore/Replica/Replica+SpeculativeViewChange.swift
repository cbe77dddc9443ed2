/// The speculative protocol's view change, with evidence ranked by view (Abraham, Gueta, Malkhi, Alvisi, Kotla,
/// Martin, "Revisiting Fast Practical Byzantine Fault Tolerance", arXiv 1712.01367, and "… Thelma, Velma, and
/// Zelma", arXiv 1801.10022). Zyzzyva's published rule takes the commit certificate with the highest sequence
/// number and lets it override a request that completed on the fast path in a later view; kept here only as the
/// broken variant `publishedViewChange`.
///
/// A view-change carries the sender's stable checkpoint (whose proof names h at it), the order-reqs of its history
/// above it, and its highest commit certificate. For each slot the new primary takes the value of the highest view
/// with strong evidence: a commit certificate from that view covering the slot, or f+1 matching order-reqs from that
/// view. A request that completed at n in view u left either 2f+1 correct replicas with its order-req (fast path:
/// at least f+1 of them in any 2f+1 view-changes) or f+1 correct replicas holding its certificate (at least one in
/// any 2f+1); by induction every view above u that was entered kept it, and entering a view needs 2f+1 votes for
/// its history (view-confirm), which is itself a certificate in that view. So the highest strong evidence for n is
/// always the completed value.
extension Replica {
    /// The order-reqs of this replica's history above its stable checkpoint, as far as they chain.
    func speculativeEvidence() -> [PreparedCertificate] {
        var previous = speculation.stableHistory
        var evidence: [PreparedCertificate] = []
        var number = lowWatermark.rawValue + 1
        while let slot = log[number], let order = slot.prePrepare, let digest = slot.digest,
            slot.history == chained(previous, digest)
        {
            evidence.append(PreparedCertificate(prePrepare: order, prepares: []))
            previous = slot.history
            number += 1
        }
        return evidence
    }

    /// The certificate a view-change carries: the highest held, if it covers anything above the checkpoint.
    var certificateForViewChange: [Envelope] {
        guard let certificate = speculation.certificate, certificate.sequence > lowWatermark else { return [] }
        return certificate.votes
    }

    /// A speculative view-change is valid when its checkpoint proof holds, its order-reqs come from their views'
    /// primaries, follow each other from the checkpoint and chain onto h at it, and its certificate, if any, is
    /// valid, older than the new view, and agrees with those order-reqs.
    func isValidSpeculative(_ message: ViewChange) -> Bool {
        var previousHistory = Digest.zero
        if message.stableSequence != 0 {
            guard message.stableSequence.rawValue % options.checkpointInterval == 0,
                checkpointDigest(message.checkpointProof, at: message.stableSequence) != nil,
                let history = proofHistory(message.checkpointProof)
            else { return false }
            previousHistory = history
        } else if !message.checkpointProof.isEmpty {
            return false
        }
        var previous = message.stableSequence
        let window = message.stableSequence.rawValue + options.logWindow
        var histories: [UInt64: Digest] = [:]
        for entry in message.prepared {
            guard entry.prepares.isEmpty, case .prePrepare(let p) = entry.prePrepare.message,
                p.view < message.newView, p.sequence == previous.next, p.sequence.rawValue <= window,
                entry.prePrepare.sender == .replica(configuration.primary(of: p.view)),
                p.batch.count <= options.maxBatchRequests, batchDigest(p.batch) == p.digest,
                p.history == chained(previousHistory, p.digest), verified(entry.prePrepare)
            else { return false }
            previous = p.sequence
            previousHistory = p.history
            histories[p.sequence.rawValue] = p.history
        }
        guard !message.certificate.isEmpty else { return true }
        guard let certificate = validCertificate(message.certificate), certificate.view < message.newView else {
            return false
        }
        return certificate.sequence <= message.stableSequence
            || histories[certificate.sequence.rawValue] == certificate.history
    }

    /// h at a checkpoint, as its proof names it.
    func proofHistory(_ proof: [Envelope]) -> Digest? {
        guard case .checkpoint(let first)? = proof.first?.message else { return nil }
        return first.history
    }

    /// One view-change's evidence, indexed by sequence number.
    private struct Evidence {
        var orders: [UInt64: PrePrepare] = [:]
        /// The certificate's view and the highest sequence number it covers, above the sender's checkpoint.
        var certificate: (view: ViewNumber, sequence: SequenceNumber)?
    }

    func planSpeculativeView(_ viewChanges: [ViewChange]) -> NewViewPlan {
        var plan = NewViewPlan(stableSequence: 0, stableDigest: nil, stableProof: [], entries: [])
        for message in viewChanges where message.stableSequence > plan.stableSequence {
            plan.stableSequence = message.stableSequence
            plan.stableDigest = checkpointDigest(message.checkpointProof)
            plan.stableProof = message.checkpointProof
            plan.stableHistory = proofHistory(message.checkpointProof) ?? .zero
        }
        let evidence = viewChanges.map { message in
            var indexed = Evidence()
            for case .prePrepare(let p) in message.prepared.map(\.prePrepare.message) { indexed.orders[p.sequence.rawValue] = p }
            if let certificate = validCertificate(message.certificate), certificate.sequence > message.stableSequence {
                indexed.certificate = (certificate.view, certificate.sequence)
            }
            return indexed
        }
        var previous = plan.stableHistory
        var number = plan.stableSequence.rawValue + 1
        let published = options.deviations.publishedViewChange ? publishedChoices(evidence, above: number) : nil
        while true {
            let choice = published.map { $0[number] ?? nil } ?? viewRankedChoice(evidence, at: number)
            guard let order = choice, order.history == chained(previous, order.digest) else { break }
            plan.entries.append(NewViewPlan.Entry(
                sequence: SequenceNumber(number), digest: order.digest, batch: order.batch, history: order.history))
            previous = order.history
            number += 1
        }
        return plan
    }

    /// The value of the highest view with strong evidence at `number`: a certificate from that view covering it
    /// (preferred within the view), or f+1 matching order-reqs from that view. Nil when no view has strong
    /// evidence: then nothing can have completed at `number`, nor above it.
    private func viewRankedChoice(_ evidence: [Evidence], at number: UInt64) -> PrePrepare? {
        var best: (view: ViewNumber, certified: Bool, order: PrePrepare)?
        func consider(_ view: ViewNumber, _ certified: Bool, _ order: PrePrepare) {
            if let current = best {
                if (view, certified ? 1 : 0) < (current.view, current.certified ? 1 : 0) { return }
                if (view, certified) == (current.view, current.certified),
                    !order.history.bytes.lexicographicallyPrecedes(current.order.history.bytes)
                {
                    return
                }
            }
            best = (view, certified, order)
        }
        for item in evidence {
            guard let order = item.orders[number] else { continue }
            if let certificate = item.certificate, certificate.sequence.rawValue >= number {
                consider(certificate.view, true, order)
            }
            let matching = evidence.count { $0.orders[number].map { ($0.view, $0.history) == (order.view, order.history) } ?? false }
            if matching >= configuration.weakQuorum { consider(order.view, false, order) }
        }
        return best?.order
    }

    /// Zyzzyva's published rule (the broken variant): the history of the certificate with the highest sequence
    /// number, whatever its view, then slots that f+1 view-changes back, whatever their views.
    private func publishedChoices(_ evidence: [Evidence], above first: UInt64) -> [UInt64: PrePrepare?] {
        var choices: [UInt64: PrePrepare?] = [:]
        var number = first
        if let holder = evidence.filter({ $0.certificate != nil }).max(by: {
            ($0.certificate?.sequence ?? 0) < ($1.certificate?.sequence ?? 0)
        }), let top = holder.certificate?.sequence.rawValue, top >= first {
            for n in first...top { choices[n] = holder.orders[n] }
            number = top + 1
        }
        while let order = evidence.compactMap({ $0.orders[number] }).first(where: { candidate in
            evidence.count { $0.orders[number]?.history == candidate.history } >= configuration.weakQuorum
        }) {
            choices[number] = order
            number += 1
        }
        return choices
    }
}
