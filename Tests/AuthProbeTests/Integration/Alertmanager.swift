import AuthProbe
import AuthProbeTesting
import Foundation
import NIOConcurrencyHelpers

/// A real Alertmanager (Debian's `prometheus-alertmanager`) on loopback, with its own configuration and storage
/// directory and clustering off. It can be stopped and started again on the same port and storage.
final class Alertmanager: Sendable {
    let directory: URL
    let port: Int
    private let process: BackgroundProcessBox

    var url: String { "http://127.0.0.1:\(self.port)" }

    private init(directory: URL, port: Int) {
        self.directory = directory
        self.port = port
        self.process = BackgroundProcessBox()
    }

    /// Starts a new Alertmanager; `running: false` only prepares it (port and files), for a test that starts
    /// it later.
    static func make(running: Bool = true) async throws -> Alertmanager {
        let directory = try Checkout.temporaryDirectory("alertmanager")
        // A receiver that notifies nobody: the tests read alerts back through the API.
        let configuration = """
            route:
              receiver: "null"
              group_wait: 1h
            receivers:
              - name: "null"
            """
        try configuration.write(
            to: directory.appendingPathComponent("alertmanager.yml"),
            atomically: true,
            encoding: .utf8
        )
        let alertmanager = Alertmanager(directory: directory, port: try await LoopbackPort.free())
        if running { try await alertmanager.start() }
        return alertmanager
    }

    func start() async throws {
        let process = try BackgroundProcess(
            URL(fileURLWithPath: "/usr/bin/prometheus-alertmanager"),
            [
                "--config.file=\(self.directory.appendingPathComponent("alertmanager.yml").path)",
                "--storage.path=\(self.directory.appendingPathComponent("data").path)",
                "--web.listen-address=127.0.0.1:\(self.port)",
                "--cluster.listen-address=",
                "--log.level=debug",
            ],
            log: self.directory.appendingPathComponent("alertmanager.log")
        )
        self.process.set(process)
        do {
            try await waitForPort(self.port, limit: .seconds(20))
        } catch {
            throw AlertmanagerFailed(log: process.log)
        }
    }

    func stop() async {
        await self.process.take()?.stop(timeout: .seconds(10))
    }

    /// Stops it and removes its files.
    func remove() async {
        await self.stop()
        try? FileManager.default.removeItem(at: self.directory)
    }

    var log: String {
        (try? String(contentsOf: self.directory.appendingPathComponent("alertmanager.log"), encoding: .utf8)) ?? ""
    }

    /// `GET /api/v2/alerts`: the active alerts (Alertmanager leaves resolved ones out).
    func alerts() async throws -> [[String: Any]] {
        guard let (status, body) = await httpGet("\(self.url)/api/v2/alerts"), status == 200 else { return [] }
        return try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]] ?? []
    }

    /// The active alert whose `alertname` label is `name`.
    func alert(named name: String) async throws -> [String: Any]? {
        try await self.alerts().first { ($0["labels"] as? [String: String])?["alertname"] == name }
    }

    /// `alertmanager_alerts_received_total{status=…}` from its own metrics, summed over its other labels
    /// (`version`). It counts since this Alertmanager process started.
    func received(_ status: String) async -> Double {
        guard let body = await httpGet("\(self.url)/metrics")?.body else { return 0 }
        let name = "alertmanager_alerts_received_total{"
        var total = 0.0
        for line in body.split(separator: "\n") where line.hasPrefix(name) {
            guard let space = line.lastIndex(of: " "), let close = line.lastIndex(of: "}") else { continue }
            let labels = MetricsText.labels(line[line.index(line.startIndex, offsetBy: name.count)..<close])
            if labels["status"] == status { total += Double(line[line.index(after: space)...]) ?? 0 }
        }
        return total
    }

    /// Runs `body` with a new Alertmanager, removed however `body` ends.
    static func with<T>(running: Bool = true, _ body: (Alertmanager) async throws -> T) async throws -> T {
        let alertmanager = try await Alertmanager.make(running: running)
        do {
            let value = try await body(alertmanager)
            await alertmanager.remove()
            return value
        } catch {
            print(alertmanager.log.suffix(3000))
            await alertmanager.remove()
            throw error
        }
    }
}

/// The running process, replaced on each start.
private final class BackgroundProcessBox: Sendable {
    private let box = NIOLockedValueBox<BackgroundProcess?>(nil)

    func set(_ process: BackgroundProcess) { self.box.withLockedValue { $0 = process } }
    func take() -> BackgroundProcess? {
        self.box.withLockedValue { box in
            defer { box = nil }
            return box
        }
    }
}

/// Alertmanager did not start listening.
struct AlertmanagerFailed: Error, CustomStringConvertible {
    var log: String
    var description: String { "alertmanager did not start: \(self.log.suffix(2000))" }
}
