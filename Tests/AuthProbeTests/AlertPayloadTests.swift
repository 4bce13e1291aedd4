import AuthProbe
import Foundation
import Testing

/// The exact bytes sent to Alertmanager and to webhooks, and the webhook signature.
@Suite("Alert payloads")
struct AlertPayloadTests {
    static let startsAt = Date(timeIntervalSince1970: 1_772_366_400.25)  // 2026-03-01T12:00:00.250Z
    static let now = Date(timeIntervalSince1970: 1_772_370_000)  // 2026-03-01T13:00:00Z

    static let rejected = ActiveAlert(
        key: AlertKey(.credentialRejected, environment: "production", client: "reporting"),
        severity: .critical,
        outcome: .credentialRejected,
        httpStatus: 403,
        summary: "Credential reporting is rejected by production",
        description: "Token requests failed on 2 consecutive attempts",
        startsAt: startsAt
    )

    static let providerDown = ActiveAlert(
        key: AlertKey(.providerUnavailable, environment: "cat", client: "ignored"),
        severity: .warning,
        summary: "Provider cat unavailable",
        description: "3 consecutive runs failed",
        startsAt: startsAt
    )

    static let context = AlertPayloadContext(location: "eu-west-1")

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test("a fired alert: labels, annotations naming outcome and status, runbook link, startsAt, no endsAt")
    func alertmanagerFire() {
        let body = AlertmanagerPayload.body(for: .fire(Self.rejected), context: Self.context, now: Self.now)
        #expect(
            Self.text(body)
                == #"[{"annotations":{"description":"Token requests failed on 2 consecutive attempts (outcome credential_rejected, HTTP 403)","runbook_url":"https://github.com/authprobe/authprobe/blob/main/README.md#alert-credentialrejected","summary":"Credential reporting is rejected by production"},"labels":{"alertname":"CredentialRejected","client":"reporting","environment":"production","location":"eu-west-1","outcome":"credential_rejected","scope":"credential","severity":"critical"},"startsAt":"2026-03-01T12:00:00.250Z"}]"#
        )
    }

    @Test("a resolve has an explicit endsAt: the alert's own, or now when it has none")
    func alertmanagerResolve() throws {
        var resolved = Self.rejected
        resolved.endsAt = Self.now.addingTimeInterval(-60)
        let body = Self.text(AlertmanagerPayload.body(for: .resolve(resolved), context: Self.context, now: Self.now))
        #expect(body.contains(#""endsAt":"2026-03-01T12:59:00.000Z""#))
        #expect(body.contains(#""startsAt":"2026-03-01T12:00:00.250Z""#))
        let unstamped = Self.text(
            AlertmanagerPayload.body(for: .resolve(Self.rejected), context: Self.context, now: Self.now)
        )
        #expect(unstamped.contains(#""endsAt":"2026-03-01T13:00:00.000Z""#))
    }

    @Test("a re-send lasts 4 resend intervals, as Prometheus's does")
    func alertmanagerResend() throws {
        let body = AlertmanagerPayload.resendBody(
            [Self.rejected, Self.providerDown],
            resendInterval: .seconds(60),
            context: AlertPayloadContext(),
            now: Self.now
        )
        let alerts = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [[String: Any]])
        #expect(alerts.count == 2)
        #expect(alerts.allSatisfy { $0["endsAt"] as? String == "2026-03-01T13:04:00.000Z" })
    }

    @Test("a per-environment alert without outcome or location: no client, outcome or location label")
    func sparseLabels() throws {
        let body = AlertmanagerPayload.body(
            for: .fire(Self.providerDown),
            context: AlertPayloadContext(runbookBaseURL: "https://wiki.example/authprobe", generatorURL: "http://x/"),
            now: Self.now
        )
        let alerts = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [[String: Any]])
        let alert = try #require(alerts.first)
        #expect(
            alert["labels"] as? [String: String]
                == [
                    "alertname": "ProviderUnavailable", "environment": "cat", "severity": "warning",
                    "scope": "provider",
                ]
        )
        let annotations = try #require(alert["annotations"] as? [String: String])
        #expect(annotations["description"] == "3 consecutive runs failed")
        #expect(annotations["runbook_url"] == "https://wiki.example/authprobe#alert-providerunavailable")
        #expect(alert["generatorURL"] as? String == "http://x/")
        #expect(alert["endsAt"] == nil)
    }

    @Test("a description that names the outcome and status already is left as written")
    func descriptionNotRepeated() {
        var alert = Self.rejected
        alert.description = "credential_rejected (HTTP 403) on 2 consecutive attempts"
        #expect(AlertPayloadContext.description(alert) == alert.description)
        alert.description = "rejected twice"
        alert.httpStatus = nil
        #expect(AlertPayloadContext.description(alert) == "rejected twice (outcome credential_rejected)")
    }

    @Test("a webhook body: version, status, action, the alert, one line of text")
    func webhookFire() {
        let body = WebhookPayload.body(for: .fire(Self.rejected), context: Self.context, now: Self.now)
        #expect(
            Self.text(body)
                == #"{"action":"fire","alert":{"annotations":{"description":"Token requests failed on 2 consecutive attempts (outcome credential_rejected, HTTP 403)","runbook_url":"https://github.com/authprobe/authprobe/blob/main/README.md#alert-credentialrejected","summary":"Credential reporting is rejected by production"},"labels":{"alertname":"CredentialRejected","client":"reporting","environment":"production","location":"eu-west-1","outcome":"credential_rejected","scope":"credential","severity":"critical"},"startsAt":"2026-03-01T12:00:00.250Z"},"status":"firing","text":"[FIRING] Credential reporting is rejected by production — Token requests failed on 2 consecutive attempts (outcome credential_rejected, HTTP 403)","version":"1"}"#
        )
    }

    @Test("webhook remind is firing, resolve is resolved with endsAt; text stays on one line")
    func webhookRemindResolve() throws {
        var alert = Self.providerDown
        alert.summary = "Provider cat\nunavailable"
        let remind = try #require(
            try JSONSerialization.jsonObject(
                with: Data(WebhookPayload.body(for: .remind(alert), context: Self.context, now: Self.now))
            ) as? [String: Any]
        )
        #expect(remind["status"] as? String == "firing")
        #expect(remind["action"] as? String == "remind")
        #expect(remind["text"] as? String == "[FIRING] Provider cat unavailable — 3 consecutive runs failed")
        #expect((remind["alert"] as? [String: Any])?["endsAt"] == nil)
        alert.endsAt = Self.now
        let resolve = try #require(
            try JSONSerialization.jsonObject(
                with: Data(WebhookPayload.body(for: .resolve(alert), context: Self.context, now: Self.now))
            ) as? [String: Any]
        )
        #expect(resolve["status"] as? String == "resolved")
        #expect(resolve["action"] as? String == "resolve")
        #expect((resolve["text"] as? String)?.hasPrefix("[RESOLVED] ") == true)
        #expect((resolve["alert"] as? [String: Any])?["endsAt"] as? String == "2026-03-01T13:00:00.000Z")
    }

    @Test("the signature is HMAC-SHA256 in lowercase hex (RFC 4231 test case 2)")
    func signature() {
        let body = Array("what do ya want for nothing?".utf8)
        #expect(
            WebhookPayload.signature(body, secret: Secret("Jefe"))
                == "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        )
        #expect(
            WebhookPayload.signature(body, secret: Secret("jefe"))
                != WebhookPayload.signature(body, secret: Secret("Jefe"))
        )
    }

    @Test("routing: fire and resolve reach every receiver, remind only webhooks; no body holds a secret")
    func routingWithoutSecrets() {
        var alerting = AlertingConfig()
        alerting.alertmanagers = [AlertmanagerReceiver(name: "am", url: "http://127.0.0.1:9093")]
        alerting.webhooks = [
            WebhookReceiver(name: "hook", url: "http://127.0.0.1:1/hook", secret: Secret("s3cr3t-hook-key-0123456789"))
        ]
        var resolved = Self.rejected
        resolved.endsAt = Self.now
        let deliveries = OutboxDelivery.deliveries(
            for: [.fire(Self.rejected), .remind(Self.rejected), .resolve(resolved)],
            alerting: alerting,
            context: Self.context,
            now: Self.now
        )
        #expect(
            deliveries.map { "\($0.receiver):\($0.action.rawValue)" } == [
                "am:fire", "hook:fire", "hook:remind", "am:resolve", "hook:resolve",
            ]
        )
        for delivery in deliveries {
            let text = Self.text(delivery.body)
            #expect(!text.contains("s3cr3t"))
            #expect(!text.contains("<secret>"))
            #expect(!text.contains("127.0.0.1"))
        }
    }

    @Test("times are RFC 3339 UTC with milliseconds")
    func timestamps() {
        #expect(AlertPayloadContext.timestamp(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(AlertPayloadContext.timestamp(Self.startsAt) == "2026-03-01T12:00:00.250Z")
    }

    @Test("backoff doubles from the initial wait up to the maximum, jitter only shortens it")
    func backoff() {
        let backoff = OutboxBackoff()
        #expect(backoff.delay(afterFailures: 1, random: 0) == .seconds(1))
        #expect(backoff.delay(afterFailures: 4, random: 0) == .seconds(8))
        #expect(backoff.delay(afterFailures: 10, random: 0) == .seconds(300))
        #expect(backoff.delay(afterFailures: 1_000, random: 0) == .seconds(300))
        #expect(backoff.delay(afterFailures: 1, random: 1) == .milliseconds(800))
    }
}
