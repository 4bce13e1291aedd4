import AuthProbe
import AuthProbeTesting

/// Configuration values shared by tests that probe the in-process fake provider.
enum TestTargets {
    static let secret = Secret("fake-secret-Zq8+/ :%")

    static func environment(
        issuer: String,
        timeout: Duration = .seconds(5),
        interval: Duration = .seconds(5),
        clients: [ClientConfig]? = nil
    ) -> EnvironmentConfig {
        EnvironmentConfig(
            name: "fake",
            issuer: issuer,
            interval: interval,
            timeout: timeout,
            clients: clients ?? [self.client()]
        )
    }

    static func client(
        name: String = "svc",
        id: String = "svc-client",
        authMethod: AuthMethod = .clientSecretBasic
    ) -> ClientConfig {
        ClientConfig(name: name, clientID: id, secret: self.secret, authMethod: authMethod, scope: "read write")
    }

    static func target(_ provider: FakeProvider, timeout: Duration = .seconds(5)) -> ProbeTarget {
        let environment = self.environment(issuer: provider.issuer, timeout: timeout)
        return ProbeTarget(environment: environment, client: environment.clients[0])
    }

    /// A target of a provider that is never contacted (for tests of what is done with results).
    static func target(environment name: String = "fake", clients: [ClientConfig]? = nil) -> ProbeTarget {
        var environment = self.environment(issuer: "https://idp.example/", clients: clients)
        environment.name = name
        return ProbeTarget(environment: environment, client: environment.clients.first)
    }

    static func prober() throws -> Prober {
        Prober(transport: try NIOHTTPTransport())
    }
}
