import ArgumentParser
import AuthProbe
import Foundation
import Logging

/// `authprobe`: parses the command line, builds the pieces, runs them. Behaviour lives in `AuthProbe`.
@main
struct AuthProbeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authprobe",
        abstract: "Synthetic monitor for OAuth 2.0 client-credentials integrations.",
        version: AuthProbeVersion.current,
        subcommands: [
            RunCommand.self, ProbeCommand.self, CheckConfigCommand.self, AlertsCommand.self, DemoCommand.self,
        ]
    )

    static func main() async {
        // Before any other thread allocates: see ProcessMemory.
        ProcessMemory.limitArenas()
        await self.main(nil)
    }
}

/// Options every command shares.
struct CommonOptions: ParsableArguments {
    @Option(
        help: "Log level: trace, debug, info, notice, warning, error, critical.",
        transform: { text in
            guard let level = Logger.Level(rawValue: text.lowercased()) else {
                throw ValidationError("unknown log level \"\(text)\"")
            }
            return level
        }
    )
    var logLevel: Logger.Level = .info

    /// A stderr logger; called once per process.
    func makeLogger() -> Logger {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "authprobe")
        logger.logLevel = self.logLevel
        return logger
    }
}

/// Loads a configuration or exits with its problems, one `file:line: field: problem` per line (at most 20).
///
/// `readSecrets: false` checks the shape only (see ``ConfigLoader/readSecrets``).
func loadConfig(_ path: String, readSecrets: Bool = true) throws -> MonitorConfig {
    do {
        return try ConfigLoader(readSecrets: readSecrets).load(path: path)
    } catch let error as ConfigValidationError {
        FileHandle.standardError.write(Data((error.description + "\n").utf8))
        throw ExitCode(1)
    }
}

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the monitor: probe on schedule, record to SQLite, serve /metrics.",
        discussion: """
            SIGTERM, SIGINT and SIGQUIT stop it gracefully: runs in flight finish and every result is written. \
            SIGHUP reloads the configuration file: a file with problems is refused (they are logged) and the \
            running configuration goes on; a valid one replaces it without losing state or history.
            """
    )

    @Option(help: "Configuration file (YAML).")
    var config: String

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let logger = self.common.makeLogger()
        let config = try loadConfig(self.config)
        try await Monitor.runReloading(
            configPath: self.config,
            config: config,
            loader: ConfigLoader(),
            logger: logger
        ) { config, port in
            logger.info("serving metrics", metadata: ["http.address": "\(config.listen.host):\(port)"])
        }
    }
}

struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file; problems are printed as file:line: field: problem."
    )

    @Option(help: "Configuration file (YAML).")
    var config: String

    @Flag(
        name: .customLong("no-secrets"),
        help: """
            Check the shape without secrets: secret variables need not be set, and secret files \
            (client_secret_file, private_key_file, tls_client_key_file) are not read.
            """
    )
    var noSecrets = false

    func run() async throws {
        let config = try loadConfig(self.config, readSecrets: !self.noSecrets)
        let clients = config.environments.reduce(0) { $0 + $1.clients.count }
        let secrets = self.noSecrets ? "; secrets not read" : ""
        print("\(self.config): ok (\(config.environments.count) environments, \(clients) clients\(secrets))")
    }
}

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Self-contained demonstration: a loopback OIDC provider probed by the monitor. No credentials needed."
    )

    @Option(help: "Address for the metrics endpoint.")
    var listen: String = ListenAddress.default.description

    @Option(help: "SQLite file for the demo's results (default: a new temporary file).")
    var database: String?

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let logger = self.common.makeLogger()
        guard let listen = ListenAddress.parse(self.listen) else {
            throw ValidationError("--listen: expected host:port, e.g. 127.0.0.1:9470")
        }
        let database =
            self.database
            ?? FileManager.default.temporaryDirectory.appendingPathComponent(
                "authprobe-demo-\(UUID().uuidString).sqlite"
            ).path
        try await Demo.run(listen: listen, database: database, logger: logger) { url in
            let banner = """
                authprobe demo: an OIDC provider on loopback, probed every \(Demo.interval) by two clients:
                  reporting-service  (healthy)      -> authprobe_up 1
                  revoked-service    (disabled)     -> outcome invalid_client, authprobe_up 0,
                                                       and after its second run the built-in alert
                                                       CredentialRejected (authprobe_alerts_firing)
                metrics: \(url)
                results: \(database)
                Press Ctrl-C to stop.

                """
            // Unbuffered, so the URL shows at once even when stdout is a pipe.
            FileHandle.standardOutput.write(Data(banner.utf8))
        }
    }
}
