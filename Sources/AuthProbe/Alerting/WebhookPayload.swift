import Crypto
import Foundation

/// Bodies for generic JSON webhooks, and their signature.
///
/// ```json
/// {"action":"fire","alert":{"annotations":{…},"labels":{…},"startsAt":"…"},"status":"firing",
///  "text":"[FIRING] summary — description","version":"1"}
/// ```
/// `status` is `firing` for `fire` and `remind`, `resolved` for `resolve` (which alone has `alert.endsAt`);
/// `text` is one line a chat tool (Slack's incoming webhooks) shows as it is. Each request carries
/// `X-Authprobe-Signature: sha256=<hex>`, the HMAC-SHA256 of the exact body bytes under the receiver's secret.
public enum WebhookPayload {
    /// The signature header's name.
    public static let signatureHeader = "X-Authprobe-Signature"

    struct Body: Encodable {
        var version = "1"
        var status: String
        var action: String
        var alert: Alert
        var text: String
    }

    struct Alert: Encodable {
        var labels: [String: String]
        var annotations: [String: String]
        var startsAt: String
        var endsAt: String?
    }

    /// The body of an outbox delivery for `action`.
    public static func body(for action: AlertAction, context: AlertPayloadContext, now: Date) -> [UInt8] {
        let alert = action.alert
        let resolved = action.kind == .resolve
        let endsAt = resolved ? max(alert.endsAt ?? now, alert.startsAt) : nil
        let body = Body(
            status: resolved ? "resolved" : "firing",
            action: action.kind.rawValue,
            alert: Alert(
                labels: context.labels(alert),
                annotations: context.annotations(alert),
                startsAt: AlertPayloadContext.timestamp(alert.startsAt),
                endsAt: endsAt.map(AlertPayloadContext.timestamp)
            ),
            text: self.text(alert, resolved: resolved)
        )
        return AlertPayloadContext.json(body, fallback: "{}")
    }

    /// `[FIRING] summary — description` on one line (line breaks become spaces).
    public static func text(_ alert: ActiveAlert, resolved: Bool) -> String {
        let line = "[\(resolved ? "RESOLVED" : "FIRING")] \(alert.summary) — \(AlertPayloadContext.description(alert))"
        return line.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// `sha256=` and the lowercase hex HMAC-SHA256 of `body` under `secret`.
    public static func signature(_ body: [UInt8], secret: Secret) -> String {
        let key = secret.withRawValue { SymmetricKey(data: Array($0.utf8)) }
        let code = HMAC<SHA256>.authenticationCode(for: body, using: key)
        return "sha256=" + code.map { String(format: "%02x", $0) }.joined()
    }
}
