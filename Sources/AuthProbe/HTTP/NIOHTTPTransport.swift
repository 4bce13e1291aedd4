import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// The phase-timing HTTP/1.1 client: a fresh connection per request, as a cold client sees it.
///
/// Each request is timed by phase — DNS (getaddrinfo on a thread pool), TCP connect, TLS handshake,
/// processing (request written → first response byte) and transfer (first byte → body end) — under one
/// deadline. Bodies are capped; redirects are never followed here (the prober decides). Every failure is
/// returned as a classified ``TransportFailure``, never thrown.
public struct NIOHTTPTransport: HTTPTransport {
    private let group: any EventLoopGroup
    private let tlsConfiguration: TLSConfiguration
    /// One TLS context per extra CA file, client certificate and minimum TLS version: loading a trust store is
    /// expensive, so contexts are built once and shared by every request.
    private let sslContexts: NIOLockedValueBox<[TLSContextKey: NIOSSLContext]>
    private let maxBodyBytes: Int
    private let userAgent: String
    private let resolver: HostResolver?

    /// Response bodies above this size end the request with `body_too_large`.
    public static let defaultMaxBodyBytes = 1 << 20

    /// `tlsConfiguration` is the base of every connection's; its `minimumTLSVersion` is replaced by each
    /// request's ``ConnectionOptions/minimumTLSVersion`` (TLS 1.2 or higher).
    public init(
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        tlsConfiguration: TLSConfiguration = .makeClientConfiguration(),
        maxBodyBytes: Int = NIOHTTPTransport.defaultMaxBodyBytes,
        resolver: HostResolver? = nil
    ) throws {
        self.resolver = resolver
        self.group = group
        self.tlsConfiguration = tlsConfiguration
        let defaultKey = TLSContextKey(caFile: nil, clientCertificate: nil, minimumVersion: .tls12)
        self.sslContexts = NIOLockedValueBox([
            defaultKey: try NIOSSLContext(configuration: Self.configuration(tlsConfiguration, minimum: .tls12))
        ])
        self.maxBodyBytes = maxBodyBytes
        self.userAgent = "authprobe/\(AuthProbeVersion.current)"
    }

    public func send(_ request: TransportRequest, timeout: Duration) async -> HTTPExchange {
        guard let target = RequestTarget.cached(request.url) else {
            let failure = TransportFailure(outcome: .connectionError, detail: "not an http(s) URL")
            return HTTPExchange(result: .failure(failure), timings: PhaseTimings())
        }
        // Built (once per CA file) before the clock starts: loading a trust store is not the provider's time.
        var sslContext: NIOSSLContext?
        if target.isTLS {
            switch self.sslContext(for: request.connection) {
            case .success(let context): sslContext = context
            case .failure(let failure): return HTTPExchange(result: .failure(failure), timings: PhaseTimings())
            }
        }
        guard let requestBytes = Self.requestBytes(request, target: target, userAgent: self.userAgent) else {
            let failure = TransportFailure(
                outcome: .httpProtocolError,
                detail: "refusing to send a header with a line break"
            )
            return HTTPExchange(result: .failure(failure), timings: PhaseTimings())
        }
        let proxy = request.connection.proxy
        let start = NIODeadline.now()
        let deadline = start + TimeAmount(timeout)
        var timings = PhaseTimings()
        func finish(_ result: Result<TransportResponse, TransportFailure>) -> HTTPExchange {
            timings.total = Self.elapsed(from: start, to: .now())
            return HTTPExchange(result: result, timings: timings)
        }
        // The caller's own event loop when it runs on one (a scheduler run does): no thread hop per request.
        let eventLoop = self.group.any()

        // Phases are contiguous by construction: each starts where the previous one ended, so they add up
        // to the total exactly, whatever the machine's load does to the gaps between events.
        // nil: the first attempt stamps its own start on the event loop, right before connecting, so the hop
        // from the caller's thread is not counted as the provider's time; later attempts include earlier ones.
        var connectStart: NIODeadline?
        // Through a proxy, the proxy's name is looked up here and the target's by the proxy.
        let host = proxy?.host ?? target.host
        let port = proxy?.port ?? target.port
        var addresses: [SocketAddress]
        if let literal = try? SocketAddress(ipAddress: host, port: port) {
            // An IP literal needs no lookup: the DNS phase is present and takes no time.
            addresses = [literal]
            timings.dns = .zero
        } else {
            let resolved = await self.resolve(host: host, port: port, deadline: deadline, eventLoop: eventLoop)
            timings.dns = Self.elapsed(from: start, to: .now())
            switch resolved {
            case .success(let list): addresses = list
            case .failure(let failure): return finish(.failure(failure))
            }
        }
        addresses = Self.order(addresses, by: request.connection.ipPreference)
        guard !addresses.isEmpty else {
            let family = request.connection.ipPreference == .ipv4Only ? "IPv4" : "IPv6"
            return finish(
                .failure(
                    TransportFailure(
                        outcome: .dnsError,
                        detail:
                            "\(host) has no \(family) address (ip_preference: \(request.connection.ipPreference.rawValue))"
                    )
                )
            )
        }

        var lastFailure = TransportFailure(
            outcome: .timeout,
            detail: "DNS resolution used up the deadline; no time left to connect"
        )
        for (index, address) in addresses.enumerated() {
            // Each address gets an equal share of what is left, so one blackholed address (an unreachable
            // IPv6 route, typically) cannot use up the whole deadline; the last one gets all that remains.
            let remaining = deadline - .now()
            guard remaining > .zero else { break }
            let connectBudget = TimeAmount.nanoseconds(remaining.nanoseconds / Int64(addresses.count - index))
            let attempt = await self.exchange(
                request,
                bytes: requestBytes,
                target: target,
                sslContext: sslContext,
                address: address,
                connectStart: connectStart,
                connectBudget: connectBudget,
                deadline: deadline,
                eventLoop: eventLoop
            )
            let stamps = attempt.stamps
            connectStart = connectStart ?? stamps.connectStart
            if let connected = stamps.connectedAt {
                timings.connect = Self.elapsed(from: stamps.connectStart, to: connected)
                if let tlsDone = stamps.tlsDoneAt { timings.tls = Self.elapsed(from: connected, to: tlsDone) }
                if let sent = stamps.requestSentAt, let firstByte = stamps.firstByteAt {
                    timings.processing = Self.elapsed(from: sent, to: firstByte)
                    if let end = stamps.endAt { timings.transfer = Self.elapsed(from: firstByte, to: end) }
                }
                var exchange = finish(attempt.result)
                exchange.certificateNotAfter = stamps.certificateNotAfter
                if let end = stamps.endAt {
                    // Measured on the event loop, like the phases, so that they add up to the total: the
                    // lookup, then the connection from its first connect to the end of the body.
                    exchange.timings.total = (timings.dns ?? .zero) + Self.elapsed(from: stamps.connectStart, to: end)
                }
                return exchange
            }
            // Not connected: try the next address while the deadline allows.
            if case .failure(let failure) = attempt.result { lastFailure = failure }
            guard Self.tryNextAddress(after: lastFailure.outcome) else { break }
        }
        return finish(.failure(lastFailure))
    }

    /// Failures to reach one address, after which another address may still answer.
    private static func tryNextAddress(after outcome: Outcome) -> Bool {
        [.connectRefused, .connectTimeout, .connectionError, .proxyError].contains(outcome)
    }

    /// `addresses` filtered and ordered by `preference`; the resolver's order is kept within a family.
    static func order(_ addresses: [SocketAddress], by preference: IPPreference) -> [SocketAddress] {
        func isIPv4(_ address: SocketAddress) -> Bool {
            if case .v4 = address { return true }
            return false
        }
        switch preference {
        case .system: return addresses
        case .ipv4Only: return addresses.filter(isIPv4)
        case .ipv6Only: return addresses.filter { !isIPv4($0) }
        case .preferIPv4: return addresses.filter(isIPv4) + addresses.filter { !isIPv4($0) }
        case .preferIPv6: return addresses.filter { !isIPv4($0) } + addresses.filter(isIPv4)
        }
    }

    // MARK: - Exchange on one connection

    private struct TLSContextKey: Hashable {
        var caFile: String?
        var clientCertificate: ClientCertificate?
        var minimumVersion: TLSMinimumVersion
    }

    /// `base` accepting no TLS version below `minimum` (NIOSSL's own default still accepts TLS 1.0).
    static func configuration(_ base: TLSConfiguration, minimum: TLSMinimumVersion) -> TLSConfiguration {
        var configuration = base
        switch minimum {
        case .tls12: configuration.minimumTLSVersion = .tlsv12
        case .tls13: configuration.minimumTLSVersion = .tlsv13
        }
        return configuration
    }

    /// The TLS context trusting the system store plus the CA file, presenting the client certificate if any,
    /// accepting the connection's minimum TLS version and above, built on first use.
    private func sslContext(for connection: ConnectionOptions) -> Result<NIOSSLContext, TransportFailure> {
        let key = TLSContextKey(
            caFile: connection.caFile,
            clientCertificate: connection.clientCertificate,
            minimumVersion: connection.minimumTLSVersion
        )
        if let context = self.sslContexts.withLockedValue({ $0[key] }) { return .success(context) }
        var configuration = Self.configuration(self.tlsConfiguration, minimum: connection.minimumTLSVersion)
        if let caFile = connection.caFile {
            configuration.additionalTrustRoots.append(.file(caFile))
        }
        do {
            if let certificate = connection.clientCertificate {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificate.certificateFile)
                    .map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: certificate.keyFile, format: .pem))
            }
            let context = try NIOSSLContext(configuration: configuration)
            self.sslContexts.withLockedValue { $0[key] = context }
            return .success(context)
        } catch {
            let files = [connection.caFile, connection.clientCertificate?.certificateFile].compactMap { $0 }
            return .failure(
                TransportFailure(
                    outcome: .tlsError,
                    detail: "cannot load \(files.joined(separator: " or ")): \(error)"
                )
            )
        }
    }

    private func exchange(
        _ request: TransportRequest,
        bytes requestBytes: [UInt8],
        target: RequestTarget,
        sslContext: NIOSSLContext?,
        address: SocketAddress,
        connectStart: NIODeadline?,
        connectBudget: TimeAmount,
        deadline: NIODeadline,
        eventLoop: any EventLoop
    ) async -> ExchangeRecord {
        let promise = eventLoop.makePromise(of: ExchangeRecord.self)
        let began = connectStart ?? .now()
        let connectDeadline = min(deadline, .now() + connectBudget)
        let proxy = request.connection.proxy
        let requestBuffer = ByteBufferAllocator().buffer(bytes: requestBytes)
        let maxBodyBytes = self.maxBodyBytes
        let userAgent = self.userAgent
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(max(connectBudget, .nanoseconds(1)))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    // Plain http, not through a CONNECT tunnel: the request leaves as soon as TCP connects.
                    let sendsOnConnect = !target.isTLS
                    let connectTimer = ConnectTimer(request: sendsOnConnect ? requestBuffer : nil)
                    try sync.addHandler(connectTimer)
                    if let proxy, target.isTLS {
                        // The tunnel comes first: TLS and HTTP start only once the proxy has connected it.
                        try sync.addHandler(
                            ProxyTunnelHandler(
                                authority: target.authority,
                                proxy: proxy,
                                userAgent: userAgent,
                                deadline: connectDeadline
                            )
                        )
                    }
                    var tls: (handler: NIOSSLClientHandler, chain: CertificateChainObserver)?
                    if let sslContext {
                        // SNI takes host names only; an IP literal is verified against the certificate's IP SANs.
                        let isIP = (try? SocketAddress(ipAddress: target.host, port: 0)) != nil
                        let chain = CertificateChainObserver()
                        let handler = try chain.clientHandler(
                            context: sslContext,
                            serverHostname: isIP ? nil : target.host
                        )
                        try sync.addHandler(handler)
                        tls = (handler, chain)
                    }
                    let marker = FirstByteMarker()
                    try sync.addHandler(marker)
                    try sync.addHandler(RequestMethodNote())
                    try sync.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes)))
                    try sync.addHandler(
                        ExchangeHandler(
                            request: requestBytes,
                            method: HTTPMethod(rawValue: request.method),
                            tls: tls,
                            maxBodyBytes: maxBodyBytes,
                            deadline: deadline,
                            earlierStart: connectStart,
                            connectTimer: connectTimer,
                            tunnelled: proxy != nil && target.isTLS,
                            marker: marker,
                            promise: promise
                        )
                    )
                }
            }
        // One await for the whole exchange: the connect's completion chains to the handler's result on the
        // event loop, instead of resuming this task in between (which would delay reading the answer).
        let viaProxy = proxy != nil
        let record = bootstrap.connect(to: address).flatMap { _ in
            promise.futureResult
        }.flatMapErrorThrowing { error in
            // The connect's own error is the precise one; the handler may already have completed the
            // promise with a generic "torn down" while the failed channel was closed.
            let record = ExchangeRecord(
                result: .failure(Self.classifyConnect(error, address: address, viaProxy: viaProxy)),
                stamps: ExchangeStamps(connectStart: began)
            )
            promise.succeed(record)
            return record
        }
        do {
            return try await record.get()
        } catch {
            // Neither future fails past flatMapErrorThrowing; keep a value if that ever changes.
            return ExchangeRecord(
                result: .failure(TransportFailure(outcome: .connectionError, detail: "\(error)")),
                stamps: ExchangeStamps(connectStart: began)
            )
        }
    }

    /// The request as it goes on the wire, serialized before the clock starts so that none of this work is
    /// counted as the provider's time; nil when a header would break the message (a line break in a value).
    static func requestBytes(_ request: TransportRequest, target: RequestTarget, userAgent: String) -> [UInt8]? {
        // Plain http through a proxy is sent to it in absolute form (RFC 9112 §3.2.2).
        let absolute = request.connection.proxy != nil && !target.isTLS
        let uri = absolute ? "http://\(target.hostHeader)\(target.pathAndQuery)" : target.pathAndQuery
        var fields: [(name: String, value: String)] = [
            ("Host", target.hostHeader), ("User-Agent", userAgent), ("Connection", "close"),
        ]
        if !request.body.isEmpty || request.method == "POST" {
            fields.append(("Content-Length", String(request.body.count)))
        }
        fields += request.headers
        func isClean(_ text: String) -> Bool { !text.utf8.contains { $0 == 13 || $0 == 10 || $0 == 0 } }
        guard isClean(request.method), isClean(uri), !uri.contains(" "),
            fields.allSatisfy({ isClean($0.name) && isClean($0.value) && !$0.name.contains(":") })
        else { return nil }
        var text = "\(request.method) \(uri) HTTP/1.1\r\n"
        for field in fields { text += "\(field.name): \(field.value)\r\n" }
        text += "\r\n"
        return Array(text.utf8) + request.body
    }

    // MARK: - DNS

    private func resolve(
        host: String,
        port: Int,
        deadline: NIODeadline,
        eventLoop: any EventLoop
    ) async -> Result<[SocketAddress], TransportFailure> {
        let promise = eventLoop.makePromise(of: [SocketAddress].self)
        let timeout = eventLoop.scheduleTask(deadline: deadline) {
            promise.fail(
                TransportFailure(outcome: .timeout, detail: "DNS resolution did not finish before the deadline")
            )
        }
        // getaddrinfo blocks: run it on the thread pool, never on the event loop. A late answer after the
        // deadline is ignored (a promise completes once).
        if let resolver = self.resolver {
            promise.completeWithTask { try await resolver.resolve(host, port) }
        } else {
            Self.resolverPool.runIfActive(eventLoop: eventLoop) {
                try Self.getaddrinfo(host: host, port: port)
            }.cascade(to: promise)
        }
        defer { timeout.cancel() }
        do {
            return .success(try await promise.futureResult.get())
        } catch let failure as TransportFailure {
            return .failure(failure)
        } catch {
            return .failure(TransportFailure(outcome: .dnsError, detail: "cannot resolve \(host): \(error)"))
        }
    }

    /// Threads for blocking getaddrinfo calls, apart from NIO's shared pool (one thread per core): a lookup
    /// stuck on an unresponsive name server holds its thread past the deadline, and must not hold up others.
    private static let resolverPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 16)
        pool.start()
        return pool
    }()

    private static func getaddrinfo(host: String, port: Int) throws -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = Foundation.getaddrinfo(host, String(port), &hints, &list)
        let code = errno
        if status == EAI_SYSTEM, let exhausted = Self.localExhaustion(code, doing: "resolve \(host)") {
            throw exhausted
        }
        guard status == 0, let first = list else {
            throw TransportFailure(
                outcome: .dnsError,
                detail: "cannot resolve \(host): \(String(cString: gai_strerror(status)))"
            )
        }
        defer { freeaddrinfo(first) }
        var addresses: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            if let raw = info.pointee.ai_addr {
                switch info.pointee.ai_family {
                case AF_INET:
                    let address = raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
                    addresses.append(SocketAddress(address, host: host))
                case AF_INET6:
                    let address = raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }
                    addresses.append(SocketAddress(address, host: host))
                default:
                    break
                }
            }
            cursor = info.pointee.ai_next
        }
        guard !addresses.isEmpty else {
            throw TransportFailure(outcome: .dnsError, detail: "cannot resolve \(host): no IPv4 or IPv6 address")
        }
        return addresses
    }

    // MARK: - Classification

    private static func classifyConnect(
        _ error: any Error,
        address socketAddress: SocketAddress,
        viaProxy: Bool
    ) -> TransportFailure {
        if let failure = error as? TransportFailure { return failure }
        var failure = Self.classifyConnect(error, address: Self.describe(socketAddress))
        if viaProxy {
            // The proxy, not the provider, is what could not be reached.
            failure = TransportFailure(outcome: .proxyError, detail: "proxy: \(failure.detail)")
        }
        return failure
    }

    static func classifyConnect(_ error: any Error, address: String) -> TransportFailure {
        if let channelError = error as? ChannelError, case .connectTimeout = channelError {
            return TransportFailure(
                outcome: .connectTimeout,
                detail: "no TCP connection to \(address) before the deadline"
            )
        }
        if let ioError = error as? IOError {
            if let exhausted = Self.localExhaustion(ioError.errnoCode, doing: "open a connection to \(address)") {
                return exhausted
            }
            switch ioError.errnoCode {
            case ECONNREFUSED:
                return TransportFailure(outcome: .connectRefused, detail: "connection refused by \(address)")
            case ETIMEDOUT:
                return TransportFailure(outcome: .connectTimeout, detail: "TCP connect to \(address) timed out")
            default:
                return TransportFailure(
                    outcome: .connectionError,
                    detail: "cannot connect to \(address): \(String(cString: strerror(ioError.errnoCode)))"
                )
            }
        }
        return TransportFailure(outcome: .connectionError, detail: "cannot connect to \(address): \(error)")
    }

    /// authprobe's own fault when `code` says the process or the system is out of descriptors or buffers: a
    /// probe failing for it must not read as the provider's outage.
    static func localExhaustion(_ code: Int32, doing action: String) -> TransportFailure? {
        guard [EMFILE, ENFILE, ENOBUFS, ENOMEM].contains(code) else { return nil }
        return TransportFailure(
            outcome: .localResourceExhausted,
            detail: "authprobe cannot \(action): \(String(cString: strerror(code))) (see LimitNOFILE)"
        )
    }

    /// `127.0.0.1:443` or `[::1]:443`.
    static func describe(_ address: SocketAddress) -> String {
        let ip = address.ipAddress ?? "?"
        let port = address.port.map(String.init) ?? "?"
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    static func elapsed(from start: NIODeadline, to end: NIODeadline) -> Duration {
        .nanoseconds(Int64(end.uptimeNanoseconds) - Int64(start.uptimeNanoseconds))
    }
}

/// A name lookup in place of the system's getaddrinfo (the addresses of a host name, in the order to try).
/// Tests use it for what the system resolver cannot do on demand on loopback: answer slowly, or name a host
/// with several addresses.
public struct HostResolver: Sendable {
    let resolve: @Sendable (_ host: String, _ port: Int) async throws -> [SocketAddress]

    public init(_ resolve: @escaping @Sendable (_ host: String, _ port: Int) async throws -> [SocketAddress]) {
        self.resolve = resolve
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let parts = duration.components
        self = .nanoseconds(parts.seconds * 1_000_000_000 + parts.attoseconds / 1_000_000_000)
    }
}
