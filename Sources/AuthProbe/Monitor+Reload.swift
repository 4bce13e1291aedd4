import Logging
import ServiceLifecycle
import UnixSignals

extension Monitor {
    /// The signals that stop `authprobe run` gracefully. SIGQUIT is among them: it is what some supervisors
    /// and terminals send to stop a service, and a core dump of a monitor helps nobody.
    public static let stopSignals: [UnixSignal] = [.sigterm, .sigint, .sigquit]

    /// `authprobe run`: runs monitors built from the file at `configPath`, one after another, until SIGTERM,
    /// SIGINT or SIGQUIT; SIGHUP reloads the file.
    ///
    /// On SIGHUP the file is loaded and validated with `loader` while the running monitor keeps probing. A file
    /// with problems is refused: each problem is logged as `file:line: field: problem` and nothing changes. A
    /// valid file replaces the running configuration: the monitor stops gracefully (runs in flight finish and are
    /// recorded, the store writer writes everything pending), then a monitor is built from the new configuration,
    /// its targets' states restored from the database, and runs. Secret files and `${VAR}` references are read
    /// again, so a rotated secret is used from the next run on.
    ///
    /// What a reload does not keep: counters and histograms of `/metrics` start again from zero (Prometheus'
    /// `rate()` and `increase()` take counter resets in their stride), and the HTTP endpoints are down between
    /// the old server's stop and the new one's bind on the same address, typically well under a second.
    /// Should the new configuration fail to start (its database cannot be opened, its `listen` address is
    /// taken), the previous configuration is started again.
    ///
    /// - Parameters:
    ///   - config: the configuration loaded from `configPath` at start.
    ///   - onServerRunning: receives each monitor's configuration and the port its HTTP server bound.
    public static func runReloading(
        configPath: String,
        config: MonitorConfig,
        loader: ConfigLoader,
        logger: Logger,
        onServerRunning: @escaping @Sendable (MonitorConfig, Int) async -> Void = { _, _ in }
    ) async throws {
        // One handler for every signal, for the whole life of the process: the monitors' service groups trap
        // none, so no signal goes unheard between two of them.
        let signals = await UnixSignalsSequence(trapping: [.sighup] + Self.stopSignals)
        let coordinator = ReloadCoordinator()
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                for await signal in signals {
                    if signal == .sighup {
                        await Self.reload(
                            configPath: configPath,
                            loader: loader,
                            coordinator: coordinator,
                            logger: logger
                        )
                    } else {
                        logger.info("stopping gracefully", metadata: ["signal": "\(signal)"])
                        await coordinator.stop()
                    }
                }
            }
            try await Self.runGenerations(
                config: config,
                coordinator: coordinator,
                logger: logger,
                onServerRunning: onServerRunning
            )
            tasks.cancelAll()
        }
    }

    /// Loads and validates the file; hands a valid configuration to `coordinator`, logs a refused one.
    private static func reload(
        configPath: String,
        loader: ConfigLoader,
        coordinator: ReloadCoordinator,
        logger: Logger
    ) async {
        logger.info("SIGHUP: reloading the configuration", metadata: ["config.path": "\(configPath)"])
        let config: MonitorConfig
        do {
            config = try loader.load(path: configPath)
        } catch let error as ConfigValidationError {
            logger.error(
                "configuration reload refused; the running configuration goes on probing",
                metadata: ["config.path": "\(configPath)", "config.errors": "\(error.errors.count)"]
            )
            for problem in error.errors.prefix(ConfigValidationError.printedLimit) {
                logger.error("configuration problem", metadata: ["config.problem": "\(problem)"])
            }
            return
        } catch {
            logger.error(
                "configuration reload refused; the running configuration goes on probing",
                metadata: ["config.path": "\(configPath)", "config.error": "\(error)"]
            )
            return
        }
        logger.info(
            "configuration valid; stopping the running monitor gracefully to start the new one",
            metadata: [
                "config.path": "\(configPath)",
                "config.environments": "\(config.environments.count)",
                "config.targets": "\(config.targets.count)",
            ]
        )
        await coordinator.reload(config)
    }

    /// Builds and runs a monitor per configuration until a stop signal, or until a monitor ends of itself.
    private static func runGenerations(
        config initial: MonitorConfig,
        coordinator: ReloadCoordinator,
        logger: Logger,
        onServerRunning: @escaping @Sendable (MonitorConfig, Int) async -> Void
    ) async throws {
        var config = initial
        // The configuration that ran before a reload, while the reloaded one has not started: the one to go
        // back to if it cannot.
        var previous: MonitorConfig?
        while true {
            let monitor: Monitor
            do {
                monitor = try await Monitor.build(config: config, logger: logger) { [config] port in
                    await onServerRunning(config, port)
                }
            } catch {
                guard let fallback = previous else { throw error }
                logger.error(
                    "the reloaded configuration cannot start; starting the previous one again",
                    metadata: ["error": "\(error)"]
                )
                (config, previous) = (fallback, nil)
                continue
            }
            if previous != nil {
                logger.info(
                    "configuration reloaded; the new monitor starts",
                    metadata: ["config.targets": "\(config.targets.count)"]
                )
            }
            let group = monitor.serviceGroup(logger: logger, gracefulShutdownSignals: [])
            await coordinator.running(group)
            do {
                try await Self.explainingBindFailure(listen: config.listen) { try await group.run() }
            } catch let failure as ListenFailure {
                guard let fallback = previous, fallback.listen != config.listen else { throw failure }
                logger.error(
                    "the reloaded configuration cannot start; starting the previous one again",
                    metadata: ["error": "\(failure)"]
                )
                switch await coordinator.ended() {
                case .stop: return
                case .reload(let next): (config, previous) = (next, fallback)
                case .ended: (config, previous) = (fallback, nil)
                }
                continue
            }
            switch await coordinator.ended() {
            case .stop, .ended:
                return
            case .reload(let next):
                (config, previous) = (next, config)
            }
        }
    }

    /// The monitor's services as one group; `gracefulShutdownSignals` empty when the caller watches signals.
    func serviceGroup(logger: Logger, gracefulShutdownSignals: [UnixSignal]) -> ServiceGroup {
        ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: self.services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                gracefulShutdownSignals: gracefulShutdownSignals,
                logger: logger
            )
        )
    }
}

/// Between the signal watcher and the loop of monitors: which group runs, and what comes after it.
private actor ReloadCoordinator {
    /// What follows the end of a monitor's group.
    enum Next {
        /// A stop signal came: the process ends.
        case stop
        /// A valid configuration was loaded: a monitor is built from it.
        case reload(MonitorConfig)
        /// The group ended of itself.
        case ended
    }

    private var group: ServiceGroup?
    private var pending: MonitorConfig?
    private var stopping = false

    /// `group` is about to run. A signal that came while it was being built stops it at once: a group told
    /// to shut down before `run()` starts its services and stops them gracefully.
    func running(_ group: ServiceGroup) async {
        self.group = group
        if self.stopping || self.pending != nil { await group.triggerGracefulShutdown() }
    }

    /// Replaces the running configuration with `config` (the latest one wins when reloads follow closely).
    func reload(_ config: MonitorConfig) async {
        guard !self.stopping else { return }
        self.pending = config
        await self.group?.triggerGracefulShutdown()
    }

    func stop() async {
        self.stopping = true
        await self.group?.triggerGracefulShutdown()
    }

    /// The running group has ended.
    func ended() -> Next {
        self.group = nil
        if self.stopping { return .stop }
        if let config = self.pending {
            self.pending = nil
            return .reload(config)
        }
        return .ended
    }
}
