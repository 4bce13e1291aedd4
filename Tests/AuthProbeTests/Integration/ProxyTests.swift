import AuthProbe
import AuthProbeTesting
import Foundation
import Testing

/// Probing through a real HTTP proxy (tinyproxy), and the proxy's own failures as `proxy_error`.
@Suite("HTTP proxy")
struct ProxyTests {
    static func environment(issuer: String, proxy: ProxyAddress, timeout: Duration = .seconds(3)) -> EnvironmentConfig {
        var environment = TestTargets.environment(issuer: issuer, timeout: timeout)
        environment.proxy = proxy
        return environment
    }

    @Test("plain http goes to the proxy in absolute form; every request passes it and is timed")
    func plainHTTP() async throws {
        let provider = try await FakeProvider.make()
        let (result, log) = try await Tinyproxy.with { proxy in
            let environment = Self.environment(issuer: provider.issuer, proxy: proxy.address)
            let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
                try await TestTargets.prober()
                    .probe(ProbeTarget(environment: environment, client: environment.clients[0]))
            }
            return (result, proxy.log)
        }
        #expect(result.succeeded, "\(result.steps.map(\.detail))")
        #expect(result.steps.map(\.step) == [.discovery, .jwks, .token])
        // tinyproxy marks what it forwards with a Via header, and logs the absolute-form request line.
        #expect(provider.requests.count == 3)
        #expect(provider.requests.allSatisfy { $0.header("Via")?.contains("tinyproxy") == true })
        #expect(log.contains("GET http://127.0.0.1:\(provider.port)/.well-known/openid-configuration"), "\(log)")
        #expect(log.contains("POST http://127.0.0.1:\(provider.port)/token"), "\(log)")
        for step in result.steps {
            #expect(step.timings.dns == .zero, "the proxy is an IP literal")
            #expect(step.timings.connect != nil && step.timings.processing != nil && step.timings.transfer != nil)
            #expect(step.timings.tls == nil)
        }
    }

    @Test("nothing listening at the proxy address is proxy_error, not a provider's connect_refused")
    func proxyDown() async throws {
        let port = try await LoopbackPort.free()
        let environment = Self.environment(
            issuer: "https://idp.example.test",
            proxy: ProxyAddress(host: "127.0.0.1", port: port)
        )
        let result = try await TestTargets.prober()
            .probe(ProbeTarget(environment: environment, client: environment.clients[0]))
        #expect(result.steps.map(\.outcome) == [.proxyError])
        #expect(result.steps.first?.detail == "proxy: connection refused by 127.0.0.1:\(port)")
        #expect(Outcome.proxyError.scope == .provider)
    }

    @Test("a proxy that refuses the CONNECT tunnel is proxy_error with its status")
    func tunnelRefused() async throws {
        // Allowed to tunnel to port 443 only, tinyproxy answers 403 for any other port.
        let (result, proxyPort) = try await Tinyproxy.with(connectPorts: [443]) { proxy in
            let environment = Self.environment(issuer: "https://127.0.0.1:9", proxy: proxy.address)
            let result = try await TestTargets.prober()
                .probe(ProbeTarget(environment: environment, client: environment.clients[0]))
            return (result, proxy.port)
        }
        #expect(result.steps.map(\.outcome) == [.proxyError])
        let detail = result.steps.first?.detail ?? ""
        #expect(
            detail.hasPrefix("the proxy http://127.0.0.1:\(proxyPort) refused the tunnel to 127.0.0.1:9: HTTP 403")
        )
    }

    @Test("a proxy that never answers CONNECT ends at the deadline as connect_timeout")
    func silentProxy() async throws {
        let silent = try await RawTCPServer.start(script: [], closeWhenDone: false)
        let environment = Self.environment(
            issuer: "https://idp.example.test",
            proxy: ProxyAddress(host: "127.0.0.1", port: silent.port),
            timeout: .milliseconds(500)
        )
        let result = try await TestTargets.prober()
            .probe(ProbeTarget(environment: environment, client: environment.clients[0]))
        await silent.close()
        #expect(result.steps.map(\.outcome) == [.connectTimeout], "\(result.steps.map(\.detail))")
        #expect(result.steps.first?.detail.contains("did not open a tunnel before the deadline") == true)
        // Bounded by the deadline (a hang would never end); generous, as the whole suite shares two cores.
        #expect((result.steps.first?.timings.total ?? .seconds(99)) < .seconds(10))
    }
}
