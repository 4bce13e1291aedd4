import AuthProbe
import AuthProbeTesting
import Foundation
import Testing

/// The probe pipeline over real HTTP against the in-process fake provider: every scripted edge case
/// must come back as the right bounded outcome, never a crash or a hang.
@Suite("Prober against the fake provider")
struct ProberTests {
    @Test("a healthy provider gives three successful steps with phase timings")
    func success() async throws {
        let provider = try await FakeProvider.make()
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(TestTargets.target(provider))
        }
        try #require(result.steps.map(\.step) == [.discovery, .jwks, .token], "\(result.steps.map(\.detail))")
        #expect(result.succeeded)
        #expect(result.steps.map(\.outcome) == [.success, .success, .success])
        #expect(result.steps[1].jwksKeys == 1)
        #expect(result.steps[2].tokenLifetime == 300)
        for step in result.steps {
            let timings = step.timings
            #expect(timings.dns == .zero, "an IP literal needs no lookup")
            #expect(timings.tls == nil, "plain HTTP has no TLS phase")
            let connect = try #require(timings.connect)
            let processing = try #require(timings.processing)
            let transfer = try #require(timings.transfer)
            #expect(connect + processing + transfer <= timings.total)
            #expect(timings.total < .seconds(2))
        }
    }

    @Test("client_secret_basic form-urlencodes id and secret before base64 (RFC 6749 §2.3.1)")
    func basicAuthentication() async throws {
        let provider = try await FakeProvider.make()
        _ = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(TestTargets.target(provider))
        }
        let token = try #require(provider.requests.first { $0.path == "/token" })
        #expect(token.method == "POST")
        let authorization = try #require(token.header("Authorization"))
        #expect(authorization.hasPrefix("Basic "))
        let decoded = String(
            decoding: try #require(Data(base64Encoded: String(authorization.dropFirst(6)))),
            as: UTF8.self
        )
        // "fake-secret-Zq8+/ :%": '+' → %2B, '/' → %2F, ' ' → '+', ':' → %3A, '%' → %25.
        #expect(decoded == "svc-client:fake-secret-Zq8%2B%2F+%3A%25")
        #expect(FormEncoding.decode(token.body) == ["grant_type": "client_credentials", "scope": "read write"])
        #expect(token.header("Content-Type") == "application/x-www-form-urlencoded")
    }

    @Test("client_secret_post sends the credentials as form fields and no Authorization header")
    func postAuthentication() async throws {
        let provider = try await FakeProvider.make()
        let environment = TestTargets.environment(
            issuer: provider.issuer,
            clients: [TestTargets.client(authMethod: .clientSecretPost)]
        )
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(ProbeTarget(environment: environment, client: environment.clients[0]))
        }
        #expect(result.succeeded)
        let token = try #require(provider.requests.first { $0.path == "/token" })
        #expect(token.header("Authorization") == nil)
        let fields = FormEncoding.decode(token.body)
        #expect(fields["client_id"] == "svc-client")
        #expect(fields["client_secret"] == "fake-secret-Zq8+/ :%")
    }

    /// Token endpoint answers and the outcome each must give.
    static let tokenCases: [(String, FakeResponse, Outcome)] = [
        (
            "RFC invalid_client", .json(401, #"{"error":"invalid_client","error_description":"bad secret"}"#),
            .invalidClient
        ),
        ("glewlwyd 403 empty body", .empty(403), .credentialRejected),
        (
            "401 HTML body",
            .raw(status: 401, headers: [("Content-Type", "text/html")], body: Array("<h1>no</h1>".utf8)),
            .credentialRejected
        ),
        ("invalid_grant", .json(400, #"{"error":"invalid_grant"}"#), .invalidGrant),
        ("unauthorized_client", .json(400, #"{"error":"unauthorized_client"}"#), .unauthorizedClient),
        ("invalid_scope", .json(400, #"{"error":"invalid_scope"}"#), .invalidScope),
        ("glewlwyd scope_invalid", .json(400, #"{"error":"scope_invalid"}"#), .invalidScope),
        ("invalid_request", .json(400, #"{"error":"invalid_request"}"#), .invalidRequest),
        ("unsupported_grant_type", .json(400, #"{"error":"unsupported_grant_type"}"#), .unsupportedGrantType),
        ("unknown OAuth code", .json(400, #"{"error":"temporarily_unavailable"}"#), .oauthError),
        ("401 with a non-RFC code", .json(401, #"{"error":"access_denied"}"#), .credentialRejected),
        ("400 empty", .empty(400), .http4xx),
        ("500", .json(500, #"{"error":"server_error"}"#), .http5xx),
        ("503", .empty(503), .http5xx),
        ("429", .raw(status: 429, headers: [("Retry-After", "120")], body: []), .rateLimited),
        ("302", .raw(status: 302, headers: [("Location", "http://127.0.0.1:1/elsewhere")], body: []), .redirectError),
        (
            "200 HTML", .raw(status: 200, headers: [("Content-Type", "text/html")], body: Array("<html>".utf8)),
            .invalidJSON
        ),
        ("200 without access_token", .json(200, #"{"token_type":"Bearer","expires_in":60}"#), .tokenResponseInvalid),
        (
            "200 empty access_token", .json(200, #"{"access_token":"","token_type":"Bearer","expires_in":60}"#),
            .tokenResponseInvalid
        ),
        ("200 without expires_in", .json(200, #"{"access_token":"t","token_type":"Bearer"}"#), .tokenResponseInvalid),
        (
            "200 zero expires_in", .json(200, #"{"access_token":"t","token_type":"Bearer","expires_in":0}"#),
            .tokenResponseInvalid
        ),
        (
            "200 token_type mac", .json(200, #"{"access_token":"t","token_type":"mac","expires_in":60}"#),
            .tokenResponseInvalid
        ),
        ("200 lowercase bearer", .json(200, #"{"access_token":"t","token_type":"bearer","expires_in":60}"#), .success),
        (
            "200 string expires_in", .json(200, #"{"access_token":"t","token_type":"Bearer","expires_in":"3599"}"#),
            .success
        ),
        (
            "200 Bearer: deviation", .json(200, #"{"access_token":"t","token_type":"Bearer:","expires_in":60}"#),
            .success
        ),
    ]

    @Test("token endpoint answers are classified", arguments: ProberTests.tokenCases)
    func tokenOutcomes(_ name: String, _ response: FakeResponse, _ expected: Outcome) async throws {
        let provider = try await FakeProvider.make()
        provider.set("/token", response)
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(TestTargets.target(provider))
        }
        let token = try #require(result.steps.last)
        #expect(token.step == .token, "\(name)")
        #expect(token.outcome == expected, "\(name): \(token.detail)")
        #expect(result.succeeded == (expected == .success))
        #expect(!token.detail.contains("fake-secret"), "\(name): the detail must not carry the secret")
    }

    @Test("a provider echoing the credentials in error_description never gets them into the detail")
    func echoedSecretIsRedacted() async throws {
        let provider = try await FakeProvider.make()
        let raw = "fake-secret-Zq8+/ :%"
        let basic = Data("svc-client:\(FormEncoding.encode(raw))".utf8).base64EncodedString()
        // The secret placed so that a 200-character cut would split it, in every form it travels in.
        let padding = String(repeating: "x", count: 190)
        let description = "\(padding) got \(raw), form \(FormEncoding.encode(raw)), header Basic \(basic)"
        let body = try JSONSerialization.data(withJSONObject: [
            "error": "invalid_client", "error_description": description,
        ])
        provider.set("/token", .raw(status: 401, headers: [("Content-Type", "application/json")], body: Array(body)))
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(TestTargets.target(provider))
        }
        let token = try #require(result.steps.last)
        #expect(token.outcome == .invalidClient)
        for form in [raw, FormEncoding.encode(raw), basic, String(raw.prefix(8)), "Zq8"] {
            #expect(!token.detail.contains(form), "detail carries \(form): \(token.detail)")
        }
        #expect(
            DetailCleaner(credentials: [TestTargets.secret], clientID: "svc-client").quote(description)
                .contains(DetailCleaner.redacted)
        )
    }

    @Test("conformance: violations are reported, allowed ones are only noted")
    func conformance() async throws {
        let provider = try await FakeProvider.make()
        provider.set(
            FakeProvider.discoveryPath,
            .json(
                200,
                #"{"issuer":"\#(provider.issuer)","token_endpoint":"\#(provider.issuer)/token","jwks_uri":"\#(provider.issuer)/jwks"}"#
            )
        )
        provider.set("/token", .json(200, #"{"access_token":"t","token_type":"Bearer","expires_in":"60"}"#))
        var allowing = TestTargets.target(provider)
        allowing.environment.conformanceAllow = [.grantTypeAdvertised]
        let target = allowing
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(target)
        }
        #expect(result.succeeded, "violations do not fail the probe")
        // A failed run has fewer steps: stop here rather than index past them.
        try #require(result.steps.map(\.step) == [.discovery, .jwks, .token], "\(result.steps.map(\.detail))")
        let discovery = result.steps[0].conformance
        #expect(discovery.violated == [.discoveryRequiredFields, .endpointsHTTPS])
        #expect(discovery.checked.isSuperset(of: [.grantTypeAdvertised, .authMethodAdvertised]))
        #expect(result.steps[0].notes.contains("allowed: grant_type_advertised"))
        let token = result.steps[2].conformance
        #expect(token.violated == [.tokenCacheControlNoStore, .tokenExpiresInNumeric])
        #expect(token.checked.contains(.tokenTypeBearer))
        let body = MonitorMetrics.recording([result], targets: [target]).exposition
        #expect(
            body.contains(
                #"authprobe_conformance_violation{environment="fake",rule="token_expires_in_numeric"} 1.0"#
            )
        )
        #expect(
            body.contains(
                #"authprobe_conformance_violation{environment="fake",rule="grant_type_advertised"} 0.0"#
            )
        )
    }

    @Test("a 429 carries Retry-After for the scheduler")
    func retryAfter() async throws {
        let provider = try await FakeProvider.make()
        provider.set("/token", .raw(status: 429, headers: [("Retry-After", "120")], body: []))
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(TestTargets.target(provider))
        }
        #expect(result.steps.last?.retryAfter == .seconds(120))
    }

    @Test("a string expires_in and a lowercase token type are accepted and noted")
    func deviationsAreNoted() async throws {
        let provider = try await FakeProvider.make()
        provider.set("/token", .json(200, #"{"access_token":"t","token_type":"bearer","expires_in":"3599"}"#))
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(TestTargets.target(provider))
        }
        let token = try #require(result.steps.last)
        #expect(token.tokenLifetime == 3599)
        #expect(token.notes == ["expires_in is a string, not a number"])
    }

    /// Discovery and JWKS answers and the outcome each must give (on the step that fails).
    static let documentCases: [(String, String, FakeResponse, Step, Outcome)] = [
        (
            "discovery not JSON", FakeProvider.discoveryPath, .raw(status: 200, headers: [], body: Array("{oops".utf8)),
            .discovery, .invalidJSON
        ),
        ("discovery 404", FakeProvider.discoveryPath, .empty(404), .discovery, .http4xx),
        ("discovery 502", FakeProvider.discoveryPath, .empty(502), .discovery, .http5xx),
        (
            "issuer mismatch", FakeProvider.discoveryPath,
            .json(200, FakeProvider.discoveryDocument(issuer: "https://other.example")), .discovery, .issuerMismatch
        ),
        (
            "no token_endpoint", FakeProvider.discoveryPath,
            .json(200, #"{"issuer":"ISSUER","jwks_uri":"ISSUER/jwks"}"#), .discovery, .discoveryInvalid
        ),
        (
            "no issuer", FakeProvider.discoveryPath,
            .json(200, #"{"token_endpoint":"ISSUER/token","jwks_uri":"ISSUER/jwks"}"#), .discovery, .discoveryInvalid
        ),
        (
            "plain http token endpoint off loopback", FakeProvider.discoveryPath,
            .json(200, #"{"issuer":"ISSUER","token_endpoint":"http://idp.example/token","jwks_uri":"ISSUER/jwks"}"#),
            .discovery, .discoveryInvalid
        ),
        ("JWKS without keys", "/jwks", .json(200, #"{"keys":[]}"#), .jwks, .jwksInvalid),
        ("JWKS not a key set", "/jwks", .json(200, #"{"kty":"RSA"}"#), .jwks, .jwksInvalid),
        ("JWKS array", "/jwks", .json(200, #"[1,2]"#), .jwks, .invalidJSON),
        ("JWKS 500", "/jwks", .empty(500), .jwks, .http5xx),
    ]

    @Test("discovery and JWKS answers are classified", arguments: ProberTests.documentCases)
    func documentOutcomes(_ name: String, _ path: String, _ response: FakeResponse, _ step: Step, _ expected: Outcome)
        async throws
    {
        let provider = try await FakeProvider.make()
        if case .raw(let status, let headers, let body) = response {
            let text = String(decoding: body, as: UTF8.self).replacingOccurrences(of: "ISSUER", with: provider.issuer)
            provider.set(path, .raw(status: status, headers: headers, body: Array(text.utf8)))
        }
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(TestTargets.target(provider))
        }
        let last = try #require(result.steps.last)
        #expect(last.step == step, "\(name)")
        #expect(last.outcome == expected, "\(name): \(last.detail)")
        #expect(!result.succeeded)
    }

    @Test("a provider that never answers gives timeout within the deadline")
    func hang() async throws {
        let provider = try await FakeProvider.make()
        provider.set("/token", .hang(limit: .seconds(3)))
        let started = ContinuousClock.now
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(TestTargets.target(provider, timeout: .milliseconds(500)))
        }
        let token = try #require(result.steps.last)
        #expect(token.outcome == .timeout)
        #expect(token.timings.total >= .milliseconds(500))
        #expect(token.timings.total < .milliseconds(1500))
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test("a slow answer within the deadline succeeds and the delay shows in processing")
    func slowButInTime() async throws {
        let provider = try await FakeProvider.make()
        provider.set("/token", .delayed(.milliseconds(300), then: .json(200, FakeProvider.validToken)))
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(TestTargets.target(provider))
        }
        let token = try #require(result.steps.last)
        #expect(token.outcome == .success)
        let processing = try #require(token.timings.processing)
        #expect(processing >= .milliseconds(300))
        #expect(try #require(token.timings.connect) < .milliseconds(300))
    }

    @Test("a body over the cap gives body_too_large")
    func oversizedBody() async throws {
        let provider = try await FakeProvider.make()
        let huge = #"{"keys":[""# + String(repeating: "x", count: NIOHTTPTransport.defaultMaxBodyBytes) + #""]}"#
        provider.set("/jwks", .json(200, huge))
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(TestTargets.target(provider))
        }
        #expect(result.steps.last?.step == .jwks)
        #expect(result.steps.last?.outcome == .bodyTooLarge)
    }

    @Test("nothing listening gives connect_refused")
    func connectionRefused() async throws {
        let port = try await LoopbackPort.free()
        let environment = TestTargets.environment(issuer: "http://127.0.0.1:\(port)")
        let result = try await TestTargets.prober().probe(
            ProbeTarget(environment: environment, client: environment.clients[0])
        )
        #expect(result.steps.count == 1)
        #expect(result.steps[0].outcome == .connectRefused)
        #expect(result.steps[0].timings.connect == nil)
    }

    @Test("an environment without clients stops after the JWKS")
    func discoveryOnly() async throws {
        let provider = try await FakeProvider.make()
        let environment = TestTargets.environment(issuer: provider.issuer, clients: [])
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(ProbeTarget(environment: environment, client: nil))
        }
        #expect(result.succeeded)
        #expect(result.steps.map(\.step) == [.discovery, .jwks])
        #expect(result.target == TargetKey(environment: "fake", client: ""))
        #expect(!provider.requests.contains { $0.path == "/token" })
    }
}
