import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The assembled service: configuration → store, metrics, scheduler and HTTP server.
///
/// `authprobe run` and `authprobe demo` only build one and run it; tests call ``build(config:logger:transport:)``
/// directly and inspect the parts.
public struct Monitor: Sendable {
    public let config: MonitorConfig
    public let store: ResultStore
    public let metrics: MonitorMetrics
    public let services: [any Service]

    /// Opens the store, restores history into the metrics and wires the services.
    /// `onServerRunning` receives the port the HTTP server bound.
    public static func build(
        config: MonitorConfig,
        logger: Logger,
        transport: (any HTTPTransport)? = nil,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> Monitor {
        let store = try ResultStore.open(path: config.database)
        let metrics = MonitorMetrics(location: config.location)
        let targets = config.targets
        metrics.restore(try await store.history(), targets: targets)
        metrics.describeCredentials(targets)
        let prober = Prober(transport: try transport ?? NIOHTTPTransport())
        let scheduler = Scheduler(
            targets: targets,
            prober: prober,
            sinks: [StoreSink(store: store, logger: logger), MetricsSink(metrics: metrics), LogSink(logger: logger)],
            concurrency: config.concurrency,
            clock: ContinuousClock(),
            logger: logger,
            // Runs share the transport's event loops (a test's own transport has none to share).
            executors: transport == nil ? EventLoopTaskExecutor.all(of: MultiThreadedEventLoopGroup.singleton) : []
        )
        let retention = RetentionService(
            store: store,
            retention: config.rawRetention,
            clock: ContinuousClock(),
            logger: logger
        )
        let server = MonitorServer.application(
            metrics: metrics,
            listen: config.listen,
            logger: logger,
            onServerRunning: onServerRunning
        )
        // Services stop in reverse order: the scheduler finishes and records in-flight runs while the
        // server still answers scrapes.
        return Monitor(config: config, store: store, metrics: metrics, services: [server, retention, scheduler])
    }

    /// Runs until SIGTERM or SIGINT, then stops gracefully.
    public func run(logger: Logger) async throws {
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: self.services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await Self.explainingBindFailure(listen: self.config.listen) { try await group.run() }
    }

    /// Turns the server's bare `bind` error into one that names the address and the fix.
    static func explainingBindFailure(listen: ListenAddress, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as IOError where error.errnoCode == EADDRINUSE || error.errnoCode == EADDRNOTAVAIL {
            throw ListenFailure(address: listen, reason: String(cString: strerror(error.errnoCode)))
        }
    }
}

/// The HTTP endpoint could not be opened.
public struct ListenFailure: Error, CustomStringConvertible {
    public var address: ListenAddress
    public var reason: String

    public var description: String {
        "cannot listen on \(self.address): \(self.reason) (is another authprobe running? change `listen`)"
    }
}
