import NIOCore
import NIOPosix
import NIOSSL

/// A loopback TCP server that plays a fixed script on every connection: for the peers no HTTP server
/// produces on demand (not HTTP at all, a truncated body, an early close, a silent peer) and for
/// delaying exactly one phase of an exchange (connect, TLS handshake, first byte, body).
public final class RawTCPServer: Sendable {
    /// One move of the server once the client's first bytes have arrived.
    public enum Step: Sendable {
        case send([UInt8])
        case pause(Duration)
    }

    private let channel: any Channel
    private let filler: (any Channel)?

    /// The port the server bound (chosen by the kernel).
    public let port: Int

    private init(channel: any Channel, filler: (any Channel)?) {
        self.channel = channel
        self.filler = filler
        self.port = channel.localAddress?.port ?? 0
    }

    /// Starts a server that writes `reply` once the first request bytes arrive, then closes.
    public static func start(reply: [UInt8]) async throws -> RawTCPServer {
        try await self.start(script: [.send(reply)])
    }

    /// Starts a server that plays `script` once the first request bytes arrive (after the TLS handshake
    /// when `tls` is set), then closes unless `closeWhenDone` is false (an empty script that does not close
    /// is a peer that never answers).
    ///
    /// - Parameters:
    ///   - handshakeDelay: holds the client's first TLS bytes this long before the handshake starts.
    ///   - holdConnections: keeps the accept queue full for this long after starting, so the kernel drops
    ///     new connection attempts (SYNs) and clients connect only on their first retransmission (~1 s).
    ///   - host, port: where to listen (port 0: chosen by the kernel).
    public static func start(
        script: [Step],
        closeWhenDone: Bool = true,
        tls: NIOSSLContext? = nil,
        handshakeDelay: Duration = .zero,
        holdConnections: Duration? = nil,
        host: String = "127.0.0.1",
        port: Int = 0
    ) async throws -> RawTCPServer {
        let group = MultiThreadedEventLoopGroup.singleton
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: holdConnections == nil ? Int32(128) : Int32(0))
            .serverChannelOption(.autoRead, value: holdConnections == nil)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls {
                        if handshakeDelay > .zero { try sync.addHandler(InboundDelay(delay: handshakeDelay)) }
                        try sync.addHandler(NIOSSLServerHandler(context: tls))
                    }
                    try sync.addHandler(ScriptHandler(script: script, closeWhenDone: closeWhenDone))
                }
            }
            .bind(host: host, port: port)
            .get()
        var filler: (any Channel)?
        if let holdConnections, let port = channel.localAddress?.port {
            // Not accepted (autoRead is off), this connection fills the queue of a zero backlog.
            filler = try await ClientBootstrap(group: group).connect(host: host, port: port).get()
            channel.eventLoop.scheduleTask(in: TimeAmount.nanoseconds(Self.nanoseconds(holdConnections))) {
                channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            }
        }
        return RawTCPServer(channel: channel, filler: filler)
    }

    /// Stops listening.
    public func close() async {
        try? await self.filler?.close()
        try? await self.channel.close()
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let parts = duration.components
        return parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000
    }

    /// Passes inbound bytes on only after `delay` from the first of them.
    private final class InboundDelay: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer

        private let delay: Duration
        private var held: [NIOAny] = []
        private var released = false
        private var scheduled = false

        init(delay: Duration) {
            self.delay = delay
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if self.released {
                context.fireChannelRead(data)
                return
            }
            self.held.append(data)
            guard !self.scheduled else { return }
            self.scheduled = true
            let loopBoundSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
            let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .nanoseconds(RawTCPServer.nanoseconds(self.delay))) {
                let handler = loopBoundSelf.value
                let context = loopBoundContext.value
                handler.released = true
                for data in handler.held { context.fireChannelRead(data) }
                handler.held = []
                context.fireChannelReadComplete()
            }
        }
    }

    private final class ScriptHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        private let script: [Step]
        private let closeWhenDone: Bool
        private var started = false

        init(script: [Step], closeWhenDone: Bool) {
            self.script = script
            self.closeWhenDone = closeWhenDone
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !self.started else { return }
            self.started = true
            self.play(self.script[...], context: context)
        }

        private func play(_ steps: ArraySlice<Step>, context: ChannelHandlerContext) {
            let loopBoundSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
            let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            guard let step = steps.first else {
                if self.closeWhenDone { context.close(promise: nil) }
                return
            }
            let rest = steps.dropFirst()
            switch step {
            case .send(let bytes):
                let buffer = context.channel.allocator.buffer(bytes: bytes)
                context.writeAndFlush(self.wrapOutboundOut(buffer)).whenComplete { _ in
                    loopBoundSelf.value.play(rest, context: loopBoundContext.value)
                }
            case .pause(let duration):
                context.eventLoop.scheduleTask(in: .nanoseconds(RawTCPServer.nanoseconds(duration))) {
                    loopBoundSelf.value.play(rest, context: loopBoundContext.value)
                }
            }
        }
    }
}
