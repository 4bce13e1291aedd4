import Foundation

/// The `alerting` section: thresholds of the built-in alerts and where they are delivered.
///
/// Alerts are evaluated whether or not a receiver is configured: `authprobe alerts` and
/// `authprobe_alerts_firing` show them either way.
public struct AlertingConfig: Sendable {
    public var thresholds = AlertThresholds()
    /// Alertmanagers, each sent every alert (API v2).
    public var alertmanagers: [AlertmanagerReceiver] = []
    /// Generic JSON webhooks, signed.
    public var webhooks: [WebhookReceiver] = []
    /// How often firing alerts are re-sent to Alertmanager (which resolves an alert not re-sent in time).
    public var resendInterval: Duration = .seconds(60)
    /// How often a webhook is reminded of an alert still firing.
    public var repeatInterval: Duration = .seconds(4 * 3600)

    public init() {}
}

/// One Alertmanager: alerts are posted to `<url>/api/v2/alerts`.
public struct AlertmanagerReceiver: Sendable, Equatable {
    /// The `receiver` label of the notification metrics.
    public var name: String
    /// Base URL, e.g. `http://127.0.0.1:9093`.
    public var url: String
    public var timeout: Duration = .seconds(10)

    public init(name: String, url: String, timeout: Duration = .seconds(10)) {
        self.name = name
        self.url = url
        self.timeout = timeout
    }
}

/// One generic JSON webhook: each body is signed with HMAC-SHA256 under `secret` (from `secret_file` or
/// `${ENV}`, never a literal), sent in the `X-Authprobe-Signature: sha256=<hex>` header.
public struct WebhookReceiver: Sendable {
    /// The `receiver` label of the notification metrics.
    public var name: String
    public var url: String
    public var secret: Secret
    public var timeout: Duration = .seconds(10)

    public init(name: String, url: String, secret: Secret, timeout: Duration = .seconds(10)) {
        self.name = name
        self.url = url
        self.secret = secret
        self.timeout = timeout
    }
}
