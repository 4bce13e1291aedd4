import AuthProbe
import Foundation

/// The real glewlwyd OIDC provider on loopback, driven by the scripts in `scripts/idp/glewlwyd`.
struct Glewlwyd {
    let directory: URL
    let port: Int
    private(set) var exports: [String: String]

    var issuer: String { self.exports["OIDC_ISSUER"] ?? "" }
    var clientID: String { self.exports["OIDC_CLIENT_ID"] ?? "" }
    var clientSecret: String { self.exports["OIDC_CLIENT_SECRET"] ?? "" }
    var scope: String { self.exports["OIDC_SCOPE"] ?? "" }

    /// Installs (if needed), provisions and starts a provider in a new state directory.
    /// `environment` passes the script's options, e.g. `GLEWLWYD_TLS=1`.
    static func start(port: Int, environment: [String: String] = [:]) async throws -> Glewlwyd {
        let directory = try Checkout.temporaryDirectory("glewlwyd")
        var provider = Glewlwyd(directory: directory, port: port, exports: [:])
        try await provider.run("start", [directory.path, String(port)], environment: environment)
        return provider
    }

    /// Starts a provider, runs `scenario` with it and a scratch directory, and always removes both after.
    static func with(
        environment: [String: String] = [:],
        _ scenario: (inout Glewlwyd, URL) async throws -> Void
    ) async throws {
        var provider = try await Glewlwyd.start(port: try await LoopbackPort.free(), environment: environment)
        let work = try Checkout.temporaryDirectory("authprobe-work")
        defer { try? FileManager.default.removeItem(at: work) }
        do {
            try await scenario(&provider, work)
        } catch {
            await provider.purge()
            throw error
        }
        await provider.purge()
    }

    var caFile: String? { self.exports["OIDC_CA_FILE"].flatMap { $0.isEmpty ? nil : $0 } }

    /// Runs one of the provider scripts; `export` lines it prints update the known values.
    @discardableResult
    mutating func run(
        _ script: String,
        _ arguments: [String] = [],
        environment: [String: String] = [:]
    ) async throws -> CommandOutput {
        let output = try await runCommand(
            Checkout.script("scripts/idp/glewlwyd/\(script)"),
            arguments,
            environment: environment.merging(["GLEWLWYD_DIR": self.directory.path]) { $1 }
        )
        guard output.status == 0 else {
            throw CommandFailed(command: "glewlwyd/\(script)", output: output)
        }
        for line in output.stdout.split(separator: "\n") where line.hasPrefix("export ") {
            let assignment = line.dropFirst("export ".count)
            guard let equals = assignment.firstIndex(of: "=") else { continue }
            var value = String(assignment[assignment.index(after: equals)...])
            if value.hasPrefix("'") && value.hasSuffix("'") && value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            self.exports[String(assignment[..<equals])] = value
        }
        return output
    }

    /// Stops the server and deletes its state.
    func purge() async {
        _ = try? await runCommand(
            Checkout.script("scripts/idp/glewlwyd/stop"),
            ["--purge", self.directory.path]
        )
    }
}
