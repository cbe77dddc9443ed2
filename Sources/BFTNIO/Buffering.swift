import BFTCore
import BFTRuntime
import BFTStorage

/// Collects the frames a host sends during one loop turn; the node writes them after the commit.
final class BufferingTransport: Transport {
    private var outbox: [([UInt8], Destination)] = []

    func send(_ frame: [UInt8], to destination: Destination) { outbox.append((frame, destination)) }

    func take() -> [([UInt8], Destination)] {
        defer { outbox.removeAll(keepingCapacity: true) }
        return outbox
    }

    func discard() { outbox.removeAll() }
}
