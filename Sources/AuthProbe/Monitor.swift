import Foundation
import Logging
import NIOConcurrencyHelpers
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

    /// Raises the file-descriptor limit, opens the store (waiting up to `storeLockWait` for a database another
    /// process holds locked), restores the targets' states and wires the services. `serverLimits` bound the
    /// HTTP endpoint's clients; `onServerRunning` receives the port the HTTP server bound.
    public static func build(
        config: MonitorConfig,
        logger: Logger,
        transport: (any HTTPTransport)? = nil,
        serverLimits: ServerLimits = ServerLimits(),
        storeLockWait: Duration = .seconds(60),
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> Monitor {
        let serverLimits = Self.fittingDescriptors(serverLimits, concurrency: config.concurrency, logger: logger)
        let store = try await ResultStore.open(path: config.database, lockWait: storeLockWait, logger: logger)
        let targets = config.targets
        let states: [TargetKey: TargetState]
        do {
            states = try await Self.restoredStates(store: store, targets: targets, logger: logger)
        } catch {
            throw StoreError.cannotRead(config.database, "\(error)")
        }
        let metrics = MonitorMetrics(targets: targets, location: config.location)
        metrics.restore(Array(states.values))
        let writer = StoreWriter(store: store, path: config.database, logger: logger)
        metrics.own.observeStore { writer.health }
        let sharesEventLoops = transport == nil
        let transport = try transport ?? NIOHTTPTransport()
        let prober = Prober(transport: transport)
        let (alerts, notifications) = try await Self.alerting(
            config: config,
            store: store,
            transport: transport,
            logger: logger
        )
        metrics.own.observeAlerting { alerts.figures() }
        let scheduler = Scheduler(
            targets: targets,
            states: states,
            prober: prober,
            sinks: [writer, metrics, alerts, LogSink(logger: logger)],
            concurrency: config.concurrency,
            clock: ContinuousClock(),
            logger: logger,
            // Runs share the transport's event loops (a test's own transport has none to share).
            executors: sharesEventLoops ? EventLoopTaskExecutor.all(of: MultiThreadedEventLoopGroup.singleton) : [],
            observer: metrics.own
        )
        let retention = RetentionService(
            store: store,
            retention: config.rawRetention,
            clock: ContinuousClock(),
            logger: logger
        )
        // A run lasts at most a few timeouts; a due run waiting for a permit much longer means the scheduler
        // is stuck.
        let longestTimeout = config.environments.map(\.timeout).max() ?? MonitorConfig.defaultTimeout
        let stall = max(longestTimeout * 8, .seconds(60))
        let server = MonitorServer.application(
            metrics: metrics,
            listen: config.listen,
            limits: serverLimits,
            logger: logger,
            readiness: {
                if writer.health.failing { return "the database \(config.database) cannot be written" }
                if scheduler.longestPermitWait > stall { return "probe runs have waited over \(stall) to start" }
                return nil
            },
            onServerRunning: onServerRunning
        )
        // Loading a large configuration and the stored states leaves many small freed blocks; give them back
        // before the monitor settles, so its resident size is what it keeps, not what it once parsed.
        ProcessMemory.trim()
        ProcessMemory.releaseCodePages()
        // Services stop in reverse order: the scheduler finishes and records in-flight runs, then the writer
        // writes them, while the server still answers scrapes.
        return Monitor(
            config: config,
            store: store,
            metrics: metrics,
            services: [server, notifications, alerts, writer, retention, scheduler]
        )
    }

    /// The built-in alerts, restored from the store with their start times, and their delivery.
    static func alerting(
        config: MonitorConfig,
        store: ResultStore,
        transport: any HTTPTransport,
        logger: Logger
    ) async throws -> (AlertSink, NotificationService) {
        let firing: [ActiveAlert]
        do {
            firing = try await store.firingAlerts()
        } catch {
            throw StoreError.cannotRead(config.database, "\(error)")
        }
        let sink = NIOLockedValueBox<AlertSink?>(nil)
        let notifications = NotificationService(
            store: store,
            transport: transport,
            alerting: config.alerting,
            context: AlertPayloadContext(location: config.location, generatorURL: "http://\(config.listen)/"),
            firing: { sink.withLockedValue { $0 }?.firing ?? [] },
            logger: logger
        )
        let alerts = AlertSink(
            targets: config.targets,
            alerting: config.alerting,
            firing: firing,
            notifications: notifications,
            logger: logger
        )
        sink.withLockedValue { $0 = alerts }
        if !firing.isEmpty {
            logger.notice("alerts still firing from before the restart", metadata: ["alert.firing": "\(firing.count)"])
        }
        return (alerts, notifications)
    }

    /// Raises the soft file-descriptor limit to the hard one and returns `limits` with at most as many endpoint
    /// connections as leave every probe run its descriptor: the endpoint's clients can never starve probing.
    static func fittingDescriptors(_ limits: ServerLimits, concurrency: Int, logger: Logger) -> ServerLimits {
        guard let descriptors = FileDescriptorLimit.raiseSoftLimit() else {
            logger.warning("cannot read the file-descriptor limit; the endpoint's connection limit is kept")
            return limits
        }
        var fitted = limits
        fitted.maxConnections = descriptors.serverConnections(
            wanted: limits.maxConnections,
            probeConcurrency: concurrency
        )
        let needed = limits.maxConnections + concurrency + FileDescriptorLimit.reserve
        let metadata: Logger.Metadata = [
            "fd.soft": "\(descriptors.soft)",
            "fd.hard": "\(descriptors.hard)",
            "fd.needed": "\(needed)",
            "server.max_connections": "\(fitted.maxConnections)",
            "server.idle_timeout_s": "\(Durations.seconds(fitted.idleTimeout))",
            "probe.concurrency": "\(concurrency)",
        ]
        if descriptors.soft < needed {
            // Probing keeps its headroom; the endpoint takes fewer clients. Raise LimitNOFILE to restore it.
            logger.warning("the file-descriptor limit is low: fewer connections to the endpoint", metadata: metadata)
        } else {
            logger.info("file descriptors", metadata: metadata)
        }
        return fitted
    }

    /// The states of the configured targets, restricted to the steps they still probe.
    static func restoredStates(
        store: ResultStore,
        targets: [ProbeTarget],
        logger: Logger
    ) async throws -> [TargetKey: TargetState] {
        let (stored, skipped) = try await store.states()
        for key in skipped {
            logger.warning(
                "a stored target state does not decode; the target starts afresh",
                metadata: ["probe.environment": "\(key.environment)", "probe.client": "\(key.client)"]
            )
        }
        var steps: [TargetKey: Set<Step>] = [:]
        for target in targets {
            var expected: Set<Step> = [.discovery, .jwks]
            if target.client != nil { expected.insert(.token) }
            if target.client != nil && target.environment.apiCheck != nil { expected.insert(.api) }
            steps[target.key] = expected
        }
        var states: [TargetKey: TargetState] = [:]
        for state in stored {
            if let expected = steps[state.key] { states[state.key] = state.keeping(steps: expected) }
        }
        return states
    }

    /// Runs until SIGTERM, SIGINT or SIGQUIT, then stops gracefully. `authprobe run` uses
    /// ``runReloading(configPath:config:loader:logger:onServerRunning:)``, which also reloads on SIGHUP.
    public func run(logger: Logger) async throws {
        let group = self.serviceGroup(logger: logger, gracefulShutdownSignals: Self.stopSignals)
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
