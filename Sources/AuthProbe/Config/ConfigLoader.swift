import Foundation
import Yams

/// Reads a YAML configuration file into a validated ``MonitorConfig``.
///
/// Defaults first, then the file on top; unknown keys are rejected at every level and every problem
/// is reported with its file, line and field in one pass. Secrets come only from `${ENV_VAR}`
/// references or `*_file` paths, never from literals in the file.
public struct ConfigLoader: Sendable {
    /// Environment variables used to resolve `${VAR}` references.
    public var environment: [String: String]
    /// Whether secrets are read. False checks a configuration's shape on a machine without its secrets
    /// (`check-config --no-secrets`): `client_secret` must still be a `${VAR}` reference but the variable need not
    /// be set, and secret files (`client_secret_file`, `private_key_file`, `tls_client_key_file`) are not read,
    /// their paths may even use unset variables. Certificate and CA files are still read. Every secret of the
    /// result is a placeholder: such a configuration is for checking, not for probing.
    public var readSecrets: Bool

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, readSecrets: Bool = true) {
        self.environment = environment
        self.readSecrets = readSecrets
    }

    /// Loads and validates `path`; throws ``ConfigValidationError`` listing every problem.
    ///
    /// The file must be a regular file of at most 16 MiB, in UTF-8; secret files may hold at most 64 KiB, PEM
    /// files (keys, certificates, CA files) 1 MiB.
    public func load(path: String) throws -> MonitorConfig {
        let bytes: [UInt8]
        switch ConfigFileReader().bytes(atPath: path, limit: ConfigFileReader.Limit.config) {
        case .success(let contents):
            bytes = contents
        case .failure(let failure):
            throw ConfigValidationError(errors: [
                ConfigError(file: path, line: nil, field: "(file)", problem: "cannot read: \(failure)")
            ])
        }
        if let line = ConfigFileReader.invalidUTF8Line(bytes) {
            throw ConfigValidationError(errors: [
                ConfigError(file: path, line: line, field: "(file)", problem: "not valid UTF-8")
            ])
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let baseDirectory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try self.parse(yaml: text, file: path, baseDirectory: baseDirectory)
    }

    /// Validates YAML text; `file` names it in errors and `baseDirectory` anchors relative secret files.
    ///
    /// The text is refused before it is composed into nodes when it is larger than 16 MiB, uses anchors or
    /// aliases, nests deeper than 64 levels or has more than 100,000 nodes (``YAMLStructureCheck``).
    public func parse(yaml: String, file: String, baseDirectory: String) throws -> MonitorConfig {
        if yaml.utf8.count > ConfigFileReader.Limit.config {
            let limit = ConfigFileReader.Limit.text(ConfigFileReader.Limit.config)
            throw ConfigValidationError(errors: [
                ConfigError(file: file, line: nil, field: "(yaml)", problem: "larger than the limit of \(limit)")
            ])
        }
        if let problem = YAMLStructureCheck.check(yaml) {
            throw ConfigValidationError(errors: [
                ConfigError(file: file, line: problem.line, field: "(yaml)", problem: problem.problem)
            ])
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigValidationError(errors: [Self.syntaxError(error, file: file)])
        }
        var parser = ConfigParser(
            file: file,
            baseDirectory: baseDirectory,
            environment: self.environment,
            reader: ConfigFileReader(),
            readSecrets: self.readSecrets
        )
        let config = parser.parseRoot(root)
        guard parser.errors.isEmpty, let config else {
            throw ConfigValidationError(errors: parser.errors)
        }
        return config
    }

    private static func syntaxError(_ error: YamlError, file: String) -> ConfigError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return ConfigError(file: file, line: mark.line, field: "(yaml)", problem: problem)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigError(
                file: file,
                line: context.mark.line,
                field: "(yaml)",
                problem: "duplicate key \(duplicates.joined(separator: ", "))"
            )
        default:
            return ConfigError(file: file, line: nil, field: "(yaml)", problem: "\(error)")
        }
    }
}
