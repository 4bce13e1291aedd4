import Foundation
import Yams

/// The single validation pass behind ``ConfigLoader``: walks the YAML node tree, collects every
/// problem with its line and field, and builds the config when there are none.
///
/// This file holds the root level (`defaults`, `retention`) and error collection; each other level or kind of
/// value has its own `ConfigParser+Concern.swift`: environments, clients, credentials, `${VAR}` references,
/// URLs, scalars and node shapes.
struct ConfigParser {
    /// The configuration file, as errors name it.
    let file: String
    /// Relative file paths in the configuration are resolved against this directory (the config file's).
    let baseDirectory: String
    /// Variables for `${NAME}` references.
    let environment: [String: String]
    /// Reads every file the configuration names; the parser itself never touches the disk.
    let reader: ConfigFileReader
    /// False for `check-config --no-secrets`: secret variables need not be set and secret files (client secrets,
    /// private keys) are not read, only their references checked; each such secret is ``unreadSecret``.
    let readSecrets: Bool
    private(set) var errors: [ConfigError] = []

    init(
        file: String,
        baseDirectory: String,
        environment: [String: String],
        reader: ConfigFileReader,
        readSecrets: Bool = true
    ) {
        self.file = file
        self.baseDirectory = baseDirectory
        self.environment = environment
        self.reader = reader
        self.readSecrets = readSecrets
    }

    /// The value of every secret when ``readSecrets`` is false. Such a configuration is only checked, never run.
    static let unreadSecret = Secret("(not read)")

    /// The keys each level accepts; anything else is an unknown-key error listing these.
    static let rootKeys = [
        "listen", "database", "location", "concurrency", "defaults", "retention", "alerting", "environments",
    ]
    static let defaultsKeys = ["interval", "timeout", "token_interval"]
    static let retentionKeys = ["raw"]
    static let environmentKeys = [
        "name", "issuer", "interval", "timeout", "token_interval", "insecure_http", "ca_file", "proxy",
        "ip_preference", "verify_access_token", "api_check", "conformance_allow", "allowed_hosts", "tls_min_version",
        "clients",
    ]
    static let apiCheckKeys = ["url", "expect_status"]
    static let clientKeys = [
        "name", "client_id", "client_secret", "client_secret_file", "auth_method", "private_key_file", "key_id",
        "signing_algorithm", "assertion_audience", "tls_client_certificate_file", "tls_client_key_file", "scope",
        "audience", "parameters", "expires_at",
    ]
    /// Client keys that only `private_key_jwt` uses.
    static let signingKeys = ["private_key_file", "key_id", "signing_algorithm", "assertion_audience"]

    // MARK: - Levels

    /// The whole file: root keys, `defaults` inherited by every environment, `retention`, `environments`.
    mutating func parseRoot(_ root: Node?) -> MonitorConfig? {
        guard let root, let fields = self.mapping(root, field: "(root)", keys: Self.rootKeys) else {
            if root == nil {
                self.fail(line: 1, field: "(root)", "the file is empty; expected a mapping with environments")
            }
            return nil
        }
        var config = MonitorConfig(environments: [])
        if let node = fields["listen"], let text = self.string(node, field: "listen") {
            if let address = ListenAddress.parse(text) {
                config.listen = address
            } else {
                self.fail(node, field: "listen", "expected host:port, e.g. 127.0.0.1:9470")
            }
        }
        if let node = fields["database"], let text = self.string(node, field: "database") {
            if text.isEmpty { self.fail(node, field: "database", "must not be empty") } else { config.database = text }
        }
        if let node = fields["location"], let text = self.string(node, field: "location") {
            config.location = self.labelValue(text, node: node, field: "location")
        }
        if let node = fields["concurrency"], let value = self.integer(node, field: "concurrency") {
            if value < 1 {
                self.fail(node, field: "concurrency", "must be at least 1")
            } else {
                config.concurrency = value
            }
        }
        var interval = MonitorConfig.defaultInterval
        var timeout = MonitorConfig.defaultTimeout
        var tokenInterval: Duration?
        if let node = fields["defaults"], let defaults = self.mapping(node, field: "defaults", keys: Self.defaultsKeys)
        {
            let parsedInterval = defaults["interval"].flatMap { self.duration($0, field: "defaults.interval") }
            let parsedTimeout = defaults["timeout"].flatMap { self.duration($0, field: "defaults.timeout") }
            interval = parsedInterval ?? interval
            timeout = parsedTimeout ?? timeout
            tokenInterval = defaults["token_interval"].flatMap { self.duration($0, field: "defaults.token_interval") }
            // Checked once here; environments are checked only where they set a value themselves.
            let anyFailed =
                (defaults["interval"] != nil && parsedInterval == nil)
                || (defaults["timeout"] != nil && parsedTimeout == nil)
            if timeout > interval, !anyFailed {
                self.timeoutProblem(
                    timeoutNode: defaults["timeout"],
                    intervalNode: defaults["interval"],
                    parent: node,
                    field: "defaults",
                    timeout: timeout,
                    interval: interval
                )
            }
        }
        if let node = fields["retention"],
            let retention = self.mapping(node, field: "retention", keys: Self.retentionKeys),
            let value = retention["raw"].flatMap({ self.duration($0, field: "retention.raw") })
        {
            config.rawRetention = value
        }
        if let node = fields["alerting"] { config.alerting = self.parseAlerting(node) }
        guard let environmentsNode = fields["environments"] else {
            self.fail(root, field: "environments", "required: at least one environment")
            return config
        }
        guard let list = self.sequence(environmentsNode, field: "environments") else { return config }
        if list.isEmpty {
            self.fail(environmentsNode, field: "environments", "required: at least one environment")
        }
        config.environments = self.uniquelyNamed(list, field: "environments", kind: "environment", name: \.name) {
            $0.parseEnvironment($1, field: $2, interval: interval, timeout: timeout, tokenInterval: tokenInterval)
        }
        return config
    }

    // MARK: - Errors

    /// Records a problem at `node`'s line.
    mutating func fail(_ node: Node, field: String, _ problem: String) {
        self.fail(line: node.mark?.line, field: field, problem)
    }

    mutating func fail(line: Int?, field: String, _ problem: String) {
        self.errors.append(ConfigError(file: self.file, line: line, field: field, problem: problem))
    }
}
