import NIOCore

/// Inbound frames from peers and clients, handed to the node on its loop.
final class InboundHandler: ChannelInboundHandler {
    typealias InboundIn = [UInt8]
    let node: UnsafeTransfer<ReplicaNode>
    var reason: String?
    var counted = false

    init(node: UnsafeTransfer<ReplicaNode>) { self.node = node }

    func channelActive(context: ChannelHandlerContext) {
        counted = node.value.accepted(context.channel)
        guard counted else { return context.close(promise: nil) }
        context.fireChannelActive()
    }

    /// Frames of the current read, handed over together at its end (bounded by what one read delivers).
    var pending: [[UInt8]] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending.append(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        deliver(context.channel)
        context.fireChannelReadComplete()
    }

    private func deliver(_ channel: Channel) {
        guard !pending.isEmpty else { return }
        let frames = pending
        pending.removeAll(keepingCapacity: true)
        node.value.received(frames, on: channel)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            reason = "idle"
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        reason = error is FrameError ? "bad frame length" : "connection error"
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Frames decoded at end of stream come without a read-complete.
        if counted { deliver(context.channel) }
        if counted { node.value.closed(context.channel, reason: reason) }
    }
}
