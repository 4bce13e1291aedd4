import AuthProbe
import AuthProbeTesting
import Foundation
import NIOSSL
import Testing

/// Probes glewlwyd over HTTPS: five phases that add up, the certificate's expiry, and the TLS failures
/// on-call must tell apart (untrusted, expired).
@Suite("glewlwyd over HTTPS", .serialized)
struct GlewlwydTLSTests {
    static func target(_ provider: Glewlwyd, caFile: String?) -> ProbeTarget {
        let environment = EnvironmentConfig(
            name: "glewlwyd-tls",
            issuer: provider.issuer,
            timeout: .seconds(5),
            caFile: caFile,
            clients: [
                ClientConfig(
                    name: "monitor",
                    clientID: provider.clientID,
                    secret: Secret(provider.clientSecret),
                    scope: provider.scope
                )
            ]
        )
        return ProbeTarget(environment: environment, client: environment.clients[0])
    }

    @Test("HTTPS: phases, certificate expiry, untrusted and expired certificates")
    func https() async throws {
        try await Glewlwyd.with(environment: ["GLEWLWYD_TLS": "1", "GLEWLWYD_TLS_DAYS": "2"]) { provider, _ in
            try await Self.scenario(&provider)
        }
    }

    static func scenario(_ provider: inout Glewlwyd) async throws {
        #expect(provider.issuer.hasPrefix("https://127.0.0.1:"))
        let caFile = try #require(provider.caFile)
        let notAfter = Date(
            timeIntervalSince1970: TimeInterval(try #require(NIOSSLCertificate.fromPEMFile(caFile).first).notValidAfter)
        )
        let prober = Prober(transport: try NIOHTTPTransport())

        // With the provider's CA: success, five phases adding up to the total, the certificate's expiry.
        let result = await prober.probe(Self.target(provider, caFile: caFile))
        #expect(result.succeeded, "\(result.steps.map(\.detail))")
        #expect(result.steps.map(\.step) == [.discovery, .jwks, .token])
        // glewlwyd issues RS256 JWT access tokens: verified against its JWKS, iat gives the clock skew.
        #expect(
            result.steps.last?.detail.hasSuffix("JWT verified against the JWKS") == true,
            "\(result.steps.map(\.detail))"
        )
        #expect(abs(result.steps.last?.clockSkew ?? 99) < 5)
        for step in result.steps {
            let timings = step.timings
            let phases = Phase.allCases.compactMap { timings[$0] }
            #expect(phases.count == 5, "\(step.step): every phase is present")
            let sum = phases.reduce(Duration.zero, +)
            #expect(sum <= timings.total, "\(step.step)")
            #expect(timings.total - sum < .milliseconds(1), "\(step.step): phases add up to the total")
            #expect(try #require(timings.tls) > .zero)
            #expect(step.tlsCertificateExpiry == notAfter, "\(step.step)")
        }
        let exposition = MonitorMetrics.recording([result], targets: [Self.target(provider, caFile: caFile)]).exposition
        #expect(
            exposition.contains(
                #"authprobe_tls_certificate_expiry_timestamp_seconds{environment="glewlwyd-tls",endpoint="token"} \#(notAfter.timeIntervalSince1970)"#
            ),
            "\(exposition)"
        )

        try await Self.throughProxy(provider, caFile: caFile, notAfter: notAfter)

        // Without the CA file the self-signed certificate is untrusted.
        let untrusted = await prober.probe(Self.target(provider, caFile: nil))
        #expect(untrusted.steps.map(\.outcome) == [.tlsCertificateUntrusted], "\(untrusted.steps.map(\.detail))")
        #expect(untrusted.steps.first?.timings.tls == nil, "no completed handshake")

        // An expired certificate (trusted, but past notAfter) is told apart from an untrusted one.
        try await provider.run("stop")
        try await provider.run("start", environment: ["GLEWLWYD_TLS_DAYS": "0", "GLEWLWYD_TLS_REGEN": "1"])
        let expiredCA = try #require(provider.caFile)
        let expired = await prober.probe(Self.target(provider, caFile: expiredCA))
        #expect(expired.steps.map(\.outcome) == [.tlsCertificateExpired], "\(expired.steps.map(\.detail))")
    }

    /// Through tinyproxy, TLS runs inside a CONNECT tunnel: the probe succeeds, the five phases are still
    /// reported and add up, and the certificate is the provider's (not the proxy's).
    static func throughProxy(_ provider: Glewlwyd, caFile: String, notAfter: Date) async throws {
        let (result, log) = try await Tinyproxy.with { proxy in
            var target = Self.target(provider, caFile: caFile)
            target.environment.proxy = proxy.address
            return (await Prober(transport: try NIOHTTPTransport()).probe(target), proxy.log)
        }
        #expect(result.succeeded, "\(result.steps.map(\.detail))")
        #expect(result.steps.map(\.step) == [.discovery, .jwks, .token])
        let authority = provider.issuer.dropFirst("https://".count).prefix { $0 != "/" }
        #expect(log.components(separatedBy: "CONNECT \(authority) HTTP/1.1").count - 1 == 3, "\(log)")
        for step in result.steps {
            let phases = Phase.allCases.compactMap { step.timings[$0] }
            #expect(phases.count == 5, "\(step.step): every phase is present through the proxy")
            #expect(step.timings.total - phases.reduce(Duration.zero, +) < .milliseconds(1), "\(step.step)")
            #expect(step.tlsCertificateExpiry == notAfter, "\(step.step)")
        }
    }
}
