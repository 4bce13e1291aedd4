import Foundation
import Logging
import ServiceLifecycle

/// `authprobe demo`: a loopback provider inside the process, probed by the monitor, metrics served.
///
/// Two clients show both sides of the product: `reporting-service` works, `revoked-service` has been
/// disabled at the provider and is classified as a broken credential (`invalid_client`).
public enum Demo {
    /// How often the demo probes: short, so the metrics move within seconds.
    public static let interval: Duration = .seconds(5)

    /// Builds the provider and the monitor configuration that points at it.
    public static func make(listen: ListenAddress, database: String) async throws -> (LoopbackProvider, MonitorConfig) {
        let healthy = Secret(Self.randomSecret())
        let revoked = Secret(Self.randomSecret())
        let provider = LoopbackProvider(
            port: try await LoopbackPort.free(),
            clients: [
                .init(id: "reporting-service", secret: healthy),
                .init(id: "revoked-service", secret: revoked, enabled: false),
            ]
        )
        let environment = EnvironmentConfig(
            name: "demo",
            issuer: provider.issuer,
            interval: self.interval,
            timeout: .seconds(2),
            clients: [
                ClientConfig(
                    name: "reporting-service",
                    clientID: "reporting-service",
                    secret: healthy,
                    scope: "reports"
                ),
                ClientConfig(name: "revoked-service", clientID: "revoked-service", secret: revoked, scope: "reports"),
            ]
        )
        return (provider, MonitorConfig(listen: listen, database: database, environments: [environment]))
    }

    /// Runs provider and monitor until SIGINT, SIGTERM or SIGQUIT; `announce` receives the metrics URL once it
    /// answers.
    public static func run(
        listen: ListenAddress,
        database: String,
        logger: Logger,
        announce: @escaping @Sendable (String) -> Void
    ) async throws {
        let (provider, config) = try await self.make(listen: listen, database: database)
        let monitor = try await Monitor.build(config: config, logger: logger) { port in
            let host = listen.host.contains(":") ? "[\(listen.host)]" : listen.host
            announce("http://\(host):\(port)/metrics")
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: ([provider.application(logger: logger)] + monitor.services).map {
                    ServiceGroupConfiguration.ServiceConfiguration(service: $0)
                },
                gracefulShutdownSignals: Monitor.stopSignals,
                logger: logger
            )
        )
        try await Monitor.explainingBindFailure(listen: listen) { try await group.run() }
    }

    private static func randomSecret() -> String {
        (0..<24).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
}
