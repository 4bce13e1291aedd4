import NIOCore

/// Opens an HTTP `CONNECT` tunnel through a proxy before anything else on the connection happens.
///
/// It sits first in the pipeline and holds back `channelActive` until the proxy answers 2xx, so TLS starts
/// and the connect phase ends only once the tunnel is up. A refusal, an early close, a malformed answer or
/// the deadline ends the exchange with a classified ``TransportFailure`` sent down the pipeline as an error.
final class ProxyTunnelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let authority: String
    private let proxy: ProxyAddress
    private let userAgent: String
    /// The end of this address's share of the deadline: the tunnel is part of connecting.
    private let deadline: NIODeadline
    private var response: ByteBuffer?
    private var established = false
    private var failed = false
    private var deadlineTask: Scheduled<Void>?

    /// A proxy's answer to CONNECT is a status line and a few headers; more is not a proxy speaking.
    private static let maxResponseHeadBytes = 16 * 1024

    init(authority: String, proxy: ProxyAddress, userAgent: String, deadline: NIODeadline) {
        self.authority = authority
        self.proxy = proxy
        self.userAgent = userAgent
        self.deadline = deadline
    }

    func channelActive(context: ChannelHandlerContext) {
        let request =
            "CONNECT \(self.authority) HTTP/1.1\r\nHost: \(self.authority)\r\n"
            + "User-Agent: \(self.userAgent)\r\n\r\n"
        context.writeAndFlush(self.wrapOutboundOut(context.channel.allocator.buffer(string: request)), promise: nil)
        let loopBoundSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.deadlineTask = context.eventLoop.scheduleTask(deadline: self.deadline) {
            loopBoundSelf.value.fail(
                context: loopBoundContext.value,
                TransportFailure(
                    outcome: .connectTimeout,
                    detail:
                        "the proxy \(loopBoundSelf.value.proxy.description) did not open a tunnel before the deadline"
                )
            )
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.established else {
            context.fireChannelRead(data)
            return
        }
        guard !self.failed else { return }
        var incoming = self.unwrapInboundIn(data)
        if self.response == nil {
            self.response = incoming
        } else {
            self.response!.writeBuffer(&incoming)
        }
        guard var buffered = self.response else { return }
        let bytes = buffered.readableBytesView
        guard let headEnd = Self.endOfHead(bytes) else {
            if bytes.count > Self.maxResponseHeadBytes {
                self.fail(context: context, self.failure("answered CONNECT with an oversized or endless header"))
            }
            return
        }
        let head = buffered.readString(length: headEnd - bytes.startIndex) ?? ""
        let statusLine = head.split(separator: "\r\n", maxSplits: 1).first.map(String.init) ?? ""
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            self.fail(context: context, self.failure("answered CONNECT with something that is not HTTP"))
            return
        }
        guard (200..<300).contains(status) else {
            let reason = parts.count > 2 ? " \(parts[2].prefix(64))" : ""
            let hint = status == 407 ? " (the proxy requires authentication, which authprobe does not send)" : ""
            self.fail(
                context: context,
                self.failure("refused the tunnel to \(self.authority): HTTP \(status)\(reason)\(hint)")
            )
            return
        }
        self.established = true
        self.deadlineTask?.cancel()
        self.response = nil
        // The tunnel is the connection from here on: the handlers behind see it become active now.
        context.fireChannelActive()
        if buffered.readableBytes > 0 { context.fireChannelRead(self.wrapInboundOut(buffered)) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !self.established {
            self.fail(context: context, self.failure("closed the connection before opening the tunnel"))
        }
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.deadlineTask?.cancel()
    }

    private func failure(_ problem: String) -> TransportFailure {
        TransportFailure(outcome: .proxyError, detail: "the proxy \(self.proxy.description) \(problem)")
    }

    private func fail(context: ChannelHandlerContext, _ failure: TransportFailure) {
        guard !self.established, !self.failed else { return }
        self.failed = true
        self.deadlineTask?.cancel()
        context.fireErrorCaught(failure)
        context.close(promise: nil)
    }

    /// The index just past the blank line that ends the response head, if it has arrived.
    private static func endOfHead(_ bytes: ByteBufferView) -> Int? {
        let terminator: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 4 else { return nil }
        var index = bytes.startIndex
        while index + 4 <= bytes.endIndex {
            if bytes[index..<index + 4].elementsEqual(terminator) { return index + 4 }
            index += 1
        }
        return nil
    }
}
