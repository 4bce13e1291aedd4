import Foundation

/// What the alert bodies take from outside the alert: the `location` label, where the runbooks are, and the link
/// back to authprobe. Alertmanager and webhook bodies share its labels and annotations.
public struct AlertPayloadContext: Sendable, Equatable {
    /// The README on GitHub; each alert links to its own section.
    public static let defaultRunbookBaseURL = "https://github.com/authprobe/authprobe/blob/main/README.md"

    /// The `location` label (from the configuration), omitted when nil.
    public var location: String?
    /// The document holding the runbooks; an alert's link is this plus `#` and ``AlertName/runbookAnchor``.
    public var runbookBaseURL: String
    /// Alertmanager's `generatorURL` (e.g. authprobe's status page), omitted when nil.
    public var generatorURL: String?

    public init(
        location: String? = nil,
        runbookBaseURL: String = AlertPayloadContext.defaultRunbookBaseURL,
        generatorURL: String? = nil
    ) {
        self.location = location
        self.runbookBaseURL = runbookBaseURL
        self.generatorURL = generatorURL
    }

    /// `alertname`, `environment`, `client` (per-client alerts only), `severity`, `scope`, `outcome` (when
    /// known) and `location` (when configured).
    public func labels(_ alert: ActiveAlert) -> [String: String] {
        var labels = [
            "alertname": alert.key.name.rawValue,
            "environment": alert.key.environment,
            "severity": alert.severity.rawValue,
            "scope": alert.scope.rawValue,
        ]
        if !alert.key.client.isEmpty { labels["client"] = alert.key.client }
        if let outcome = alert.outcome { labels["outcome"] = outcome.label }
        if let location = self.location, !location.isEmpty { labels["location"] = location }
        return labels
    }

    /// `summary`, `description` (naming the outcome and HTTP status when known) and `runbook_url`.
    public func annotations(_ alert: ActiveAlert) -> [String: String] {
        [
            "summary": alert.summary,
            "description": Self.description(alert),
            "runbook_url": self.runbookURL(alert.key.name),
        ]
    }

    /// The alert's README section.
    public func runbookURL(_ name: AlertName) -> String {
        "\(self.runbookBaseURL)#\(name.runbookAnchor)"
    }

    /// The alert's description, with its outcome and HTTP status appended when it does not already name them:
    /// on-call must see what was answered without opening a dashboard.
    public static func description(_ alert: ActiveAlert) -> String {
        var missing: [String] = []
        if let outcome = alert.outcome, !alert.description.contains(outcome.label) {
            missing.append("outcome \(outcome.label)")
        }
        if let status = alert.httpStatus, !alert.description.contains(String(status)) {
            missing.append("HTTP \(status)")
        }
        guard !missing.isEmpty else { return alert.description }
        let separator = alert.description.isEmpty ? "" : " "
        return "\(alert.description)\(separator)(\(missing.joined(separator: ", ")))"
    }

    /// RFC 3339 in UTC with milliseconds (`2026-03-01T12:00:00.250Z`), as Alertmanager writes its own times.
    public static func timestamp(_ date: Date) -> String {
        date.formatted(Self.timestampStyle)
    }

    private static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)

    /// `value` as JSON. Bodies hold only strings and string dictionaries, which always encode; were one not
    /// to, `fallback` (an empty JSON value the receiver refuses, so the delivery is dropped and counted) is
    /// sent rather than the process trapping.
    static func json<Value: Encodable>(_ value: Value, fallback: String) -> [UInt8] {
        (try? Self.encoder().encode(value)).map { Array($0) } ?? Array(fallback.utf8)
    }

    /// Sorted keys and unescaped slashes: the same alert always renders to the same bytes.
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
