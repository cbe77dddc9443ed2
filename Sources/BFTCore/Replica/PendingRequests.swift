/// The primary's queue of requests waiting for a batch: at most one per client (a client has one request
/// outstanding, PBFT §4.1), so a flooding client cannot grow it.
struct PendingRequests {
    private var byClient: [ClientID: (timestamp: Timestamp, envelope: Envelope, size: Int)] = [:]
    private var order: [ClientID] = []
    private var head = 0

    var count: Int { byClient.count }
    var isEmpty: Bool { byClient.isEmpty }

    func timestamp(of client: ClientID) -> Timestamp? { byClient[client]?.timestamp }

    mutating func insert(_ client: ClientID, _ timestamp: Timestamp, _ envelope: Envelope, size: Int) {
        if byClient[client] == nil { order.append(client) }
        byClient[client] = (timestamp, envelope, size)
    }

    mutating func remove(_ client: ClientID, upTo timestamp: Timestamp) {
        if let entry = byClient[client], entry.timestamp <= timestamp { byClient[client] = nil }
    }

    /// Takes requests in arrival order up to the count and byte limits (at least one).
    mutating func take(maxCount: Int, maxBytes: Int) -> [Envelope] {
        var batch: [Envelope] = []
        var bytes = 0
        while head < order.count, batch.count < maxCount {
            let client = order[head]
            guard let entry = byClient[client] else {
                head += 1
                continue
            }
            if !batch.isEmpty && bytes + entry.size > maxBytes { break }
            head += 1
            byClient[client] = nil
            batch.append(entry.envelope)
            bytes += entry.size
        }
        if head > 1024 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        return batch
    }
}
