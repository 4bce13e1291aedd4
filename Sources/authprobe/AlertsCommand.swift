import ArgumentParser
import AuthProbe
import Foundation
import Logging

struct AlertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "Show the built-in alerts firing now and the recent notification history, from the database."
    )

    @Option(help: "Configuration file (YAML); its database is read. Secrets are not needed.")
    var config: String?

    @Option(help: "The database to read, instead of the configuration's.")
    var database: String?

    @Option(help: "How many of the latest notifications to show.")
    var limit: Int = 20

    @Option(help: "Output format: table or json.")
    var format: OutputFormat = .table

    enum OutputFormat: String, ExpressibleByArgument {
        case table, json
    }

    func validate() throws {
        guard (self.config == nil) != (self.database == nil) else {
            throw ValidationError("give either --config or --database")
        }
        guard (1...10_000).contains(self.limit) else { throw ValidationError("--limit must be between 1 and 10000") }
    }

    func run() async throws {
        let path = try self.database ?? loadConfig(self.config ?? "", readSecrets: false).database
        guard FileManager.default.fileExists(atPath: path) else {
            FileHandle.standardError.write(Data("no database at \(path): authprobe has not run with it yet\n".utf8))
            throw ExitCode(1)
        }
        var logger = Logger(label: "authprobe")
        logger.logLevel = .warning
        let store = try await ResultStore.open(path: path, lockWait: .seconds(10), logger: logger)
        let contents = try await AlertReport.read(store, limit: self.limit)
        switch self.format {
        case .table: print(AlertReport.table(contents), terminator: "")
        case .json: print(try AlertReport.json(contents), terminator: "")
        }
    }
}
