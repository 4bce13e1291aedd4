import NIOCore
import NIOPosix

/// A loopback TCP server that answers every connection with fixed bytes and closes it: for the
/// broken peers no HTTP server produces on demand (not HTTP at all, a truncated body, an early close).
public final class RawTCPServer: Sendable {
    private let channel: any Channel

    /// The port the server bound (chosen by the kernel).
    public let port: Int

    private init(channel: any Channel) {
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
    }

    /// Starts a server that writes `reply` once the first request bytes arrive, then closes.
    public static func start(reply: [UInt8]) async throws -> RawTCPServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ReplyHandler(reply: reply))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return RawTCPServer(channel: channel)
    }

    /// Stops listening.
    public func close() async {
        try? await self.channel.close()
    }

    private final class ReplyHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        private let reply: [UInt8]
        private var answered = false

        init(reply: [UInt8]) {
            self.reply = reply
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !self.answered else { return }
            self.answered = true
            let buffer = context.channel.allocator.buffer(bytes: self.reply)
            let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(self.wrapOutboundOut(buffer)).whenComplete { _ in
                loopBoundContext.value.close(promise: nil)
            }
        }
    }
}
