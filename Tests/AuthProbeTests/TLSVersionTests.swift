import AuthProbe
import AuthProbeTesting
import Foundation
import NIOSSL
import Testing

/// Every request needs TLS 1.2 or later (RFC 8996 retired 1.0 and 1.1); `tls_min_version: "1.3"` raises the bar
/// for one environment. Against in-process TLS servers on loopback that speak no later than a given version.
@Suite("TLS minimum version")
struct TLSVersionTests {
    static let body = "{}"
    static let response = Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)

    /// One GET of a server that speaks at most `maximum`, by a client that accepts at least `minimum`.
    static func get(
        maximum: TLSVersion,
        minimum: TLSMinimumVersion,
        certificate: TestCertificate,
        transport: NIOHTTPTransport? = nil
    ) async throws -> HTTPExchange {
        let server = try await RawTCPServer.start(
            script: [.send(Self.response)],
            tls: try certificate.serverContext(maximumTLSVersion: maximum)
        )
        let exchange = await (try transport ?? NIOHTTPTransport()).send(
            TransportRequest(
                method: "GET",
                url: "https://127.0.0.1:\(server.port)/",
                connection: ConnectionOptions(caFile: certificate.certificateFile, minimumTLSVersion: minimum)
            ),
            timeout: .seconds(5)
        )
        await server.close()
        return exchange
    }

    static func expectVersionRefused(_ exchange: HTTPExchange, _ context: String) {
        guard case .failure(let failure) = exchange.result else {
            Issue.record("\(context): the handshake succeeded")
            return
        }
        #expect(failure.outcome == .tlsError, "\(context): \(failure.detail)")
        #expect(
            failure.detail.contains("UNSUPPORTED_PROTOCOL") || failure.detail.contains("PROTOCOL_VERSION"),
            "\(context): \(failure.detail)"
        )
        #expect(failure.detail.contains("tls_min_version"), "\(context): \(failure.detail)")
    }

    @Test("a server that speaks no more than TLS 1.1 is refused with tls_error, whatever the base configuration")
    func tls11Refused() async throws {
        let certificate = try await TestCertificate.make(subjectAltName: "IP:127.0.0.1")
        defer { certificate.remove() }
        Self.expectVersionRefused(
            try await Self.get(maximum: .tlsv11, minimum: .tls12, certificate: certificate),
            "default transport"
        )
        // A base configuration that would accept TLS 1.0 does not lower the floor.
        var lenient = TLSConfiguration.makeClientConfiguration()
        lenient.minimumTLSVersion = .tlsv1
        Self.expectVersionRefused(
            try await Self.get(
                maximum: .tlsv11,
                minimum: .tls12,
                certificate: certificate,
                transport: try NIOHTTPTransport(tlsConfiguration: lenient)
            ),
            "lenient base configuration"
        )
    }

    @Test("a TLS 1.2 server: accepted by default, refused with tls_min_version 1.3")
    func tls12() async throws {
        let certificate = try await TestCertificate.make(subjectAltName: "IP:127.0.0.1")
        defer { certificate.remove() }
        let accepted = try await Self.get(maximum: .tlsv12, minimum: .tls12, certificate: certificate)
        guard case .success(let response) = accepted.result else {
            Issue.record("TLS 1.2 was refused: \(accepted.result)")
            return
        }
        #expect(response.status == 200)
        Self.expectVersionRefused(
            try await Self.get(maximum: .tlsv12, minimum: .tls13, certificate: certificate),
            "tls_min_version 1.3"
        )
        let modern = try await Self.get(maximum: .tlsv13, minimum: .tls13, certificate: certificate)
        guard case .success = modern.result else {
            Issue.record("TLS 1.3 was refused: \(modern.result)")
            return
        }
    }

    @Test("tls_min_version of the environment reaches every request of a probe")
    func environmentSetting() async throws {
        let certificate = try await TestCertificate.make(subjectAltName: "IP:127.0.0.1")
        defer { certificate.remove() }
        let server = try await RawTCPServer.start(
            script: [.send(Self.response)],
            tls: try certificate.serverContext(maximumTLSVersion: .tlsv12)
        )
        var environment = TestTargets.environment(issuer: "https://127.0.0.1:\(server.port)")
        environment.caFile = certificate.certificateFile
        environment.tlsMinimumVersion = .tls13
        let result = await (try TestTargets.prober()).probe(
            ProbeTarget(environment: environment, client: environment.clients[0])
        )
        await server.close()
        #expect(result.steps.map(\.step) == [.discovery])
        #expect(result.steps.first?.outcome == .tlsError, "\(result.steps.first?.detail ?? "")")
    }

    @Test("tls_min_version in the configuration: 1.2 by default, 1.3 on request, nothing lower")
    func configuration() throws {
        let loader = ConfigLoader(environment: [:])
        func load(_ line: String) throws -> MonitorConfig {
            try loader.parse(
                yaml: "environments:\n  - name: prod\n    issuer: https://idp.example/\n\(line)",
                file: "tls.yaml",
                baseDirectory: "/tmp"
            )
        }
        #expect(try load("").environments[0].tlsMinimumVersion == .tls12)
        #expect(try load("").environments[0].connection.minimumTLSVersion == .tls12)
        #expect(try load("    tls_min_version: 1.3\n").environments[0].tlsMinimumVersion == .tls13)
        #expect(try load("    tls_min_version: \"1.2\"\n").environments[0].connection.minimumTLSVersion == .tls12)
        for version in ["1.1", "1.0", "TLSv1.3"] {
            do {
                _ = try load("    tls_min_version: \"\(version)\"\n")
                Issue.record("tls_min_version \(version) was accepted")
            } catch let error as ConfigValidationError {
                #expect(
                    error.errors.map(\.description) == [
                        "tls.yaml:4: environments[0].tls_min_version: unknown version \"\(version)\" "
                            + "(expected one of: 1.2, 1.3)"
                    ]
                )
            }
        }
    }
}
