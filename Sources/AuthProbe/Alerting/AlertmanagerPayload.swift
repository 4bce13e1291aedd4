import Foundation

/// Bodies for Alertmanager's API v2 (`POST /api/v2/alerts`): a JSON array of
/// `{labels, annotations, startsAt, endsAt?, generatorURL?}`.
///
/// `endsAt` policy, as Prometheus does it:
/// - an outbox `fire` (or `remind`) body has no `endsAt`: it may be sent long after it was rendered, and a
///   stored `endsAt` could already be past on arrival, which Alertmanager takes as a resolve. Alertmanager applies
///   its `resolve_timeout` (5 min by default) from receipt;
/// - the periodic re-send of every firing alert sets `endsAt` = now + 4 × the resend interval, so an alert stays
///   active between re-sends whatever `resolve_timeout` is, and ends by itself if authprobe stops sending;
/// - a `resolve` body sets `endsAt` explicitly to when the alert resolved.
public enum AlertmanagerPayload {
    /// One alert of the array; `nil` fields are left out.
    struct Alert: Encodable {
        var labels: [String: String]
        var annotations: [String: String]
        var startsAt: String
        var endsAt: String?
        var generatorURL: String?
    }

    /// How many resend intervals a re-sent alert stays active without another re-send (Prometheus uses 4).
    public static let resendValidity = 4

    /// The body of an outbox delivery for `action`: see the type's `endsAt` policy.
    public static func body(for action: AlertAction, context: AlertPayloadContext, now: Date) -> [UInt8] {
        switch action {
        case .fire(let alert), .remind(let alert):
            return self.body([self.alert(alert, endsAt: nil, context: context)])
        case .resolve(let alert):
            return self.body([self.alert(alert, endsAt: alert.endsAt ?? now, context: context)])
        }
    }

    /// The periodic re-send of every firing alert, each active until `now` + 4 × `resendInterval`.
    public static func resendBody(
        _ alerts: [ActiveAlert],
        resendInterval: Duration,
        context: AlertPayloadContext,
        now: Date
    ) -> [UInt8] {
        let endsAt = now.addingTimeInterval(Durations.seconds(resendInterval) * Double(self.resendValidity))
        return self.body(alerts.map { self.alert($0, endsAt: endsAt, context: context) })
    }

    static func alert(_ alert: ActiveAlert, endsAt: Date?, context: AlertPayloadContext) -> Alert {
        Alert(
            labels: context.labels(alert),
            annotations: context.annotations(alert),
            startsAt: AlertPayloadContext.timestamp(alert.startsAt),
            // Alertmanager refuses an alert that ends before it starts.
            endsAt: endsAt.map { AlertPayloadContext.timestamp(max($0, alert.startsAt)) },
            generatorURL: context.generatorURL
        )
    }

    static func body(_ alerts: [Alert]) -> [UInt8] {
        AlertPayloadContext.json(alerts, fallback: "[]")
    }
}
