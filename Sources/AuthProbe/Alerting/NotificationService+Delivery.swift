import Foundation
import Logging

extension NotificationService {
    /// Statuses that say the body itself is refused: sending it again cannot succeed, so the row is dropped
    /// rather than left to block its receiver. Everything else (5xx, 408, 429, 401/403, 404, no answer) is retried.
    static let permanentRefusals: Set<Int> = [400, 413, 415, 422]

    /// The most alerts in one re-send request; more are sent in several.
    static let resendBatch = 500

    /// What one POST came to.
    enum Attempt {
        case accepted(status: Int)
        case refused(status: Int)
        /// `error` is authprobe's words: an HTTP status or a transport outcome with its detail.
        case failed(status: Int?, error: String)
    }

    /// Sends `receiver`'s outbox in order, and (Alertmanager) re-sends firing alerts while it is empty.
    func deliveryLoop(_ receiver: Receiver) async {
        var failing = false
        var storeFailures = 0
        var resendDue = self.now()
        var resendFailures = 0
        while !self.isStopping {
            let head: OutboxRow?
            do {
                head = try await self.store.nextOutbox(receiver: receiver.name)
                storeFailures = 0
            } catch {
                storeFailures += 1
                if storeFailures == 1 {
                    self.logger.error(
                        "reading the alert outbox failed; retrying",
                        metadata: ["notification.receiver": "\(receiver.name)", "notification.error": "\(error)"]
                    )
                }
                await self.pause(receiver, upTo: self.backoff.delay(afterFailures: storeFailures))
                continue
            }
            if let head {
                let wait = head.nextAttemptAt.timeIntervalSince(self.now())
                if wait > 0 {
                    await self.pause(receiver, upTo: .milliseconds(Int64((wait * 1000).rounded(.up))))
                    continue
                }
                failing = await self.deliver(head, to: receiver, failing: failing)
                continue
            }
            guard case .alertmanager = receiver.kind else {
                await self.pause(receiver, upTo: nil)
                continue
            }
            if self.now() >= resendDue {
                if let error = await self.resend(to: receiver) {
                    resendFailures += 1
                    let retry = min(self.alerting.resendInterval, self.backoff.delay(afterFailures: resendFailures))
                    resendDue = self.now().addingTimeInterval(Durations.seconds(retry))
                    // Logged when the trouble starts; the failure counter says it lasts.
                    if resendFailures == 1 {
                        self.logger.warning(
                            "re-sending firing alerts failed; retrying",
                            metadata: ["notification.receiver": "\(receiver.name)", "notification.error": "\(error)"]
                        )
                    }
                } else {
                    resendFailures = 0
                    resendDue = self.now().addingTimeInterval(Durations.seconds(self.alerting.resendInterval))
                }
            }
            let wait = max(0, resendDue.timeIntervalSince(self.now()))
            await self.pause(receiver, upTo: .milliseconds(Int64((wait * 1000).rounded(.up))))
        }
    }

    /// Sends one due row and records how it went; returns whether the receiver is failing now.
    private func deliver(_ row: OutboxRow, to receiver: Receiver, failing: Bool) async -> Bool {
        var metadata: Logger.Metadata = [
            "notification.receiver": "\(receiver.name)",
            "notification.action": "\(row.action.rawValue)",
            "notification.alert": "\(row.alertKey?.description ?? "unknown")",
        ]
        let attempt = await self.post(row.body, to: receiver)
        let time = self.now()
        do {
            switch attempt {
            case .accepted(let status):
                try await self.store.delivered(id: row.id, at: time, status: status)
                self.statistics.record(.success, receiver: receiver.name)
                if failing {
                    self.logger.info("alert receiver accepts deliveries again", metadata: metadata)
                } else {
                    self.logger.debug("alert delivered", metadata: metadata)
                }
                await self.refreshOutboxStatistics()
                return false
            case .refused(let status):
                try await self.store.discard(
                    id: row.id,
                    at: time,
                    status: status,
                    reason: "HTTP \(status): the receiver refused the body; not retried"
                )
                self.statistics.record(.dropped, receiver: receiver.name)
                metadata["notification.status"] = "\(status)"
                self.logger.warning("alert receiver refused a delivery for good; dropped", metadata: metadata)
                await self.refreshOutboxStatistics()
                return failing
            case .failed(let status, let error):
                let attempts = row.attempts + 1
                let next = time.addingTimeInterval(Durations.seconds(self.backoff.delay(afterFailures: attempts)))
                try await self.store.failed(id: row.id, nextAttempt: next, error: error, status: status, at: time)
                self.statistics.record(.failure, receiver: receiver.name)
                metadata["notification.error"] = "\(ResultStore.bounded(error))"
                metadata["notification.attempts"] = "\(attempts)"
                if failing {
                    self.logger.debug("alert delivery failed; retrying", metadata: metadata)
                } else {
                    self.logger.warning("alert receiver failing; deliveries wait and are retried", metadata: metadata)
                }
                return true
            }
        } catch {
            // The request went out but its end could not be recorded: the row is sent again (at least once).
            metadata["notification.error"] = "\(error)"
            self.logger.error("recording an alert delivery failed", metadata: metadata)
            await self.pause(receiver, upTo: self.backoff.delay(afterFailures: 1))
            return failing
        }
    }

    /// Posts every firing alert to an Alertmanager; nil when all were accepted, else why not.
    private func resend(to receiver: Receiver) async -> String? {
        let alerts = await self.firing()
        var start = 0
        while start < alerts.count {
            let batch = Array(alerts[start..<min(start + Self.resendBatch, alerts.count)])
            start += batch.count
            let body = AlertmanagerPayload.resendBody(
                batch,
                resendInterval: self.alerting.resendInterval,
                context: self.context,
                now: self.now()
            )
            let attempt = await self.post(body, to: receiver)
            guard case .accepted = attempt else {
                self.statistics.record(.failure, receiver: receiver.name, count: batch.count)
                switch attempt {
                case .refused(let status): return "HTTP \(status)"
                case .failed(_, let error): return error
                case .accepted: return nil
                }
            }
            self.statistics.record(.success, receiver: receiver.name, count: batch.count)
        }
        return nil
    }

    /// One POST of `body` with the receiver's headers and timeout.
    func post(_ body: [UInt8], to receiver: Receiver) async -> Attempt {
        var headers = [(name: "Content-Type", value: "application/json")]
        if case .webhook(let secret) = receiver.kind {
            headers.append((WebhookPayload.signatureHeader, WebhookPayload.signature(body, secret: secret)))
        }
        let request = TransportRequest(method: "POST", url: receiver.url, headers: headers, body: body)
        let exchange = await self.transport.send(request, timeout: receiver.timeout)
        switch exchange.result {
        case .success(let response) where (200..<300).contains(response.status):
            return .accepted(status: response.status)
        case .success(let response) where Self.permanentRefusals.contains(response.status):
            return .refused(status: response.status)
        case .success(let response):
            // The status only: a receiver's body is not authprobe's words and may echo anything.
            return .failed(status: response.status, error: "HTTP \(response.status)")
        case .failure(let failure):
            return .failed(status: nil, error: "\(failure.outcome.label): \(failure.detail)")
        }
    }
}
