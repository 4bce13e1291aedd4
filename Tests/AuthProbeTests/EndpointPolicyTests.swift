import AuthProbe
import AuthProbeTesting
import Foundation
import NIOConcurrencyHelpers
import Testing

/// A provider never decides where a credential goes: the decision tables of ``EndpointPolicy`` and ``Host``,
/// then the prober against fake providers on loopback (127.0.0.2 standing in for another host).
///
/// Nothing here sends a request off loopback: link-local and metadata addresses are judged by the decision
/// functions, and end to end a ``LoopbackOnlyTransport`` refuses (and records) anything else.
@Suite("Endpoint policy")
struct EndpointPolicyTests {
    // MARK: - Decision tables

    static let linkLocalOrMetadata: [(String, Bool)] = [
        ("169.254.169.254", true),
        ("169.254.0.1", true),
        ("169.254.170.2", true),
        ("2852039166", true),
        ("0xa9fea9fe", true),
        ("0xa9.0xfe.0xa9.0xfe", true),
        ("0251.0376.0251.0376", true),
        ("169.254.43518", true),
        ("169.254.169.254.", true),
        ("fe80::1", true),
        ("[fe80::1%25eth0]", true),
        ("[FEBF::1]", true),
        ("fd00:ec2::254", true),
        ("[fd00:ec2::254]", true),
        ("::ffff:169.254.169.254", true),
        ("[::ffff:a9fe:a9fe]", true),
        ("::169.254.169.254", true),
        ("64:ff9b::169.254.169.254", true),
        ("[64:ff9b::a9fe:a9fe]", true),
        ("2002:a9fe:a9fe::1", true),
        ("64:ff9b::100.100.100.200", true),
        ("::ffff:10.0.0.1", false),
        ("64:ff9b::8.8.8.8", false),
        ("2002:0808:0808::1", false),
        ("::", false),
        ("100.100.100.200", true),
        ("168.63.129.16", true),
        ("metadata.google.internal", true),
        ("Metadata.Google.Internal.", true),
        ("metadata", true),
        ("instance-data", true),
        ("127.0.0.1", false),
        ("localhost", false),
        ("::1", false),
        ("fec0::1", false),
        ("fd00:ec2::253", false),
        ("169.253.255.255", false),
        ("169.255.0.0", false),
        ("10.0.0.1", false),
        ("idp.example", false),
        ("metadata.example.com", false),
        ("256.254.169.254", false),
    ]

    @Test("link-local and cloud metadata hosts, in every spelling a resolver takes", arguments: linkLocalOrMetadata)
    func linkLocal(_ host: String, _ expected: Bool) {
        #expect(Host.isLinkLocalOrMetadata(host) == expected, "\(host)")
    }

    static let hostNames: [(String, Bool)] = [
        ("idp.example", true), ("IdP.Example.", true), ("127.0.0.2", true), ("fd00:ec2::254", true),
        ("[::1]", true), ("login_eu.example", true), ("https://idp.example", false), ("idp.example:443", false),
        ("idp.example/token", false), ("*.example.com", false), ("", false), ("-idp.example", false),
        ("idp..example", false), ("[idp.example]", false), ("user@idp.example", false),
    ]

    @Test("allowed_hosts entries: names and IP literals only", arguments: hostNames)
    func hostName(_ text: String, _ expected: Bool) {
        #expect(Host.isHostName(text) == expected, "\(text)")
    }

    static let https = EndpointPolicy(
        issuer: "https://idp.example/oidc",
        allowedHosts: ["tokens.example", "[FD00:EC2::254]"]
    )
    static let loopback = EndpointPolicy(issuer: "http://127.0.0.1:8080")
    static let insecure = EndpointPolicy(issuer: "http://idp.internal:8080", insecureHTTP: true)
    static let proxied = EndpointPolicy(issuer: "http://127.0.0.1:8080", loopbackStaysLocal: false)

    /// Policy, URL, use, and the refusal (nil: allowed).
    static let decisions: [(String, EndpointPolicy, String, EndpointPolicy.Use, String?)] = [
        ("same host", https, "https://idp.example/oidc/token", .credential, nil),
        ("same host, other port", https, "https://IDP.example:8443/token", .credential, nil),
        (
            "other host", https, "https://evil.example/token", .credential,
            "host evil.example is not the issuer's host idp.example (add it to allowed_hosts to allow it)"
        ),
        (
            "subdomain is another host", https, "https://login.idp.example/token", .credential,
            "host login.idp.example is not the issuer's host idp.example (add it to allowed_hosts to allow it)"
        ),
        ("allowed host", https, "https://tokens.example/token", .credential, nil),
        (
            "https issuer, http token endpoint on the same host", https, "http://idp.example/token", .credential,
            "plain http from an https issuer"
        ),
        (
            "https issuer, http token endpoint on loopback", https, "http://localhost:9999/token", .credential,
            "plain http from an https issuer"
        ),
        (
            "https issuer, http token endpoint on an allowed host", https, "http://tokens.example/token",
            .credential, "plain http from an https issuer"
        ),
        (
            "http loopback issuer, https token endpoint on its host", loopback, "https://127.0.0.1:8443/t", .credential,
            nil
        ),
        (
            "http loopback issuer, localhost is another host", loopback, "http://localhost:8080/t", .credential,
            "host localhost is not the issuer's host 127.0.0.1 (add it to allowed_hosts to allow it)"
        ),
        (
            "plain http off loopback", loopback, "http://127.0.0.1.example/t", .fetch,
            "plain http off loopback (set insecure_http to allow it)"
        ),
        ("plain http off loopback with insecure_http", insecure, "http://idp.internal:8080/jwks", .fetch, nil),
        (
            "plain http loopback through a remote proxy", proxied, "http://127.0.0.1:8080/jwks", .fetch,
            "plain http off loopback (set insecure_http to allow it)"
        ),
        ("JWKS on another host", https, "https://keys.example/jwks", .fetch, nil),
        (
            "https issuer, http JWKS on loopback", https, "http://127.0.0.1/jwks", .fetch,
            "plain http from an https issuer"
        ),
        (
            "metadata address", insecure, "http://169.254.169.254/latest/meta-data/", .fetch,
            "host 169.254.169.254 is a link-local or cloud metadata address (add it to allowed_hosts to allow it)"
        ),
        (
            "metadata name", insecure, "http://metadata.google.internal/computeMetadata/v1/", .fetch,
            "host metadata.google.internal is a link-local or cloud metadata address "
                + "(add it to allowed_hosts to allow it)"
        ),
        (
            "link-local IPv6", https, "https://[fe80::1]/jwks", .fetch,
            "host fe80::1 is a link-local or cloud metadata address (add it to allowed_hosts to allow it)"
        ),
        ("metadata address named in allowed_hosts", https, "https://[fd00:ec2::254]/x", .fetch, nil),
        ("not a URL", https, "ftp://idp.example/token", .credential, "not an http(s) URL"),
    ]

    @Test("where a URL may be used", arguments: decisions)
    func decision(
        _ name: String,
        _ policy: EndpointPolicy,
        _ url: String,
        _ use: EndpointPolicy.Use,
        _ refusal: String?
    ) {
        #expect(policy.refusal(url, for: use) == refusal, "\(name)")
    }

    @Test("an assertion audience that is a URL follows the token endpoint's rule; one that is not names no server")
    func assertionAudience() {
        #expect(Self.https.assertionAudienceRefusal("https://idp.example/oidc") == nil)
        #expect(Self.https.assertionAudienceRefusal("urn:idp:token") == nil)
        #expect(
            Self.https.assertionAudienceRefusal("https://evil.example/token")
                == "host evil.example is not the issuer's host idp.example (add it to allowed_hosts to allow it)"
        )
    }

    @Test("a redirect is judged by the policy before anyone is contacted")
    func redirects() {
        let metadata = "http://169.254.169.254/latest/meta-data/iam/security-credentials/?x=1"
        let refused = RedirectPolicy.target(
            from: "http://idp.internal:8080/.well-known/openid-configuration",
            location: metadata,
            policy: Self.insecure
        )
        let reason =
            "refused: host 169.254.169.254 is a link-local or cloud metadata address "
            + "(add it to allowed_hosts to allow it)"
        #expect(refused == .failure(.init(reason: reason, location: metadata)))
        // The note names the Location without its query, after the run's cleaner.
        if case .failure(let refusal) = refused {
            #expect(
                refusal.note(DetailCleaner())
                    == "redirect to http://169.254.169.254/latest/meta-data/iam/security-credentials/ \(reason)"
            )
        }
        #expect(
            RedirectPolicy.target(
                from: "http://127.0.0.1:8080/a",
                location: "http://idp.example/b",
                policy: Self.loopback
            )
                == .failure(
                    .init(
                        reason: "refused: plain http off loopback (set insecure_http to allow it)",
                        location: "http://idp.example/b"
                    )
                )
        )
        #expect(
            RedirectPolicy.target(from: "https://idp.example/a", location: "https://cdn.example/b", policy: Self.https)
                == .success("https://cdn.example/b")
        )
    }

    // MARK: - End to end on loopback

    static func target(_ provider: FakeProvider, allowedHosts: [String] = []) -> ProbeTarget {
        var environment = TestTargets.environment(issuer: provider.issuer)
        environment.allowedHosts = allowedHosts
        return ProbeTarget(environment: environment, client: environment.clients[0])
    }

    @Test("a token endpoint on another host gets nothing; with allowed_hosts it gets the token request")
    func tokenEndpointOnAnotherHost() async throws {
        let provider = try await FakeProvider.make()
        let other = try await FakeProvider.make(host: "127.0.0.2")
        provider.set(
            FakeProvider.discoveryPath,
            .json(200, FakeProvider.discoveryDocument(issuer: provider.issuer, tokenEndpoint: other.issuer + "/token"))
        )
        let (refused, allowed) = try await withRunningServices(
            [provider.application(), other.application()],
            waitingFor: [provider.port]
        ) {
            try await waitForPort(other.port, host: other.host)
            let prober = try TestTargets.prober()
            let refused = await prober.probe(Self.target(provider))
            let requestsBefore = other.requests.count
            let allowed = await prober.probe(Self.target(provider, allowedHosts: ["127.0.0.2"]))
            #expect(requestsBefore == 0, "the other host heard nothing while the endpoint was refused")
            return (refused, allowed)
        }
        #expect(refused.steps.map(\.step) == [.discovery, .jwks, .token])
        let token = try #require(refused.steps.last)
        #expect(token.outcome == .endpointNotAllowed, "\(token.detail)")
        #expect(token.outcome.scope == .provider)
        #expect(
            token.detail == "token_endpoint \(other.issuer)/token not used: host 127.0.0.2 is not the issuer's host "
                + "127.0.0.1 (add it to allowed_hosts to allow it); nothing was sent"
        )
        #expect(token.timings.connect == nil && token.httpStatus == nil)
        #expect(!provider.requests.contains { $0.path == "/token" })

        #expect(allowed.succeeded, "\(allowed.steps.map(\.detail))")
        let received = other.requests
        #expect(received.map(\.path) == ["/token"])
        #expect(received.first?.header("Authorization")?.hasPrefix("Basic ") == true)
    }

    @Test("a token endpoint on another port of the issuer's host is used")
    func tokenEndpointOnAnotherPort() async throws {
        let provider = try await FakeProvider.make()
        let other = try await FakeProvider.make()
        provider.set(
            FakeProvider.discoveryPath,
            .json(200, FakeProvider.discoveryDocument(issuer: provider.issuer, tokenEndpoint: other.issuer + "/token"))
        )
        let result = try await withRunningServices(
            [provider.application(), other.application()],
            waitingFor: [provider.port, other.port]
        ) {
            try await TestTargets.prober().probe(Self.target(provider))
        }
        #expect(result.succeeded, "\(result.steps.map(\.detail))")
        #expect(other.requests.map(\.path) == ["/token"])
    }

    @Test("a private_key_jwt assertion is not made for an audience on another host")
    func assertionAudienceOnAnotherHost() async throws {
        var key = SigningKey(
            pem: Secret(try ClientAuthenticationTests.pem("signing-ec.pem")),
            algorithm: .es256
        )
        key.audience = "https://login.elsewhere.example/token"
        let provider = try await FakeProvider.make()
        let environment = TestTargets.environment(
            issuer: provider.issuer,
            clients: [ClientAuthenticationTests.jwtClient(key)]
        )
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(ProbeTarget(environment: environment, client: environment.clients[0]))
        }
        #expect(result.steps.last?.step == .token)
        #expect(result.steps.last?.outcome == .endpointNotAllowed, "\(result.steps.last?.detail ?? "")")
        #expect(!provider.requests.contains { $0.path == "/token" })
    }

    /// A discovery document that is also a valid JWKS, so that one scripted TLS server answers both steps.
    static func discoveryAndJWKS(issuer: String, tokenEndpoint: String, jwksURI: String? = nil) -> [UInt8] {
        let body =
            #"{"issuer":"\#(issuer)","token_endpoint":"\#(tokenEndpoint)","jwks_uri":"\#(jwksURI ?? issuer + "/jwks")","#
            + #""grant_types_supported":["client_credentials"],"keys":[{"kty":"EC","kid":"k1"}]}"#
        let response =
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        return Array(response.utf8)
    }

    @Test("an https issuer never leads to a plain-http token endpoint or JWKS, even on loopback")
    func httpsIssuerNeverLeadsToHTTP() async throws {
        let certificate = try await TestCertificate.make(subjectAltName: "IP:127.0.0.1")
        defer { certificate.remove() }
        let listener = try await FakeProvider.make()
        let cases: [(tokenEndpoint: String?, jwksURI: String?, step: Step)] = [
            ("http://localhost:\(listener.port)/token", nil, .token),
            (nil, "http://127.0.0.1:\(listener.port)/jwks", .jwks),
        ]
        for (token, jwksURI, step) in cases {
            let port = try await LoopbackPort.free()
            let issuer = "https://127.0.0.1:\(port)"
            let tokenEndpoint = token ?? "\(issuer)/token"
            let server = try await RawTCPServer.start(
                script: [.send(Self.discoveryAndJWKS(issuer: issuer, tokenEndpoint: tokenEndpoint, jwksURI: jwksURI))],
                tls: try certificate.serverContext(),
                port: port
            )
            var environment = TestTargets.environment(issuer: issuer)
            environment.caFile = certificate.certificateFile
            let target = ProbeTarget(environment: environment, client: environment.clients[0])
            let result = try await withRunningServices([listener.application()], waitingFor: [listener.port]) {
                try await TestTargets.prober().probe(target)
            }
            await server.close()
            let last = try #require(result.steps.last)
            #expect(last.step == step, "\(result.steps.map(\.detail))")
            #expect(last.outcome == .endpointNotAllowed, "\(last.detail)")
            #expect(last.detail.contains("plain http from an https issuer"), "\(last.detail)")
        }
        #expect(listener.requests.isEmpty, "nothing reached the plain-http port")
    }

    @Test("a redirect to a link-local or metadata address is refused before any connection")
    func redirectToMetadata() async throws {
        let provider = try await FakeProvider.make()
        let locations = [
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            "http://[fe80::a9fe:a9fe]/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://2852039166/latest/meta-data/",
        ]
        for location in locations {
            provider.set(FakeProvider.discoveryPath, .raw(status: 302, headers: [("Location", location)], body: []))
            let transport = try LoopbackOnlyTransport()
            // insecure_http, so that only the link-local/metadata rule stands between the redirect and the host.
            var target = Self.target(provider)
            target.environment.insecureHTTP = true
            let probeTarget = target
            let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
                await Prober(transport: transport).probe(probeTarget)
            }
            let discovery = try #require(result.steps.first)
            #expect(result.steps.count == 1)
            #expect(discovery.outcome == .redirectError, "\(location): \(discovery.detail)")
            #expect(
                discovery.notes.last?.contains("is a link-local or cloud metadata address") == true,
                "\(location): \(discovery.notes)"
            )
            #expect(transport.offLoopback.isEmpty, "\(location) was handed to the transport")
        }

        // The same redirect with its host in allowed_hosts reaches the transport (which refuses to leave
        // loopback): the policy, not the transport, stopped it above.
        provider.set(FakeProvider.discoveryPath, .raw(status: 302, headers: [("Location", locations[0])], body: []))
        let transport = try LoopbackOnlyTransport()
        let allowing = Self.target(provider, allowedHosts: ["169.254.169.254"])
        var target = allowing
        target.environment.insecureHTTP = true
        let probeTarget = target
        _ = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            await Prober(transport: transport).probe(probeTarget)
        }
        #expect(transport.offLoopback == [locations[0]])
    }
}

/// The real transport for loopback URLs; any other URL is recorded and answered with a failure, never sent.
final class LoopbackOnlyTransport: HTTPTransport {
    private let inner: NIOHTTPTransport
    private let recorded = NIOLockedValueBox<[String]>([])

    init() throws {
        self.inner = try NIOHTTPTransport()
    }

    /// URLs off loopback the prober asked to send, in order.
    var offLoopback: [String] { self.recorded.withLockedValue { $0 } }

    func send(_ request: TransportRequest, timeout: Duration) async -> HTTPExchange {
        let host = URLComponents(string: request.url)?.host ?? ""
        guard Host.isLoopback(host) else {
            self.recorded.withLockedValue { $0.append(request.url) }
            let failure = TransportFailure(outcome: .connectionError, detail: "test transport: off loopback")
            return HTTPExchange(result: .failure(failure), timings: PhaseTimings())
        }
        return await self.inner.send(request, timeout: timeout)
    }
}
