import Foundation
import Yams

/// The `alerting` section: thresholds of the built-in alerts, Alertmanagers and signed webhooks.
extension ConfigParser {
    static let alertingKeys = ["rules", "alertmanager", "webhooks", "resend_interval", "repeat_interval"]
    static let alertRuleKeys = [
        "confirm_runs", "provider_failures", "api_failures", "resolve_after", "token_objective", "burn_rate",
        "short_window", "long_window", "latency_bound", "latency_window", "expiry_warning", "expiry_critical",
        "lifetime_tolerance", "lifetime_settle",
    ]
    static let alertmanagerKeys = ["name", "url", "timeout"]
    static let webhookKeys = ["name", "url", "secret", "secret_file", "timeout"]

    mutating func parseAlerting(_ node: Node) -> AlertingConfig {
        var alerting = AlertingConfig()
        guard let fields = self.mapping(node, field: "alerting", keys: Self.alertingKeys) else { return alerting }
        if let rules = fields["rules"] { alerting.thresholds = self.parseAlertRules(rules) }
        if let value = fields["resend_interval"].flatMap({ self.duration($0, field: "alerting.resend_interval") }) {
            alerting.resendInterval = value
        }
        if let value = fields["repeat_interval"].flatMap({ self.duration($0, field: "alerting.repeat_interval") }) {
            alerting.repeatInterval = value
        }
        var names: [String: Int] = [:]
        if let list = fields["alertmanager"].flatMap({ self.sequence($0, field: "alerting.alertmanager") }) {
            for (index, item) in list.enumerated() {
                let field = "alerting.alertmanager[\(index)]"
                guard let receiver = self.parseAlertmanager(item, field: field, index: index),
                    self.uniqueReceiver(receiver.name, node: item, field: field, names: &names)
                else { continue }
                alerting.alertmanagers.append(receiver)
            }
        }
        if let list = fields["webhooks"].flatMap({ self.sequence($0, field: "alerting.webhooks") }) {
            for (index, item) in list.enumerated() {
                let field = "alerting.webhooks[\(index)]"
                guard let receiver = self.parseWebhook(item, field: field, index: index),
                    self.uniqueReceiver(receiver.name, node: item, field: field, names: &names)
                else { continue }
                alerting.webhooks.append(receiver)
            }
        }
        return alerting
    }

    private mutating func parseAlertRules(_ node: Node) -> AlertThresholds {
        var rules = AlertThresholds()
        guard let fields = self.mapping(node, field: "alerting.rules", keys: Self.alertRuleKeys) else { return rules }
        func count(_ key: String, _ target: inout Int, maximum: Int = 1_000) {
            guard let node = fields[key], let value = self.integer(node, field: "alerting.rules.\(key)") else { return }
            if value < 1 || value > maximum {
                self.fail(node, field: "alerting.rules.\(key)", "must be between 1 and \(maximum)")
            } else {
                target = value
            }
        }
        func duration(_ key: String, _ target: inout Duration) {
            if let value = fields[key].flatMap({ self.duration($0, field: "alerting.rules.\(key)") }) { target = value }
        }
        func fraction(_ key: String, _ target: inout Double, below upper: Double, inclusive: Bool = false) {
            guard let node = fields[key] else { return }
            guard case .scalar(let scalar) = node, let value = Double(scalar.string), value.isFinite else {
                self.fail(node, field: "alerting.rules.\(key)", "expected a number" + Self.found(node))
                return
            }
            if value <= 0 || value > upper || (!inclusive && value == upper) {
                self.fail(
                    node,
                    field: "alerting.rules.\(key)",
                    "must be above 0 and \(inclusive ? "at most" : "below") \(Self.number(upper))"
                )
            } else {
                target = value
            }
        }
        count("confirm_runs", &rules.confirmRuns)
        count("provider_failures", &rules.providerFailures)
        count("api_failures", &rules.apiFailures)
        count("resolve_after", &rules.resolveAfter)
        fraction("token_objective", &rules.tokenObjective, below: 1)
        fraction("burn_rate", &rules.burnRate, below: 1_000, inclusive: true)
        duration("short_window", &rules.shortWindow)
        duration("long_window", &rules.longWindow)
        duration("latency_bound", &rules.latencyBound)
        duration("latency_window", &rules.latencyWindow)
        duration("expiry_warning", &rules.expiryWarning)
        duration("expiry_critical", &rules.expiryCritical)
        fraction("lifetime_tolerance", &rules.lifetimeTolerance, below: 1)
        duration("lifetime_settle", &rules.lifetimeSettle)
        if rules.shortWindow >= rules.longWindow {
            self.fail(
                fields["short_window"] ?? fields["long_window"] ?? node,
                field: "alerting.rules.short_window",
                "must be shorter than long_window (\(Durations.format(rules.longWindow)))"
            )
        }
        if rules.longWindow > .seconds(86_400) || rules.latencyWindow > .seconds(86_400) {
            self.fail(
                fields["long_window"] ?? fields["latency_window"] ?? node,
                field: "alerting.rules",
                "long_window and latency_window are at most 1d (the evaluator keeps per-minute counts)"
            )
        }
        if rules.expiryCritical >= rules.expiryWarning {
            self.fail(
                fields["expiry_critical"] ?? fields["expiry_warning"] ?? node,
                field: "alerting.rules.expiry_critical",
                "must be shorter than expiry_warning (\(Durations.format(rules.expiryWarning)))"
            )
        }
        return rules
    }

    private mutating func parseAlertmanager(_ node: Node, field: String, index: Int) -> AlertmanagerReceiver? {
        guard let fields = self.mapping(node, field: field, keys: Self.alertmanagerKeys) else { return nil }
        let name = self.receiverName(
            fields,
            field: field,
            fallback: index == 0 ? "alertmanager" : "alertmanager-\(index + 1)"
        )
        guard let urlNode = fields["url"] else {
            self.fail(node, field: "\(field).url", "required: the Alertmanager's base URL, e.g. http://127.0.0.1:9093")
            return nil
        }
        guard let url = self.receiverURL(urlNode, field: "\(field).url", allowsQuery: false), let name else {
            return nil
        }
        var receiver = AlertmanagerReceiver(name: name, url: url)
        if let timeout = fields["timeout"].flatMap({ self.duration($0, field: "\(field).timeout") }) {
            receiver.timeout = timeout
        }
        return receiver
    }

    private mutating func parseWebhook(_ node: Node, field: String, index: Int) -> WebhookReceiver? {
        guard let fields = self.mapping(node, field: field, keys: Self.webhookKeys) else { return nil }
        let name = self.receiverName(fields, field: field, fallback: index == 0 ? "webhook" : "webhook-\(index + 1)")
        guard let urlNode = fields["url"] else {
            self.fail(node, field: "\(field).url", "required: where the signed alerts are posted")
            return nil
        }
        let url = self.receiverURL(urlNode, field: "\(field).url", allowsQuery: true)
        let secret: Secret?
        switch (fields["secret"], fields["secret_file"]) {
        case (nil, nil):
            self.fail(
                node,
                field: "\(field).secret_file",
                "required: the HMAC key (secret_file, or secret: ${ENV_VAR})"
            )
            secret = nil
        case (.some(let secretNode), .some):
            self.fail(secretNode, field: "\(field).secret", "set either secret or secret_file, not both")
            secret = nil
        case (.some(let secretNode), nil):
            secret = self.secretFromVariable(secretNode, field: "\(field).secret")
        case (nil, .some(let fileNode)):
            secret =
                self.secretFromFile(fileNode, field: "\(field).secret_file", limit: ConfigFileReader.Limit.secret)?
                .secret
        }
        guard let url, let secret, let name else { return nil }
        var receiver = WebhookReceiver(name: name, url: url, secret: secret)
        if let timeout = fields["timeout"].flatMap({ self.duration($0, field: "\(field).timeout") }) {
            receiver.timeout = timeout
        }
        return receiver
    }

    /// The `receiver` label value: `name`, or the default for its position.
    private mutating func receiverName(_ fields: [String: Node], field: String, fallback: String) -> String? {
        guard let node = fields["name"] else { return fallback }
        guard let text = self.string(node, field: "\(field).name") else { return nil }
        return self.labelValue(text, node: node, field: "\(field).name")
    }

    private mutating func uniqueReceiver(_ name: String, node: Node, field: String, names: inout [String: Int]) -> Bool
    {
        if let line = names[name] {
            self.fail(node, field: "\(field).name", "duplicate receiver name \"\(name)\" (first at line \(line))")
            return false
        }
        names[name] = node.mark?.line ?? 0
        return true
    }

    /// An absolute http(s) URL without user info (``checkURL(_:node:field:insecureHTTP:proxy:)``); the URL itself
    /// is never logged, since a webhook's path may be its key.
    private mutating func receiverURL(_ node: Node, field: String, allowsQuery: Bool) -> String? {
        guard let raw = self.string(node, field: field),
            let text = self.expandVariables(raw, node: node, field: field, keepUnset: !self.readSecrets)
        else { return nil }
        // Checked without secrets, an unset variable stays a reference: the rest of the URL cannot be checked.
        if !self.readSecrets, text.contains("${") { return text }
        // Alert bodies hold no secret: plain http is accepted anywhere (as Prometheus sends to Alertmanager).
        guard self.checkURL(text, node: node, field: field, insecureHTTP: true, proxy: nil) != nil,
            let components = URLComponents(string: text)
        else { return nil }
        if !allowsQuery, components.query != nil || components.fragment != nil {
            self.fail(node, field: field, "expected a base URL without query or fragment")
            return nil
        }
        return text.hasSuffix("/") && !allowsQuery ? String(text.dropLast()) : text
    }

    private static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
