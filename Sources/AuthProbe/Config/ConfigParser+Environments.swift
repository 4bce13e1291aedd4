import Foundation
import Yams

/// Environments: schedule (interval, timeout, token_interval), issuer, transport options, the API check
/// and the list of clients.
extension ConfigParser {
    mutating func parseEnvironment(
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
        let allowedHosts =
            fields["allowed_hosts"].map { self.parseAllowedHosts($0, field: "\(field).allowed_hosts") } ?? []
        var tlsMinimumVersion = TLSMinimumVersion.tls12
        if let versionNode = fields["tls_min_version"],
            let version: TLSMinimumVersion = self.choice(
                versionNode,
                field: "\(field).tls_min_version",
                kind: "version"
            )
        {
            tlsMinimumVersion = version
        }
        // Where the provider may send this environment's requests; configured URLs are held to it too.
        let policy = issuer.map { issuer in
            EndpointPolicy(
                issuer: issuer,
                allowedHosts: allowedHosts,
                insecureHTTP: insecureHTTP,
                loopbackStaysLocal: proxy.map { Host.isLoopback($0.host) } ?? true
            )
        }
        var caFile: String?
        if let caNode = fields["ca_file"] {
            caFile = self.readablePath(caNode, field: "\(field).ca_file", limit: ConfigFileReader.Limit.pem)
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
                proxy: proxy,
                policy: policy
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
                $0.parseClient($1, field: $2, policy: policy)
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
        environment.allowedHosts = allowedHosts
        environment.tlsMinimumVersion = tlsMinimumVersion
        environment.proxy = proxy
        environment.ipPreference = ipPreference
        environment.verifyAccessToken =
            fields["verify_access_token"].flatMap { self.bool($0, field: "\(field).verify_access_token") } ?? true
        return environment
    }

    /// Parses each element of a list of named items; a repeated name is an error at its second use.
    mutating func uniquelyNamed<Item>(
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

    /// `allowed_hosts`: host names or IP literals, each without scheme, port or path; returned normalized.
    mutating func parseAllowedHosts(_ node: Node, field: String) -> [String] {
        guard let list = self.sequence(node, field: field) else { return [] }
        var hosts: [String] = []
        for (index, item) in list.enumerated() {
            guard let text = self.string(item, field: "\(field)[\(index)]") else { continue }
            guard Host.isHostName(text) else {
                self.fail(
                    item,
                    field: "\(field)[\(index)]",
                    "\"\(text)\" is not a host name or IP address (no scheme, port, path or wildcard)"
                )
                continue
            }
            hosts.append(Host.normalized(text))
        }
        return hosts
    }

    mutating func parseAPICheck(
        _ node: Node,
        field: String,
        insecureHTTP: Bool,
        proxy: ProxyAddress?,
        policy: EndpointPolicy?
    ) -> APICheck? {
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
        // The access token goes there: never in clear text from an https issuer, never to a metadata address.
        if let refusal = policy?.refusal(url, for: .fetch) {
            self.fail(urlNode, field: "\(field).url", refusal)
            return nil
        }
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
    mutating func timeoutProblem(
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
}
