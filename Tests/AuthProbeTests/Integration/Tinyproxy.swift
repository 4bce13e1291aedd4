import AuthProbe
import AuthProbeTesting
import Foundation

/// A real HTTP proxy (Debian's tinyproxy) on loopback, as a corporate network puts one in front of the
/// internet. Its log names every request it handled, so a test can tell traffic went through it.
struct Tinyproxy {
    let process: BackgroundProcess
    let directory: URL
    let port: Int

    var address: ProxyAddress { ProxyAddress(host: "127.0.0.1", port: self.port) }

    /// What tinyproxy logged: one `CONNECT` or `Request` line per request it handled, among others.
    var log: String {
        (try? String(contentsOf: self.directory.appendingPathComponent("tinyproxy.log"), encoding: .utf8)) ?? ""
    }

    /// Starts tinyproxy in the foreground. `connectPorts` limits the ports `CONNECT` may reach (all when empty).
    static func start(connectPorts: [Int] = []) async throws -> Tinyproxy {
        let directory = try Checkout.temporaryDirectory("tinyproxy")
        let port = try await LoopbackPort.free()
        var lines = [
            "Port \(port)",
            "Listen 127.0.0.1",
            "Timeout 30",
            "LogFile \"\(directory.path)/tinyproxy.log\"",
            "LogLevel Info",
            "MaxClients 20",
            "Allow 127.0.0.1",
            "PidFile \"\(directory.path)/tinyproxy.pid\"",
        ]
        lines += connectPorts.map { "ConnectPort \($0)" }
        let configuration = directory.appendingPathComponent("tinyproxy.conf")
        try (lines.joined(separator: "\n") + "\n").write(to: configuration, atomically: true, encoding: .utf8)
        let process = try BackgroundProcess(
            URL(fileURLWithPath: "/usr/bin/tinyproxy"),
            ["-d", "-c", configuration.path],
            log: directory.appendingPathComponent("stdout.log")
        )
        try await waitForPort(port)
        return Tinyproxy(process: process, directory: directory, port: port)
    }

    /// Starts a proxy, runs `body` with it, and stops it however `body` ends.
    static func with<T>(connectPorts: [Int] = [], _ body: (Tinyproxy) async throws -> T) async throws -> T {
        let proxy = try await Tinyproxy.start(connectPorts: connectPorts)
        do {
            let value = try await body(proxy)
            await proxy.stop()
            return value
        } catch {
            await proxy.stop()
            throw error
        }
    }

    func stop() async {
        await self.process.stop(timeout: .seconds(5))
        try? FileManager.default.removeItem(at: self.directory)
    }
}
