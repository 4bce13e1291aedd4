import AuthProbe
import AuthProbeTesting
import Foundation
import Logging
import Testing

/// Signed webhook deliveries to receivers on loopback: every request verified, a failing receiver holding up
/// only itself, a refused body dropped rather than blocking.
@Suite("Webhook delivery")
struct WebhookDeliveryTests {
    static let alert = ActiveAlert(
        key: AlertKey(.credentialRejected, environment: "production", client: "reporting"),
        severity: .critical,
        outcome: .credentialRejected,
        httpStatus: 403,
        summary: "Credential reporting is rejected by production",
        description: "Token requests failed on 2 consecutive attempts",
        startsAt: Date(timeIntervalSince1970: 1_772_366_400.25)
    )

    static var actions: [AlertAction] {
        var resolved = Self.alert
        resolved.endsAt = Date(timeIntervalSince1970: 1_772_370_000)
        return [.fire(Self.alert), .remind(Self.alert), .resolve(resolved)]
    }

    /// The `action` of each request's body, in the order received.
    static func actions(_ requests: [ReceivedRequest]) -> [String] {
        requests.compactMap { request in
            (try? JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any])?["action"] as? String
        }
    }

    /// Every request is a signed JSON POST under `secret`, and none carries a secret.
    static func verify(_ requests: [ReceivedRequest], secret: String) {
        for request in requests {
            #expect(request.method == "POST")
            #expect(request.header("Content-Type") == "application/json")
            #expect(
                request.header(WebhookPayload.signatureHeader)
                    == WebhookPayload.signature(Array(request.body.utf8), secret: Secret(secret))
            )
            #expect(!request.body.contains("secret-"))
        }
    }

    static func receiver(_ provider: LoopbackProvider, _ name: String, _ secret: String) -> WebhookReceiver {
        WebhookReceiver(name: name, url: provider.issuer + "/hook", secret: Secret(secret), timeout: .seconds(2))
    }

    static func service(
        _ store: ResultStore,
        _ webhooks: [WebhookReceiver],
        logger: Logger
    ) throws -> NotificationService {
        var alerting = AlertingConfig()
        alerting.webhooks = webhooks
        return NotificationService(
            store: store,
            transport: try NIOHTTPTransport(),
            alerting: alerting,
            firing: { [] },
            backoff: OutboxBackoff(initial: .milliseconds(50), maximum: .milliseconds(200)),
            logger: logger
        )
    }

    @Test("every delivery is signed; a failing receiver retries its head only and does not hold up another")
    func signedAndIndependent() async throws {
        let directory = try Checkout.temporaryDirectory("webhook-delivery")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await ResultStore.open(path: directory.appendingPathComponent("authprobe.sqlite").path)
        let good = try await LoopbackProvider.make()
        good.set("/hook", .json(200, "{}"))
        let failing = try await LoopbackProvider.make()
        failing.set("/hook", .empty(503))
        let (logger, lines) = RecordingLogHandler.logger(label: "webhook-test")
        let service = try Self.service(
            store,
            [
                Self.receiver(good, "good", "secret-good-0123"),
                Self.receiver(failing, "failing", "secret-failing-4567"),
            ],
            logger: logger
        )
        try await withRunningServices(
            [good.application(), failing.application(), service],
            waitingFor: [good.port, failing.port]
        ) {
            try await service.enqueue(Self.actions, now: Date())
            #expect(await eventually(within: .seconds(20)) { good.requests.count >= 3 })
            #expect(await eventually(within: .seconds(20)) { failing.requests.count >= 4 })
            #expect(Self.actions(good.requests) == ["fire", "remind", "resolve"])
            Self.verify(good.requests, secret: "secret-good-0123")
            // Only the head is retried: the remind and the resolve wait behind the fire.
            #expect(Set(Self.actions(failing.requests)) == ["fire"])
            Self.verify(failing.requests, secret: "secret-failing-4567")
            let snapshot = service.statistics.snapshot()
            #expect(snapshot.count("good", .success) == 3 && snapshot.count("good", .failure) == 0)
            #expect(snapshot.count("failing", .failure) >= 4 && snapshot.count("failing", .success) == 0)
            #expect(snapshot.outboxDepth == 3)
            #expect(try await store.nextOutbox(receiver: "failing")?.lastError == "HTTP 503")

            // The receiver recovers: its three deliveries arrive, still in order.
            let before = failing.requests.count
            failing.set("/hook", .json(202, "{}"))
            #expect(try await eventually(within: .seconds(20)) { try await store.outboxSummary().depth == 0 })
            #expect(Self.actions(Array(failing.requests.dropFirst(before))) == ["fire", "remind", "resolve"])
            Self.verify(failing.requests, secret: "secret-failing-4567")
        }
        // Logs name receivers, never their URLs, secrets or bodies.
        let log = lines.all.joined(separator: "\n")
        #expect(log.contains("notification.receiver=failing"))
        #expect(!log.contains("/hook") && !log.contains("secret-") && !log.contains("Token requests"))
    }

    @Test("a body the receiver refuses for good (400) is dropped, not retried, and the next one goes out")
    func refusedBodyDropped() async throws {
        let directory = try Checkout.temporaryDirectory("webhook-refused")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try await ResultStore.open(path: directory.appendingPathComponent("authprobe.sqlite").path)
        let refusing = try await LoopbackProvider.make()
        refusing.set("/hook", .json(400, #"{"error":"no"}"#))
        let service = try Self.service(
            store,
            [Self.receiver(refusing, "refusing", "secret-refusing")],
            logger: Logger(label: "webhook-test")
        )
        try await withRunningServices([refusing.application(), service], waitingFor: [refusing.port]) {
            try await service.enqueue(Self.actions, now: Date())
            #expect(try await eventually(within: .seconds(20)) { try await store.outboxSummary().depth == 0 })
            #expect(Self.actions(refusing.requests) == ["fire", "remind", "resolve"])
            let history = try await store.notifications()
            #expect(history.count == 3 && history.allSatisfy { $0.outcome == .dropped && $0.httpStatus == 400 })
            #expect(history.allSatisfy { $0.detail.contains("not retried") && !$0.detail.contains("error") })
            #expect(service.statistics.snapshot().count("refusing", .dropped) == 3)
        }
    }
}
