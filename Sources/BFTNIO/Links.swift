import NIOCore
import NIOPosix

/// An outgoing TCP connection to one address that reconnects with exponential backoff and holds frames in a
/// bounded queue while it is down: a slow or dead peer costs at most `maxQueuedBytes`, and frames beyond that are
/// dropped and counted (the protocol retransmits what matters). Confined to its event loop.
package final class Link {
    let host: String
    let port: Int
    let loop: EventLoop
    let maxQueuedBytes: Int
    /// Called on the loop for each frame received on this connection (replies, for a client's links).
    let onFrame: (([UInt8]) -> Void)?
    /// Called on the loop each time a connection is established (first time and after every reconnect).
    package var onConnect: (() -> Void)?
    let maximumFrameBytes: Int

    private(set) var channel: Channel?
    private var connecting = false
    private var closed = false
    private var backoff = TimeAmount.milliseconds(50)
    private var queue: [[UInt8]] = []
    private var queuedBytes = 0
    /// Frames written since the last flush, in one buffer: a flush is one write, however many frames a turn made.
    private var outgoing: ByteBuffer?
    package private(set) var dropped = 0
    package private(set) var reconnects = 0

    package init(host: String, port: Int, loop: EventLoop, maxQueuedBytes: Int, maximumFrameBytes: Int,
         onFrame: (([UInt8]) -> Void)? = nil) {
        self.host = host
        self.port = port
        self.loop = loop
        self.maxQueuedBytes = maxQueuedBytes
        self.maximumFrameBytes = maximumFrameBytes
        self.onFrame = onFrame
    }

    /// Adds a frame to the next write if connected (sent by `flush()`), or queues it.
    package func send(_ frame: [UInt8]) {
        loop.preconditionInEventLoop()
        if let channel, channel.isActive {
            // A connected but slow peer: NIO buffers unsent bytes up to the high water mark; beyond it, drop.
            guard channel.isWritable else {
                dropped += 1
                return
            }
            var buffer = outgoing ?? channel.allocator.buffer(capacity: max(4096, frame.count + 4))
            outgoing = nil  // uniquely referenced while it grows
            buffer.writeFrame(frame)
            outgoing = buffer
            return
        }
        guard queuedBytes + frame.count <= maxQueuedBytes else {
            dropped += 1
            return
        }
        queue.append(frame)
        queuedBytes += frame.count
        connect()
    }

    package func flush() {
        guard let buffer = outgoing else { return }
        outgoing = nil
        channel?.writeAndFlush(buffer, promise: nil)
    }

    package func connect() {
        loop.preconditionInEventLoop()
        guard !connecting, !closed, channel == nil else { return }
        connecting = true
        let link = UnsafeTransfer(self)
        let maximum = maximumFrameBytes
        let maxQueuedBytes = maxQueuedBytes
        let bootstrap = ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: .init(low: maxQueuedBytes / 2, high: maxQueuedBytes))
            .connectTimeout(.seconds(2))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(FrameDecoder(maximumFrameBytes: maximum)))
                    try channel.pipeline.syncOperations.addHandler(LinkHandler(link: link))
                }
            }
        bootstrap.connect(host: host, port: port).hop(to: loop).whenComplete { result in
            let link = link.value
            link.connecting = false
            switch result {
            case .success(let channel):
                guard !link.closed else {
                    channel.close(promise: nil)
                    return
                }
                link.channel = channel
                link.backoff = .milliseconds(50)
                link.onConnect?()
                link.drain()
            case .failure:
                link.retryLater()
            }
        }
    }

    private func drain() {
        let frames = queue
        queue = []
        queuedBytes = 0
        for frame in frames { send(frame) }
        flush()
    }

    fileprivate func disconnected() {
        channel = nil
        outgoing = nil  // written for a connection that is gone: the protocol retransmits what matters
        retryLater()
    }

    private func retryLater() {
        guard !closed else { return }
        reconnects += 1
        let delay = backoff
        backoff = min(backoff * 2, .seconds(2))
        let link = UnsafeTransfer(self)
        loop.scheduleTask(in: delay) { link.value.connect() }
    }

    package func close() {
        flush()
        closed = true
        channel?.close(promise: nil)
        channel = nil
    }

    fileprivate func received(_ frame: [UInt8]) { onFrame?(frame) }
}

private final class LinkHandler: ChannelInboundHandler {
    typealias InboundIn = [UInt8]
    let link: UnsafeTransfer<Link>

    init(link: UnsafeTransfer<Link>) { self.link = link }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        link.value.received(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        link.value.disconnected()  // the channel lives on the link's loop
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

/// Carries a loop-confined reference into a `@Sendable` closure that runs on that same loop.
package struct UnsafeTransfer<Value>: @unchecked Sendable {
    package let value: Value
    package init(_ value: Value) { self.value = value }
}
