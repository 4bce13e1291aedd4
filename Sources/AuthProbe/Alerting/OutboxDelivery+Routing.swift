import Foundation

extension OutboxDelivery {
    /// The deliveries `actions` make, in order: every receiver gets `fire` and `resolve`; only webhooks get
    /// `remind` (Alertmanager is sent every firing alert every resend interval anyway, and repeats
    /// notifications itself).
    public static func deliveries(
        for actions: [AlertAction],
        alerting: AlertingConfig,
        context: AlertPayloadContext,
        now: Date
    ) -> [OutboxDelivery] {
        var deliveries: [OutboxDelivery] = []
        for action in actions {
            let key = action.alert.key
            if action.kind != .remind, !alerting.alertmanagers.isEmpty {
                let body = AlertmanagerPayload.body(for: action, context: context, now: now)
                for receiver in alerting.alertmanagers {
                    deliveries.append(
                        OutboxDelivery(receiver: receiver.name, action: action.kind, alertKey: key, body: body)
                    )
                }
            }
            if !alerting.webhooks.isEmpty {
                let body = WebhookPayload.body(for: action, context: context, now: now)
                for receiver in alerting.webhooks {
                    deliveries.append(
                        OutboxDelivery(receiver: receiver.name, action: action.kind, alertKey: key, body: body)
                    )
                }
            }
        }
        return deliveries
    }
}
