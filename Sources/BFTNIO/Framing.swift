import NIOCore

/// Frames on a TCP stream: a 4-byte big-endian length, then that many bytes (one encoded envelope). A length of
/// zero or above the maximum is a protocol error: the decoder throws and the connection is closed, so a peer
/// cannot make this process buffer more than one maximum-size frame.
struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = [UInt8]
    let maximumFrameBytes: Int

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard length > 0, Int(length) <= maximumFrameBytes else {
            throw FrameError.badLength(Int(length), maximum: maximumFrameBytes)
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        guard let bytes = buffer.readBytes(length: Int(length)) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(bytes))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        // A frame cut short by the peer closing is dropped with the connection.
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

enum FrameError: Error, CustomStringConvertible {
    case badLength(Int, maximum: Int)

    var description: String {
        switch self {
        case .badLength(let length, let maximum): "frame length \(length) outside 1...\(maximum)"
        }
    }
}

extension ByteBuffer {
    /// Appends one frame: its length, then its bytes.
    mutating func writeFrame(_ frame: [UInt8]) {
        writeInteger(UInt32(frame.count))
        writeBytes(frame)
    }
}
