import AuthProbe
import AuthProbeTesting
import Foundation
import NIOCore
import Testing

/// A slow provider shows its delay in the right phase: each phase of one request is delayed in turn by a
/// scripted loopback peer, and only that phase grows.
@Suite("Each phase delayed in turn", .serialized)
struct PhaseDelayTests {
    static let delay = Duration.milliseconds(400)
    static let body = #"{"status":"delayed on purpose"}"#
    static let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
    static var response: [UInt8] { Array((head + body).utf8) }

    /// The request succeeded, `phase` took at least `least`, and every other phase stayed small.
    static func expectDelayed(_ exchange: HTTPExchange, in phase: Phase, atLeast least: Duration) {
        guard case .success(let response) = exchange.result else {
            Issue.record("the request failed: \(exchange.result)")
            return
        }
        #expect(response.status == 200)
        #expect(String(decoding: response.body, as: UTF8.self) == Self.body)
        let timings = exchange.timings
        let delayed = timings[phase] ?? .zero
        // The peer's clock and ours start a few microseconds apart: allow them 10 ms.
        #expect(delayed >= least - .milliseconds(10), "\(phase) took \(delayed)")
        for other in Phase.allCases where other != phase {
            if let value = timings[other] {
                #expect(value < .milliseconds(200), "\(other) took \(value) (\(phase) delayed)")
            }
        }
        let sum = Phase.allCases.compactMap { timings[$0] }.reduce(Duration.zero, +)
        #expect(timings.total - sum < .milliseconds(1))
    }

    /// One GET of `server` (https when `caFile` is given, or by `scheme`), then the server is closed.
    static func get(
        _ server: RawTCPServer,
        scheme: String? = nil,
        caFile: String? = nil,
        host: String = "127.0.0.1",
        transport: NIOHTTPTransport? = nil
    ) async throws -> HTTPExchange {
        let scheme = scheme ?? (caFile == nil ? "http" : "https")
        let exchange = await (try transport ?? NIOHTTPTransport()).send(
            TransportRequest(
                method: "GET",
                url: "\(scheme)://\(host):\(server.port)/",
                connection: ConnectionOptions(caFile: caFile)
            ),
            timeout: .seconds(5)
        )
        await server.close()
        return exchange
    }

    @Test("DNS: a slow name lookup")
    func dns() async throws {
        let server = try await RawTCPServer.start(reply: Self.response)
        let port = server.port
        let resolver = HostResolver { _, _ in
            try await Task.sleep(for: PhaseDelayTests.delay)
            return [try SocketAddress(ipAddress: "127.0.0.1", port: port)]
        }
        let exchange = try await Self.get(
            server,
            host: "slow-dns.test",
            transport: try NIOHTTPTransport(resolver: resolver)
        )
        Self.expectDelayed(exchange, in: .dns, atLeast: Self.delay)
    }

    @Test("connect: the server's accept queue is full, so the first SYN is dropped and retransmitted")
    func connect() async throws {
        // The kernel retransmits an unanswered SYN after its initial retransmission timeout of 1 s.
        let server = try await RawTCPServer.start(script: [.send(Self.response)], holdConnections: Self.delay)
        let exchange = try await Self.get(server)
        Self.expectDelayed(exchange, in: .connect, atLeast: .milliseconds(900))
    }

    @Test("TLS: the server holds the ClientHello before answering")
    func tls() async throws {
        let certificate = try await TestCertificate.make(subjectAltName: "IP:127.0.0.1")
        defer { certificate.remove() }
        let server = try await RawTCPServer.start(
            script: [.send(Self.response)],
            tls: try certificate.serverContext(),
            handshakeDelay: Self.delay
        )
        let exchange = try await Self.get(server, caFile: certificate.certificateFile)
        Self.expectDelayed(exchange, in: .tls, atLeast: Self.delay)
    }

    @Test("processing: the server thinks before the first byte")
    func processing() async throws {
        let server = try await RawTCPServer.start(script: [.pause(Self.delay), .send(Self.response)])
        let exchange = try await Self.get(server)
        Self.expectDelayed(exchange, in: .processing, atLeast: Self.delay)
    }

    @Test("transfer: the body stalls after the head")
    func transfer() async throws {
        let bytes = Self.response
        let split = Self.head.utf8.count + 5
        let server = try await RawTCPServer.start(
            script: [.send(Array(bytes[..<split])), .pause(Self.delay), .send(Array(bytes[split...]))]
        )
        let exchange = try await Self.get(server)
        Self.expectDelayed(exchange, in: .transfer, atLeast: Self.delay)
    }

    @Test("a certificate that names another host is tls_hostname_mismatch")
    func hostnameMismatch() async throws {
        let certificate = try await TestCertificate.make(subjectAltName: "DNS:elsewhere.test")
        defer { certificate.remove() }
        let server = try await RawTCPServer.start(script: [.send(Self.response)], tls: try certificate.serverContext())
        let exchange = try await Self.get(server, caFile: certificate.certificateFile)
        guard case .failure(let failure) = exchange.result else {
            Issue.record("a mismatched certificate was accepted")
            return
        }
        #expect(failure.outcome == .tlsHostnameMismatch, "\(failure.detail)")
    }
}

/// Which addresses of a host are tried, in which order, and how the deadline is shared among them.
@Suite("Address selection")
struct AddressSelectionTests {
    /// `dual.test` resolves to [::1]:port and 127.0.0.1:port, in that order, as getaddrinfo orders IPv6 first.
    static func transport(port: Int) throws -> NIOHTTPTransport {
        try NIOHTTPTransport(
            resolver: HostResolver { _, _ in
                [
                    try SocketAddress(ipAddress: "::1", port: port),
                    try SocketAddress(ipAddress: "127.0.0.1", port: port),
                ]
            }
        )
    }

    static func get(
        _ transport: NIOHTTPTransport,
        port: Int,
        _ preference: IPPreference,
        timeout: Duration = .seconds(3)
    )
        async -> HTTPExchange
    {
        await transport.send(
            TransportRequest(
                method: "GET",
                url: "http://dual.test:\(port)/",
                connection: ConnectionOptions(ipPreference: preference)
            ),
            timeout: timeout
        )
    }

    @Test("ip_preference filters and orders the resolved addresses")
    func preference() async throws {
        // Only IPv4 answers: IPv6 is refused.
        let server = try await RawTCPServer.start(reply: PhaseDelayTests.response)
        let transport = try Self.transport(port: server.port)
        for preference in [IPPreference.system, .preferIPv4, .preferIPv6, .ipv4Only] {
            let exchange = await Self.get(transport, port: server.port, preference)
            guard case .success(let response) = exchange.result else {
                Issue.record("\(preference): \(exchange.result)")
                continue
            }
            #expect(response.status == 200, "\(preference)")
        }
        let ipv6Only = await Self.get(transport, port: server.port, .ipv6Only)
        await server.close()
        guard case .failure(let failure) = ipv6Only.result else {
            Issue.record("ipv6_only reached the IPv4-only server")
            return
        }
        #expect(failure.outcome == .connectRefused)
        #expect(failure.detail == "connection refused by [::1]:\(server.port)")
    }

    @Test("an address that never completes the connect gets its share of the deadline, not all of it")
    func connectBudget() async throws {
        // IPv6 drops every SYN (its accept queue stays full); IPv4 on the same port answers.
        let held = try await RawTCPServer.start(
            script: [.send(PhaseDelayTests.response)],
            holdConnections: .seconds(3600),
            host: "::1"
        )
        let answering = try await RawTCPServer.start(script: [.send(PhaseDelayTests.response)], port: held.port)
        let transport = try Self.transport(port: held.port)
        let exchange = await Self.get(transport, port: held.port, .system, timeout: .seconds(4))
        // The order matters: IPv4 first never meets the dead address; IPv6 only never leaves it.
        let ipv4First = await Self.get(transport, port: held.port, .preferIPv4, timeout: .seconds(4))
        let ipv6Only = await Self.get(transport, port: held.port, .ipv6Only, timeout: .milliseconds(800))
        await held.close()
        await answering.close()
        #expect(try #require(ipv4First.timings.connect) < .milliseconds(500), "prefer_ipv4 tried [::1] first")
        if case .failure(let failure) = ipv6Only.result {
            #expect(failure.outcome == .connectTimeout, "\(failure.detail)")
        } else {
            Issue.record("ipv6_only reached the IPv4 server")
        }
        guard case .success(let response) = exchange.result else {
            Issue.record("the second address was never tried: \(exchange.result)")
            return
        }
        #expect(response.status == 200)
        // Half the deadline went to [::1] (given all of it, [::1] would have ended the request with
        // connect_timeout), then 127.0.0.1 answered.
        let connect = try #require(exchange.timings.connect)
        #expect(connect >= .milliseconds(1900), "\(connect)")
    }
}
