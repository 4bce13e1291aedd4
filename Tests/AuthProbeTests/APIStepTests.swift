import AuthProbe
import AuthProbeTesting
import Foundation
import Testing

/// The optional API step: one protected call with the issued token, classified apart from the provider.
@Suite("API step")
struct APIStepTests {
    static func target(_ provider: FakeProvider, url: String? = nil, expect: Int = 200) -> ProbeTarget {
        var environment = TestTargets.environment(issuer: provider.issuer)
        environment.apiCheck = APICheck(url: url ?? "\(provider.issuer)/api/accounts", expectStatus: expect)
        return ProbeTarget(environment: environment, client: environment.clients[0])
    }

    static let cases: [(String, FakeResponse, Int, Outcome)] = [
        ("expected 200", .json(200, "[]"), 200, .success),
        ("expected 204", .empty(204), 204, .success),
        ("401", .json(401, #"{"error":"invalid_token"}"#), 200, .apiRejected),
        ("403", .empty(403), 200, .apiRejected),
        ("500", .empty(500), 200, .apiError),
        ("200 where 204 is expected", .json(200, "[]"), 204, .apiError),
    ]

    @Test("the API answer is classified", arguments: APIStepTests.cases)
    func outcomes(_ name: String, _ response: FakeResponse, _ expect: Int, _ expected: Outcome) async throws {
        let provider = try await FakeProvider.make()
        // A lowercase token_type, as glewlwyd writes it: the API still gets the "Bearer" scheme.
        provider.set(
            "/token",
            .json(200, #"{"access_token":"opaque-token-value-1","token_type":"bearer","expires_in":60}"#)
        )
        provider.set("/api/accounts", response)
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(Self.target(provider, expect: expect))
        }
        #expect(result.steps.map(\.step) == [.discovery, .jwks, .token, .api], "\(name)")
        let api = try #require(result.steps.last)
        #expect(api.outcome == expected, "\(name): \(api.detail)")
        #expect(result.succeeded == (expected == .success))
        let call = try #require(provider.requests.first { $0.path == "/api/accounts" })
        #expect(call.method == "GET")
        #expect(call.header("Authorization") == "Bearer opaque-token-value-1")
        #expect(!api.detail.contains("opaque-token-value-1"), "the token never reaches a detail")
    }

    @Test("no API call when the token step failed")
    func noTokenNoCall() async throws {
        let provider = try await FakeProvider.make()
        provider.set("/token", .empty(403))
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(Self.target(provider))
        }
        #expect(result.steps.map(\.step) == [.discovery, .jwks, .token])
        #expect(!provider.requests.contains { $0.path == "/api/accounts" })
    }

    @Test("an unreachable API is api_error, not a provider outcome")
    func unreachableAPI() async throws {
        let provider = try await FakeProvider.make()
        let closedPort = try await LoopbackPort.free()
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(Self.target(provider, url: "http://127.0.0.1:\(closedPort)/api"))
        }
        let api = try #require(result.steps.last)
        #expect(api.step == .api)
        #expect(api.outcome == .apiError)
        #expect(api.detail.hasPrefix("connect_refused: "))
        #expect(api.outcome.scope == .api)
    }

    @Test("api_check in the configuration")
    func configuration() throws {
        let loader = ConfigLoader(environment: ["S": "secret"])
        let config = try loader.parse(
            yaml: """
                environments:
                  - name: prod
                    issuer: https://idp.example/
                    api_check: {url: "https://api.example/v1/accounts?limit=1", expect_status: 204}
                """,
            file: "api.yaml",
            baseDirectory: "/tmp"
        )
        #expect(
            config.environments[0].apiCheck
                == APICheck(url: "https://api.example/v1/accounts?limit=1", expectStatus: 204)
        )
        #expect(throws: ConfigValidationError.self) {
            try loader.parse(
                yaml:
                    "environments:\n  - name: prod\n    issuer: https://idp.example/\n    api_check: {url: ftp://x}\n",
                file: "api.yaml",
                baseDirectory: "/tmp"
            )
        }
        do {
            _ = try loader.parse(
                yaml:
                    "environments:\n  - name: prod\n    issuer: https://idp.example/\n    api_check: {expect_status: 999}\n",
                file: "api.yaml",
                baseDirectory: "/tmp"
            )
            Issue.record("an api_check without url must be rejected")
        } catch let error as ConfigValidationError {
            #expect(error.errors.map(\.description) == ["api.yaml:4: environments[0].api_check.url: required"])
        }
    }
}
