import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import NIOTLS

/// Monotonic timestamps of one exchange, taken on the event loop as each phase ends.
struct ExchangeStamps: Sendable {
    var connectStart: NIODeadline
    var connectedAt: NIODeadline?
    var tlsDoneAt: NIODeadline?
    var requestSentAt: NIODeadline?
    var firstByteAt: NIODeadline?
    var endAt: NIODeadline?
    /// `notAfter` of the server certificate, once the handshake completed.
    var certificateNotAfter: Date?

    init(connectStart: NIODeadline) {
        self.connectStart = connectStart
    }
}

/// What one connection produced, with its timestamps.
struct ExchangeRecord: Sendable {
    var result: Result<TransportResponse, TransportFailure>
    var stamps: ExchangeStamps
}

/// Notes when the first application byte arrives: it sits after TLS (so handshake bytes do not count)
/// and before the HTTP decoder (so the time is the byte's, not the parsed head's).
///
/// The serialized request is written from here, below the HTTP decoder, so it goes to the wire (through
/// TLS, if any) as it is.
final class FirstByteMarker: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private(set) var firstByteAt: NIODeadline?
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Writes and flushes `bytes` toward the socket.
    func send(_ bytes: [UInt8]) {
        guard let context = self.context else { return }
        context.writeAndFlush(self.wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if self.firstByteAt == nil { self.firstByteAt = .now() }
        context.fireChannelRead(data)
    }
}

/// Stamps the TCP connect as tightly as the pipeline allows: right before the connect system call (the
/// outbound `connect` goes from here to the socket) and as soon as the connection is seen established.
/// It sits first in the pipeline, so the other handlers' work is not counted as network time.
///
/// A request that needs no TLS goes out from here too, the moment the connection is up: the server's
/// clock starts with it, and the other handlers' work would otherwise sit in front of it.
final class ConnectTimer: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private(set) var startedAt: NIODeadline?
    private(set) var activeAt: NIODeadline?
    private var request: ByteBuffer?

    /// `request`: the serialized request to send as soon as the connection is up (plain http).
    init(request: ByteBuffer? = nil) {
        self.request = request
    }

    /// Whether the request is sent from here.
    var sendsRequest: Bool { self.request != nil || self.sent }
    private var sent = false

    func connect(context: ChannelHandlerContext, to address: SocketAddress, promise: EventLoopPromise<Void>?) {
        self.startedAt = .now()
        context.connect(to: address, promise: promise)
    }

    func channelActive(context: ChannelHandlerContext) {
        self.activeAt = .now()
        if let request = self.request {
            self.request = nil
            self.sent = true
            context.writeAndFlush(self.wrapOutboundOut(request), promise: nil)
        }
        context.fireChannelActive()
    }
}

/// Lets the HTTP response decoder see the request's method (it must, to know whether a body follows),
/// without anything of it reaching the wire: the request itself is written already serialized.
final class RequestMethodNote: ChannelOutboundHandler {
    typealias OutboundIn = HTTPClientRequestPart

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        promise?.succeed(())
    }
}

/// Drives one request on a fresh connection: waits for TLS, writes the request, collects the response
/// under the body cap and the deadline, and completes the promise exactly once.
final class ExchangeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    /// The whole request, already serialized.
    private let request: [UInt8]
    private let method: HTTPMethod
    /// The TLS handler of this connection, if any: the request waits for its handshake, and its peer
    /// certificate tells expiry and why verification failed.
    private let tlsHandler: NIOSSLClientHandler?
    /// What the TLS handler's chain verification saw.
    private let chain: CertificateChainObserver?
    private let maxBodyBytes: Int
    private let deadline: NIODeadline
    private let marker: FirstByteMarker
    private let connectTimer: ConnectTimer
    /// The start of an earlier attempt at another address, which this connection's time includes.
    private let earlierStart: NIODeadline?
    /// Through a proxy tunnel, the connection counts as established when the tunnel is, not at TCP connect.
    private let tunnelled: Bool
    private let promise: EventLoopPromise<ExchangeRecord>

    private var stamps: ExchangeStamps
    private var status: Int?
    private var headers: [(name: String, value: String)] = []
    private var responseBody: [UInt8] = []
    private var done = false
    private var deadlineTask: Scheduled<Void>?
    /// The deadline passed before the connection was up: a connection that completes after it is refused.
    private var deadlinePassed = false

    init(
        request: [UInt8],
        method: HTTPMethod,
        tls: (handler: NIOSSLClientHandler, chain: CertificateChainObserver)?,
        maxBodyBytes: Int,
        deadline: NIODeadline,
        earlierStart: NIODeadline?,
        connectTimer: ConnectTimer,
        tunnelled: Bool,
        marker: FirstByteMarker,
        promise: EventLoopPromise<ExchangeRecord>
    ) {
        self.request = request
        self.method = method
        self.tlsHandler = tls?.handler
        self.chain = tls?.chain
        self.maxBodyBytes = maxBodyBytes
        self.deadline = deadline
        self.marker = marker
        self.promise = promise
        self.connectTimer = connectTimer
        self.earlierStart = earlierStart
        self.tunnelled = tunnelled
        self.stamps = ExchangeStamps(connectStart: earlierStart ?? .now())
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // Bookkeeping before anything is timed, so that none of it runs between sending the request and
        // reading the answer. The decoder notes the method (RequestMethodNote keeps it off the wire).
        let head = HTTPRequestHead(version: .http1_1, method: self.method, uri: "/")
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        // The deadline is absolute; until the connection is up, the connect timeout (and a proxy tunnel's
        // own timer) speak for it.
        let loopBoundSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
        let loopBoundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        self.deadlineTask = context.eventLoop.scheduleTask(deadline: self.deadline) {
            loopBoundSelf.value.timedOut(context: loopBoundContext.value)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.complete(
            context: nil,
            .failure(TransportFailure(outcome: .connectionError, detail: "connection torn down"))
        )
    }

    func channelActive(context: ChannelHandlerContext) {
        if self.earlierStart == nil, let started = self.connectTimer.startedAt { self.stamps.connectStart = started }
        self.stamps.connectedAt = self.tunnelled ? .now() : (self.connectTimer.activeAt ?? .now())
        if self.deadlinePassed {
            let failure = TransportFailure(outcome: .timeout, detail: "connected only after the deadline")
            self.complete(context: context, .failure(failure))
            return
        }
        if self.tlsHandler == nil {
            if self.connectTimer.sendsRequest {
                self.stamps.requestSentAt = self.stamps.connectedAt
            } else {
                self.sendRequest(context: context)
            }
        }
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            self.stamps.tlsDoneAt = .now()
            // The verified chain's earliest notAfter; the leaf's when the server's certificate was not verified.
            self.stamps.certificateNotAfter =
                self.chain?.earliestNotAfter ?? self.tlsHandler?.peerCertificate.map(CertificateChainObserver.notAfter)
            self.sendRequest(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func sendRequest(context: ChannelHandlerContext) {
        // Processing starts when the request is handed to the connection (writing it is part of it, as in
        // curl's starttransfer - pretransfer), right where connect or TLS ended.
        self.stamps.requestSentAt = self.stamps.tlsDoneAt ?? self.stamps.connectedAt
        self.marker.send(self.request)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.done else { return }
        switch self.unwrapInboundIn(data) {
        case .head(let responseHead):
            // 1xx interim responses (100 Continue) precede the real one.
            if responseHead.status.code < 200 { return }
            self.status = Int(responseHead.status.code)
            self.headers = responseHead.headers.map { (name: $0.name, value: $0.value) }
        case .body(var buffer):
            guard self.responseBody.count + buffer.readableBytes <= self.maxBodyBytes else {
                let limit = self.maxBodyBytes
                self.complete(
                    context: context,
                    .failure(TransportFailure(outcome: .bodyTooLarge, detail: "response body exceeds \(limit) bytes"))
                )
                return
            }
            self.responseBody += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            self.stamps.endAt = .now()
            let response = TransportResponse(status: self.status ?? 0, headers: self.headers, body: self.responseBody)
            self.complete(context: context, .success(response))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let sslError = error as? NIOSSLError, case .uncleanShutdown = sslError, self.stamps.tlsDoneAt != nil {
            // Many servers close without close_notify; whether the response was complete is for the HTTP
            // decoder and channelInactive to say, not this error.
            return
        }
        // Before the handshake completed, a TLS error is about the server's certificate (or the protocol).
        let chain = self.stamps.tlsDoneAt == nil ? self.chain : nil
        let leaf = self.stamps.tlsDoneAt == nil ? self.tlsHandler?.peerCertificate : nil
        self.complete(context: context, .failure(Self.classify(error, chain: chain, leaf: leaf, now: Date())))
    }

    /// `tls_error` for a BoringSSL reason, with a hint where the reason points at a missing client certificate.
    private static func alertFailure(_ reason: String) -> TransportFailure {
        if reason == "TLSV1_ALERT_CERTIFICATE_REQUIRED" || reason == "SSLV3_ALERT_HANDSHAKE_FAILURE" {
            return TransportFailure(
                outcome: .tlsError,
                detail: "TLS: the server refused the handshake (\(reason)); if it wants a client certificate, "
                    + "set tls_client_certificate_file",
                tlsAlert: reason
            )
        }
        if reason == "UNSUPPORTED_PROTOCOL" || reason == "TLSV1_ALERT_PROTOCOL_VERSION" {
            return TransportFailure(
                outcome: .tlsError,
                detail: "TLS: no protocol version both sides accept (\(reason)); authprobe accepts TLS 1.2 "
                    + "or higher (tls_min_version)",
                tlsAlert: reason
            )
        }
        return TransportFailure(outcome: .tlsError, detail: "TLS: \(reason)", tlsAlert: reason)
    }

    /// BoringSSL's reason code (`TLSV1_ALERT_CERTIFICATE_REQUIRED`), without the library's source path.
    static func boringSSLReason(_ error: any Error) -> String {
        let text = "\(error)"
        guard let range = text.range(of: "OPENSSL_internal:") else { return "TLS error" }
        let reason = text[range.upperBound...].prefix { $0.isUppercase || $0.isNumber || $0 == "_" }
        return reason.isEmpty ? "TLS error" : String(reason)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let waitingFor = self.status == nil ? "a response" : "the end of the response body"
        self.complete(
            context: context,
            .failure(
                TransportFailure(outcome: .connectionError, detail: "connection closed while waiting for \(waitingFor)")
            )
        )
        context.fireChannelInactive()
    }

    private func timedOut(context: ChannelHandlerContext) {
        guard self.stamps.connectedAt != nil else {
            // The connect timeout speaks for a connect still in flight; should the connection come up
            // after all, channelActive ends it at once instead of running past the deadline.
            self.deadlinePassed = true
            return
        }
        let failure: TransportFailure
        if self.tlsHandler != nil && self.stamps.tlsDoneAt == nil {
            failure = TransportFailure(outcome: .timeout, detail: "TLS handshake did not finish before the deadline")
        } else if self.marker.firstByteAt == nil {
            failure = TransportFailure(outcome: .timeout, detail: "no response before the deadline")
        } else {
            failure = TransportFailure(outcome: .timeout, detail: "response body did not finish before the deadline")
        }
        self.complete(context: context, .failure(failure))
    }

    private func complete(context: ChannelHandlerContext?, _ result: Result<TransportResponse, TransportFailure>) {
        guard !self.done else { return }
        self.done = true
        self.deadlineTask?.cancel()
        self.stamps.firstByteAt = self.marker.firstByteAt
        self.promise.succeed(ExchangeRecord(result: result, stamps: self.stamps))
        context?.close(promise: nil)
    }

    static func classify(
        _ error: any Error,
        chain: CertificateChainObserver? = nil,
        leaf: NIOSSLCertificate? = nil,
        now: Date = Date()
    )
        -> TransportFailure
    {
        if let failure = error as? TransportFailure { return failure }
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return TransportFailure(
                outcome: .tlsHostnameMismatch,
                detail: "TLS: the certificate does not name this host"
            )
        }
        if let sslError = error as? NIOSSLError {
            if case .handshakeFailed(let inner) = sslError, "\(inner)".contains("CERTIFICATE_VERIFY_FAILED") {
                // BoringSSL says only that verification failed; the certificate it refused says why.
                return (chain ?? CertificateChainObserver()).failure(leaf: leaf, now: now)
            }
            if case .handshakeFailed(let inner) = sslError { return Self.alertFailure(Self.boringSSLReason(inner)) }
            return TransportFailure(outcome: .tlsError, detail: "TLS: \(sslError)")
        }
        if error is NIOSSLExtraError {
            return TransportFailure(outcome: .tlsError, detail: "TLS: \(error)")
        }
        if error is BoringSSLError {
            // An alert from the server, e.g. after a TLS 1.3 handshake that the client saw complete.
            return Self.alertFailure(Self.boringSSLReason(error))
        }
        if let parserError = error as? HTTPParserError, case .invalidEOFState = parserError {
            return TransportFailure(
                outcome: .connectionError,
                detail: "connection closed before the response was complete"
            )
        }
        if error is HTTPParserError {
            return TransportFailure(outcome: .httpProtocolError, detail: "malformed HTTP response: \(error)")
        }
        if let ioError = error as? IOError {
            return TransportFailure(
                outcome: .connectionError,
                detail: "connection error: \(String(cString: strerror(ioError.errnoCode)))"
            )
        }
        return TransportFailure(outcome: .connectionError, detail: "connection error: \(error)")
    }
}
