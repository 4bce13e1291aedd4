import Foundation
import NIOSSL
import Yams

/// The single validation pass behind ``ConfigLoader``: walks the YAML node tree, collects every
/// problem with its line and field, and builds the config when there are none.
struct ConfigParser {
    let file: String
    let baseDirectory: String
    let environment: [String: String]
    private(set) var errors: [ConfigError] = []

    init(file: String, baseDirectory: String, environment: [String: String]) {
        self.file = file
        self.baseDirectory = baseDirectory
        self.environment = environment
    }

    private static let rootKeys = [
        "listen", "database", "location", "concurrency", "defaults", "retention", "environments",
    ]
    private static let defaultsKeys = ["interval", "timeout", "token_interval"]
    private static let retentionKeys = ["raw"]
    private static let environmentKeys = [
        "name", "issuer", "interval", "timeout", "token_interval", "insecure_http", "ca_file", "proxy",
        "ip_preference", "verify_access_token", "api_check", "conformance_allow", "clients",
    ]
    private static let apiCheckKeys = ["url", "expect_status"]
    private static let clientKeys = [
        "name", "client_id", "client_secret", "client_secret_file", "auth_method", "private_key_file", "key_id",
        "signing_algorithm", "assertion_audience", "tls_client_certificate_file", "tls_client_key_file", "scope",
        "audience", "parameters", "expires_at",
    ]
    /// Client keys that only `private_key_jwt` uses.
    private static let signingKeys = ["private_key_file", "key_id", "signing_algorithm", "assertion_audience"]

    // MARK: - Levels

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

    private mutating func parseEnvironment(
        _ node: Node,
        field: String,
        interval defaultInterval: Duration,
        timeout defaultTimeout: Duration,
        tokenInterval defaultTokenInterval: Duration?
    ) -> EnvironmentConfig? {
        guard let fields = self.mapping(node, field: field, keys: Self.environmentKeys) else { return nil }
        let name = self.requiredLabel(fields, node: node, key: "name", field: field)
        let parsedInterval = fields["interval"].flatMap { self.duration($0, field: "\(field).interval") }
        let parsedTimeout = fields["timeout"].flatMap { self.duration($0, field: "\(field).timeout") }
        let interval = parsedInterval ?? defaultInterval
        let timeout = parsedTimeout ?? defaultTimeout
        let setsOwnValue = parsedInterval != nil || parsedTimeout != nil
        let anyFailed =
            (fields["interval"] != nil && parsedInterval == nil) || (fields["timeout"] != nil && parsedTimeout == nil)
        if timeout > interval, setsOwnValue, !anyFailed {
            self.timeoutProblem(
                timeoutNode: fields["timeout"],
                intervalNode: fields["interval"],
                parent: node,
                field: field,
                timeout: timeout,
                interval: interval
            )
        }
        let tokenIntervalNode = fields["token_interval"]
        let ownTokenInterval = tokenIntervalNode.flatMap { self.duration($0, field: "\(field).token_interval") }
        // An inherited token_interval never makes tokens more frequent than this environment's runs.
        let tokenInterval = ownTokenInterval ?? defaultTokenInterval.map { max($0, interval) }
        if let tokenInterval, tokenInterval < interval {
            self.fail(
                tokenIntervalNode ?? node,
                field: "\(field).token_interval",
                "\(Durations.format(tokenInterval)) is shorter than the interval \(Durations.format(interval)); "
                    + "tokens are requested at most once per run"
            )
        }
        let insecureHTTP = fields["insecure_http"].flatMap { self.bool($0, field: "\(field).insecure_http") } ?? false
        var proxy: ProxyAddress?
        if let proxyNode = fields["proxy"], let text = self.string(proxyNode, field: "\(field).proxy") {
            proxy = self.checkProxy(text, node: proxyNode, field: "\(field).proxy")
        }
        var issuer: String?
        if let issuerNode = fields["issuer"] {
            if let text = self.string(issuerNode, field: "\(field).issuer") {
                issuer = self.checkIssuer(
                    text,
                    node: issuerNode,
                    field: "\(field).issuer",
                    insecureHTTP: insecureHTTP,
                    proxy: proxy
                )
            }
        } else {
            self.fail(node, field: "\(field).issuer", "required")
        }
        var caFile: String?
        if let caNode = fields["ca_file"], let path = self.string(caNode, field: "\(field).ca_file") {
            caFile = self.readablePath(path, node: caNode, field: "\(field).ca_file")
        }
        var ipPreference = IPPreference.system
        if let preferenceNode = fields["ip_preference"],
            let preference: IPPreference = self.choice(
                preferenceNode,
                field: "\(field).ip_preference",
                kind: "preference"
            )
        {
            ipPreference = preference
        }
        var apiCheck: APICheck?
        if let apiNode = fields["api_check"] {
            apiCheck = self.parseAPICheck(
                apiNode,
                field: "\(field).api_check",
                insecureHTTP: insecureHTTP,
                proxy: proxy
            )
        }
        var conformanceAllow: Set<ConformanceRule> = []
        if let allowNode = fields["conformance_allow"],
            let list = self.sequence(allowNode, field: "\(field).conformance_allow")
        {
            for (index, item) in list.enumerated() {
                let itemField = "\(field).conformance_allow[\(index)]"
                if let rule: ConformanceRule = self.choice(item, field: itemField, kind: "rule") {
                    conformanceAllow.insert(rule)
                }
            }
        }
        var clients: [ClientConfig] = []
        if let clientsNode = fields["clients"], let list = self.sequence(clientsNode, field: "\(field).clients") {
            clients = self.uniquelyNamed(list, field: "\(field).clients", kind: "client", name: \.name) {
                $0.parseClient($1, field: $2)
            }
        }
        guard let name, let issuer else { return nil }
        var environment = EnvironmentConfig(
            name: name,
            issuer: issuer,
            interval: interval,
            timeout: timeout,
            tokenInterval: tokenInterval,
            insecureHTTP: insecureHTTP,
            caFile: caFile,
            apiCheck: apiCheck,
            clients: clients
        )
        environment.conformanceAllow = conformanceAllow
        environment.proxy = proxy
        environment.ipPreference = ipPreference
        environment.verifyAccessToken =
            fields["verify_access_token"].flatMap { self.bool($0, field: "\(field).verify_access_token") } ?? true
        return environment
    }

    /// Parses each element of a list of named items; a repeated name is an error at its second use.
    private mutating func uniquelyNamed<Item>(
        _ list: [Node],
        field: String,
        kind: String,
        name: (Item) -> String,
        parse: (inout ConfigParser, Node, String) -> Item?
    ) -> [Item] {
        var items: [Item] = []
        var firstLine: [String: Int] = [:]
        for (index, node) in list.enumerated() {
            let itemField = "\(field)[\(index)]"
            guard let item = parse(&self, node, itemField) else { continue }
            let itemName = name(item)
            if let line = firstLine[itemName] {
                self.fail(
                    node,
                    field: "\(itemField).name",
                    "duplicate \(kind) name \"\(itemName)\" (first at line \(line))"
                )
            } else {
                firstLine[itemName] = node.mark?.line ?? 0
                items.append(item)
            }
        }
        return items
    }

    private mutating func parseAPICheck(_ node: Node, field: String, insecureHTTP: Bool, proxy: ProxyAddress?)
        -> APICheck?
    {
        guard let fields = self.mapping(node, field: field, keys: Self.apiCheckKeys) else { return nil }
        guard let urlNode = fields["url"] else {
            self.fail(node, field: "\(field).url", "required")
            return nil
        }
        guard let text = self.string(urlNode, field: "\(field).url"),
            let url = self.checkURL(
                text,
                node: urlNode,
                field: "\(field).url",
                insecureHTTP: insecureHTTP,
                proxy: proxy
            )
        else { return nil }
        var check = APICheck(url: url)
        if let statusNode = fields["expect_status"],
            let status = self.integer(statusNode, field: "\(field).expect_status")
        {
            guard (100...599).contains(status) else {
                self.fail(statusNode, field: "\(field).expect_status", "expected an HTTP status between 100 and 599")
                return nil
            }
            check.expectStatus = status
        }
        return check
    }

    /// Reports a timeout longer than its interval on the field the file actually set.
    private mutating func timeoutProblem(
        timeoutNode: Node?,
        intervalNode: Node?,
        parent: Node,
        field: String,
        timeout: Duration,
        interval: Duration
    ) {
        let timeoutText = Durations.format(timeout)
        let intervalText = Durations.format(interval)
        if let timeoutNode {
            self.fail(
                timeoutNode,
                field: "\(field).timeout",
                "\(timeoutText) is longer than the interval \(intervalText)"
            )
        } else {
            self.fail(
                intervalNode ?? parent,
                field: "\(field).interval",
                "\(intervalText) is shorter than the timeout \(timeoutText)"
            )
        }
    }

    private mutating func parseClient(_ node: Node, field: String) -> ClientConfig? {
        guard let fields = self.mapping(node, field: field, keys: Self.clientKeys) else { return nil }
        let name = self.requiredLabel(fields, node: node, key: "name", field: field)
        var clientID: String?
        if let idNode = fields["client_id"] {
            if let text = self.string(idNode, field: "\(field).client_id") {
                clientID = self.expandVariables(text, node: idNode, field: "\(field).client_id")
                if clientID?.isEmpty == true {
                    self.fail(idNode, field: "\(field).client_id", "must not be empty")
                    clientID = nil
                }
            }
        } else {
            self.fail(node, field: "\(field).client_id", "required")
        }
        var authMethod = AuthMethod.clientSecretBasic
        var methodKnown = true
        if let methodNode = fields["auth_method"] {
            if let method: AuthMethod = self.choice(methodNode, field: "\(field).auth_method", kind: "method") {
                authMethod = method
            } else {
                methodKnown = false
            }
        }
        var secret: Secret?
        if authMethod.usesSecret {
            if methodKnown { secret = self.parseSecret(fields, node: node, field: field) }
        } else {
            for key in ["client_secret", "client_secret_file"] {
                if let extra = fields[key] {
                    self.fail(
                        extra,
                        field: "\(field).\(key)",
                        "not used with auth_method \(authMethod.rawValue); remove it"
                    )
                }
            }
        }
        var signingKey: SigningKey?
        if authMethod == .privateKeyJWT {
            signingKey = self.parseSigningKey(fields, node: node, field: field)
        } else {
            for key in Self.signingKeys {
                if let extra = fields[key] {
                    self.fail(extra, field: "\(field).\(key)", "only used with auth_method private_key_jwt")
                }
            }
        }
        let certificate = self.parseClientCertificate(fields, node: node, field: field)
        if authMethod == .tlsClientAuth, fields["tls_client_certificate_file"] == nil {
            self.fail(
                node,
                field: "\(field).tls_client_certificate_file",
                "required with auth_method tls_client_auth (and tls_client_key_file)"
            )
        }
        let scope = fields["scope"].flatMap { self.string($0, field: "\(field).scope") }
        let audience = fields["audience"].flatMap { self.string($0, field: "\(field).audience") }
        var parameters: [(name: String, value: String)] = []
        if let parametersNode = fields["parameters"] {
            parameters = self.parseParameters(parametersNode, field: "\(field).parameters")
        }
        var expiresAt: Date?
        if authMethod == .tlsClientAuth, let expiryNode = fields["expires_at"] {
            self.fail(
                expiryNode,
                field: "\(field).expires_at",
                "not used with auth_method tls_client_auth: the certificate's own expiry is read from its file"
            )
        } else if let expiryNode = fields["expires_at"],
            let text = self.string(expiryNode, field: "\(field).expires_at")
        {
            expiresAt = Self.parseTimestamp(text)
            if expiresAt == nil {
                self.fail(
                    expiryNode,
                    field: "\(field).expires_at",
                    "expected an RFC 3339 time such as 2027-03-01T00:00:00Z"
                )
            }
        }
        guard let name, let clientID, methodKnown else { return nil }
        guard secret != nil || !authMethod.usesSecret, signingKey != nil || authMethod != .privateKeyJWT,
            certificate != nil || authMethod != .tlsClientAuth
        else { return nil }
        var client = ClientConfig(
            name: name,
            clientID: clientID,
            secret: secret,
            authMethod: authMethod,
            scope: scope,
            audience: audience,
            parameters: parameters,
            expiresAt: expiresAt
        )
        client.signingKey = signingKey
        client.tlsClientCertificate = certificate
        return client
    }

    /// `private_key_file` (required), `key_id`, `signing_algorithm`, `assertion_audience`.
    private mutating func parseSigningKey(_ fields: [String: Node], node: Node, field: String) -> SigningKey? {
        guard let keyNode = fields["private_key_file"] else {
            self.fail(node, field: "\(field).private_key_file", "required with auth_method private_key_jwt")
            return nil
        }
        guard let pem = self.secretFromFile(keyNode, field: "\(field).private_key_file") else { return nil }
        var algorithm = ClientAssertion.defaultAlgorithm(pem: pem)
        if let algorithmNode = fields["signing_algorithm"] {
            guard
                let named: SigningKey.Algorithm = self.choice(
                    algorithmNode,
                    field: "\(field).signing_algorithm",
                    kind: "algorithm"
                )
            else { return nil }
            algorithm = named
        }
        let problemField = fields["signing_algorithm"] != nil ? "signing_algorithm" : "private_key_file"
        guard let algorithm else {
            // Never echo the file: it holds a private key.
            self.fail(
                keyNode,
                field: "\(field).private_key_file",
                "\(self.resolve(self.string(keyNode, field: field) ?? "")): not an unencrypted PEM RSA or EC (P-256, P-384) private key"
            )
            return nil
        }
        if let problem = ClientAssertion.problem(pem: pem, algorithm: algorithm) {
            self.fail(fields[problemField] ?? keyNode, field: "\(field).\(problemField)", problem)
            return nil
        }
        var key = SigningKey(pem: pem, algorithm: algorithm)
        key.keyID = fields["key_id"].flatMap { self.string($0, field: "\(field).key_id") }
        if let audienceNode = fields["assertion_audience"],
            let text = self.string(audienceNode, field: "\(field).assertion_audience")
        {
            key.audience = text
        }
        // A certificate kept in the same file says until when the key is valid.
        key.certificateNotAfter = pem.withRawValue { text in
            (try? NIOSSLCertificate.fromPEMBytes(Array(text.utf8)))?.first.map {
                Date(timeIntervalSince1970: TimeInterval($0.notValidAfter))
            }
        }
        return key
    }

    /// `tls_client_certificate_file` and `tls_client_key_file`: both or neither, both loadable now.
    private mutating func parseClientCertificate(
        _ fields: [String: Node],
        node: Node,
        field: String
    ) -> ClientCertificate? {
        let certificateNode = fields["tls_client_certificate_file"]
        let keyNode = fields["tls_client_key_file"]
        switch (certificateNode, keyNode) {
        case (nil, nil):
            return nil
        case (.some, nil):
            self.fail(node, field: "\(field).tls_client_key_file", "required with tls_client_certificate_file")
            return nil
        case (nil, .some(let keyNode)):
            self.fail(keyNode, field: "\(field).tls_client_certificate_file", "required with tls_client_key_file")
            return nil
        case (.some(let certificateNode), .some(let keyNode)):
            let certificateField = "\(field).tls_client_certificate_file"
            let keyField = "\(field).tls_client_key_file"
            guard let certificatePath = self.string(certificateNode, field: certificateField),
                let keyPath = self.string(keyNode, field: keyField),
                let certificateFile = self.readablePath(
                    certificatePath,
                    node: certificateNode,
                    field: certificateField
                ),
                let keyFile = self.readablePath(keyPath, node: keyNode, field: keyField)
            else { return nil }
            guard let first = (try? NIOSSLCertificate.fromPEMFile(certificateFile))?.first else {
                self.fail(certificateNode, field: certificateField, "\(certificateFile): not a PEM certificate")
                return nil
            }
            guard (try? NIOSSLPrivateKey(file: keyFile, format: .pem)) != nil else {
                // Never echo the file: it holds a private key.
                self.fail(keyNode, field: keyField, "\(keyFile): not an unencrypted PEM private key")
                return nil
            }
            let notAfter = Date(timeIntervalSince1970: TimeInterval(first.notValidAfter))
            return ClientCertificate(certificateFile: certificateFile, keyFile: keyFile, notAfter: notAfter)
        }
    }

    /// Upper bounds that keep schedules meaningful (a probe once a year monitors nothing).
    private static let durationLimits: [String: Duration] = [
        "interval": .seconds(86_400),
        "token_interval": .seconds(86_400),
        "timeout": .seconds(600),
        "raw": .seconds(10 * 365 * 86_400),
    ]

    /// Form parameters authprobe sets itself, and where their value belongs instead.
    private static let reservedParameters: [String: String] = [
        "grant_type": "set by authprobe itself (always client_credentials); remove it",
        "client_id": "set by authprobe itself; use the client's client_id key instead",
        "client_secret": "set by authprobe itself; use the client's client_secret or client_secret_file key instead",
        "scope": "set by authprobe itself; use the client's scope key instead",
        "audience": "set by authprobe itself; use the client's audience key instead",
    ]

    private mutating func parseParameters(_ node: Node, field: String) -> [(name: String, value: String)] {
        guard case .mapping(let mapping) = node else {
            self.fail(node, field: field, "expected a mapping of form parameter names to values")
            return []
        }
        var result: [(name: String, value: String)] = []
        for (keyNode, valueNode) in mapping {
            let key = keyNode.string ?? ""
            if let problem = Self.reservedParameters[key] {
                self.fail(keyNode, field: "\(field).\(key)", problem)
                continue
            }
            if let value = self.string(valueNode, field: "\(field).\(key)") {
                result.append((key, value))
            }
        }
        return result
    }

    // MARK: - Secrets

    private mutating func parseSecret(_ fields: [String: Node], node: Node, field: String) -> Secret? {
        switch (fields["client_secret"], fields["client_secret_file"]) {
        case (nil, nil):
            self.fail(node, field: "\(field).client_secret", "required (a ${ENV_VAR} reference, or client_secret_file)")
            return nil
        case (.some(let secretNode), .some):
            self.fail(
                secretNode,
                field: "\(field).client_secret",
                "set either client_secret or client_secret_file, not both"
            )
            return nil
        case (.some(let secretNode), nil):
            return self.secretFromVariable(secretNode, field: "\(field).client_secret")
        case (nil, .some(let fileNode)):
            return self.secretFromFile(fileNode, field: "\(field).client_secret_file")
        }
    }

    private mutating func secretFromVariable(_ node: Node, field: String) -> Secret? {
        guard let text = self.string(node, field: field) else { return nil }
        guard let name = Self.variableReference(text) else {
            // Never echo the value: it may be a real secret pasted into the file.
            self.fail(
                node,
                field: field,
                "must be a ${ENV_VAR} reference; literal secrets are not accepted (or use client_secret_file)"
            )
            return nil
        }
        guard let value = self.environment[name] else {
            self.fail(node, field: field, "environment variable \(name) is not set")
            return nil
        }
        if value.isEmpty {
            self.fail(node, field: field, "environment variable \(name) is empty")
            return nil
        }
        return Secret(value)
    }

    /// `path` resolved against the configuration file's directory.
    private func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: self.baseDirectory).appendingPathComponent(path).path
    }

    /// The resolved path of a file that must exist and be readable now (not at the first probe).
    private mutating func readablePath(_ path: String, node: Node, field: String) -> String? {
        let resolved = self.resolve(path)
        guard FileManager.default.isReadableFile(atPath: resolved) else {
            let reason = FileManager.default.fileExists(atPath: resolved) ? "permission denied" : "no such file"
            self.fail(node, field: field, "cannot read \(resolved): \(reason)")
            return nil
        }
        return resolved
    }

    private mutating func secretFromFile(_ node: Node, field: String) -> Secret? {
        guard let path = self.string(node, field: field) else { return nil }
        let resolved = self.resolve(path)
        let contents: String
        do {
            contents = try String(contentsOfFile: resolved, encoding: .utf8)
        } catch {
            self.fail(node, field: field, "cannot read \(resolved): \(ConfigLoader.reason(error))")
            return nil
        }
        // Files written by `echo` or secret managers end with a newline that is not part of the secret.
        let value = contents.trimmingCharacters(in: .newlines)
        if value.isEmpty {
            self.fail(node, field: field, "\(resolved) is empty")
            return nil
        }
        return Secret(value)
    }

    /// The variable name of a whole-value `${NAME}` reference.
    static func variableReference(_ text: String) -> String? {
        guard text.hasPrefix("${"), text.hasSuffix("}"), text.count > 3 else { return nil }
        let name = String(text.dropFirst(2).dropLast())
        return Self.isVariableName(name) ? name : nil
    }

    private static func isVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic)
        else { return false }
        return name.unicodeScalars.allSatisfy {
            $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
        }
    }

    /// Replaces every `${NAME}` in a non-secret value such as a client id.
    private mutating func expandVariables(_ text: String, node: Node, field: String) -> String? {
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            result += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                self.fail(node, field: field, "unterminated ${ reference")
                return nil
            }
            let name = String(rest[start.upperBound..<end])
            guard Self.isVariableName(name) else {
                self.fail(node, field: field, "invalid variable name \"\(name)\"")
                return nil
            }
            guard let value = self.environment[name] else {
                self.fail(node, field: field, "environment variable \(name) is not set")
                return nil
            }
            result += value
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }

    // MARK: - Values

    private mutating func checkIssuer(
        _ text: String,
        node: Node,
        field: String,
        insecureHTTP: Bool,
        proxy: ProxyAddress?
    ) -> String? {
        guard let url = self.checkURL(text, node: node, field: field, insecureHTTP: insecureHTTP, proxy: proxy)
        else { return nil }
        if URLComponents(string: url)?.query != nil || URLComponents(string: url)?.fragment != nil {
            self.fail(node, field: field, "an issuer has no query or fragment")
            return nil
        }
        return url
    }

    /// An absolute https URL (http on loopback or with `insecure_http`), without user info.
    private mutating func checkURL(
        _ text: String,
        node: Node,
        field: String,
        insecureHTTP: Bool,
        proxy: ProxyAddress?
    ) -> String? {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty, scheme == "https" || scheme == "http"
        else {
            self.fail(node, field: field, "expected an absolute https:// URL")
            return nil
        }
        if components.user != nil || components.password != nil {
            // Never echo it: the part before @ may be a password.
            self.fail(
                node,
                field: field,
                "a user name or password in the URL is not accepted; remove the part before @"
            )
            return nil
        }
        if scheme == "http" && !insecureHTTP && !Host.isLoopback(host) {
            self.fail(node, field: field, "plain http is refused off loopback; use https (or set insecure_http: true)")
            return nil
        }
        if scheme == "http" && !insecureHTTP, let proxy, !Host.isLoopback(proxy.host) {
            // Sent to a proxy elsewhere, a loopback request would cross the network in clear text (and reach
            // the proxy's own loopback, not this host's).
            self.fail(
                node,
                field: field,
                "plain http through the proxy \(proxy.description) would cross the network; use https "
                    + "(or set insecure_http: true)"
            )
            return nil
        }
        return text
    }

    /// One value of a closed set, named by its raw value; nil, with an error listing the choices, otherwise.
    private mutating func choice<Value: RawRepresentable & CaseIterable>(
        _ node: Node,
        field: String,
        kind: String
    ) -> Value? where Value.RawValue == String {
        guard let text = self.string(node, field: field) else { return nil }
        if let value = Value(rawValue: text) { return value }
        let known = Value.allCases.map(\.rawValue).joined(separator: ", ")
        self.fail(node, field: field, "unknown \(kind) \"\(text)\" (expected one of: \(known))")
        return nil
    }

    /// `http://host:port` of an HTTP proxy: no credentials, no path.
    private mutating func checkProxy(_ text: String, node: Node, field: String) -> ProxyAddress? {
        guard let components = URLComponents(string: text), components.scheme?.lowercased() == "http",
            var host = components.host, !host.isEmpty
        else {
            self.fail(node, field: field, "expected an http://host:port proxy URL")
            return nil
        }
        if components.user != nil || components.password != nil {
            // Never echo it: the part before @ may be a password.
            self.fail(node, field: field, "proxy credentials are not supported; remove the part before @")
            return nil
        }
        guard let port = components.port, (1...65535).contains(port) else {
            self.fail(node, field: field, "the proxy URL needs a port, e.g. http://proxy.internal:3128")
            return nil
        }
        guard components.path.isEmpty || components.path == "/", components.query == nil, components.fragment == nil
        else {
            self.fail(node, field: field, "a proxy URL has no path, query or fragment")
            return nil
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return ProxyAddress(host: host, port: port)
    }

    private mutating func requiredLabel(_ fields: [String: Node], node: Node, key: String, field: String) -> String? {
        guard let valueNode = fields[key] else {
            self.fail(node, field: "\(field).\(key)", "required")
            return nil
        }
        guard let text = self.string(valueNode, field: "\(field).\(key)") else { return nil }
        return self.labelValue(text, node: valueNode, field: "\(field).\(key)")
    }

    /// Names become metric label values: short, printable, no spaces.
    private mutating func labelValue(_ text: String, node: Node, field: String) -> String? {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_."))
        guard !text.isEmpty, text.count <= 64, text.unicodeScalars.allSatisfy({ $0.isASCII && allowed.contains($0) })
        else {
            self.fail(node, field: field, "\"\(text)\" is not a valid name (1-64 of A-Z a-z 0-9 - _ .)")
            return nil
        }
        return text
    }

    private mutating func duration(_ node: Node, field: String) -> Duration? {
        guard case .scalar(let scalar) = node, node.null == nil else {
            self.fail(node, field: field, "expected a duration such as 30s, found \(Self.kind(node))")
            return nil
        }
        let text = scalar.string
        guard let value = Durations.parse(text), value > .zero else {
            self.fail(node, field: field, "invalid duration \"\(text)\" (expected e.g. 30s, 5m, 1h, 30d)")
            return nil
        }
        let key = field.split(separator: ".").last.map(String.init) ?? field
        if let limit = Self.durationLimits[key], value > limit {
            self.fail(
                node,
                field: field,
                "\(Durations.format(value)) is longer than the maximum \(Durations.format(limit))"
            )
            return nil
        }
        return value
    }

    static func parseTimestamp(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withFullDate]
        return formatter.date(from: text)
    }

    // MARK: - Node shapes

    private mutating func mapping(_ node: Node, field: String, keys: [String]) -> [String: Node]? {
        guard case .mapping(let mapping) = node else {
            self.fail(node, field: field, "expected a mapping, found \(Self.kind(node))")
            return nil
        }
        var fields: [String: Node] = [:]
        for (keyNode, valueNode) in mapping {
            let key = keyNode.string ?? "\(keyNode)"
            let path = field == "(root)" ? key : "\(field).\(key)"
            if keys.contains(key) {
                fields[key] = valueNode
            } else {
                self.fail(keyNode, field: path, "unknown key (expected one of: \(keys.joined(separator: ", ")))")
            }
        }
        return fields
    }

    private mutating func sequence(_ node: Node, field: String) -> [Node]? {
        guard case .sequence(let sequence) = node else {
            self.fail(node, field: field, "expected a list, found \(Self.kind(node))")
            return nil
        }
        return Array(sequence)
    }

    private mutating func string(_ node: Node, field: String) -> String? {
        guard case .scalar(let scalar) = node, node.null == nil else {
            self.fail(node, field: field, "expected a string, found \(Self.kind(node))")
            return nil
        }
        return scalar.string
    }

    private mutating func integer(_ node: Node, field: String) -> Int? {
        guard case .scalar(let scalar) = node, let value = Int(scalar.string) else {
            self.fail(node, field: field, "expected a whole number" + Self.found(node))
            return nil
        }
        return value
    }

    private mutating func bool(_ node: Node, field: String) -> Bool? {
        guard case .scalar(let scalar) = node else {
            self.fail(node, field: field, "expected true or false" + Self.found(node))
            return nil
        }
        switch scalar.string.lowercased() {
        case "true": return true
        case "false": return false
        default:
            self.fail(node, field: field, "expected true or false" + Self.found(node))
            return nil
        }
    }

    /// ", found a list" for structured values; nothing for a scalar of the wrong kind (never echo it).
    private static func found(_ node: Node) -> String {
        if case .scalar = node, node.null == nil { return "" }
        return ", found \(Self.kind(node))"
    }

    private static func kind(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar:
            // Never echo the value: a misplaced secret would end up in the error message.
            return node.null != nil ? "nothing" : "a single value"
        }
    }

    // MARK: - Errors

    private mutating func fail(_ node: Node, field: String, _ problem: String) {
        self.fail(line: node.mark?.line, field: field, problem)
    }

    private mutating func fail(line: Int?, field: String, _ problem: String) {
        self.errors.append(ConfigError(file: self.file, line: line, field: field, problem: problem))
    }
}
