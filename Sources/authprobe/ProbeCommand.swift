import ArgumentParser
import AuthProbe
import Foundation

/// `authprobe probe`: one run of each target, printed as a table (or JSON); exit 1 if any step failed.
struct ProbeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Probe each environment once and print the steps, outcomes and phase timings."
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, json
    }

    @Option(help: "Configuration file (YAML).")
    var config: String

    @Option(help: "Probe only this environment.")
    var environment: String?

    @Option(help: "Output format: table or json.")
    var format: Format = .table

    @OptionGroup var common: CommonOptions

    func run() async throws {
        _ = self.common.makeLogger()
        let config = try loadConfig(self.config)
        var targets = config.targets
        if let environment = self.environment {
            targets = targets.filter { $0.environment.name == environment }
            guard !targets.isEmpty else {
                let known = config.environments.map(\.name).joined(separator: ", ")
                throw ValidationError("no environment named \"\(environment)\" (configured: \(known))")
            }
        }
        let prober = Prober(transport: try NIOHTTPTransport())
        var results: [ProbeResult] = []
        for target in targets {
            results.append(await prober.probe(target))
        }
        switch self.format {
        case .table: print(ProbeReport.table(results), terminator: "")
        case .json: print(try ProbeReport.json(results))
        }
        if !results.allSatisfy(\.succeeded) {
            throw ExitCode(1)
        }
    }
}
