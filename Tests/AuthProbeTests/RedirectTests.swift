import AuthProbe
import AuthProbeTesting
import Testing

/// Redirects are followed only where safe: GET steps, a few hops, never downgrading to plain http,
/// never for the token POST.
@Suite("Redirects")
struct RedirectTests {
    @Test("discovery follows a relative redirect, and the hop is noted")
    func followed() async throws {
        let provider = try await FakeProvider.make()
        provider.set(
            FakeProvider.discoveryPath,
            .raw(status: 302, headers: [("Location", "/moved/discovery")], body: [])
        )
        provider.set("/moved/discovery", .json(200, FakeProvider.discoveryDocument(issuer: provider.issuer)))
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(TestTargets.target(provider))
        }
        #expect(result.succeeded)
        #expect(result.steps[0].notes.contains("followed HTTP 302 redirect to \(provider.issuer)/moved/discovery"))
        let timings = result.steps[0].timings
        let phases = Phase.allCases.compactMap { timings[$0] }.reduce(Duration.zero, +)
        #expect(timings.total - phases < .milliseconds(1), "both hops are in the phases and the total")
    }

    @Test("a redirect loop ends after three hops as redirect_error")
    func loop() async throws {
        let provider = try await FakeProvider.make()
        provider.set("/jwks", .raw(status: 307, headers: [("Location", "/jwks")], body: []))
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(TestTargets.target(provider))
        }
        #expect(result.steps.last?.step == .jwks)
        #expect(result.steps.last?.outcome == .redirectError)
        #expect(result.steps.last?.notes.last == "more than 3 redirects")
        #expect(provider.requests.filter { $0.path == "/jwks" }.count == 4)
    }

    @Test("the token POST is never redirected")
    func tokenNotFollowed() async throws {
        let provider = try await FakeProvider.make()
        provider.set("/token", .raw(status: 307, headers: [("Location", "/elsewhere")], body: []))
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(TestTargets.target(provider))
        }
        #expect(result.steps.last?.outcome == .redirectError)
        #expect(!provider.requests.contains { $0.path == "/elsewhere" })
    }

    @Test("the API's Bearer token never follows a redirect to another origin")
    func tokenStaysOnOrigin() async throws {
        let provider = try await FakeProvider.make()
        let elsewhere = try await FakeProvider.make()
        provider.set("/api/same", .raw(status: 302, headers: [("Location", "/api/final")], body: []))
        provider.set("/api/final", .json(200, "[]"))
        provider.set("/api/away", .raw(status: 302, headers: [("Location", "\(elsewhere.issuer)/api/final")], body: []))
        elsewhere.set("/api/final", .json(200, "[]"))
        for path in ["/api/same", "/api/away"] {
            var target = TestTargets.target(provider)
            target.environment.apiCheck = APICheck(url: provider.issuer + path)
            let probeTarget = target
            let result = try await withRunningServices(
                [provider.application(), elsewhere.application()],
                waitingFor: [provider.port, elsewhere.port]
            ) {
                try await TestTargets.prober().probe(probeTarget)
            }
            #expect(result.steps.last?.step == .api)
            #expect(result.steps.last?.outcome == .success)
        }
        let sameOrigin = try #require(provider.requests.first { $0.path == "/api/final" })
        #expect(sameOrigin.header("Authorization")?.hasPrefix("Bearer ") == true)
        let otherOrigin = try #require(elsewhere.requests.first { $0.path == "/api/final" })
        #expect(otherOrigin.header("Authorization") == nil)
    }

    @Test(
        "redirect targets",
        arguments: [
            ("https://idp.example/a/b", "/c", "https://idp.example/c"),
            ("https://idp.example/a/b", "c", "https://idp.example/a/c"),
            ("http://127.0.0.1:8080/x", "https://idp.example/y", "https://idp.example/y"),
        ]
    )
    func targets(_ from: String, _ location: String, _ expected: String) {
        #expect(RedirectPolicy.target(from: from, location: location) == .success(expected))
    }

    @Test("no downgrade to plain http, no Location, no other schemes")
    func refused() {
        #expect(
            RedirectPolicy.target(from: "https://idp.example/a", location: "http://idp.example/a")
                == .failure(.init(reason: "redirect from https to plain http refused"))
        )
        #expect((try? RedirectPolicy.target(from: "https://idp.example/a", location: nil).get()) == nil)
        #expect(
            (try? RedirectPolicy.target(from: "https://idp.example/a", location: "ftp://idp.example/a").get()) == nil
        )
    }
}
