import AuthProbe
import Foundation
import NIOConcurrencyHelpers

/// Paths of the checkout and of the built binary, for tests that run real programs.
enum Checkout {
    /// The repository root (three levels above this file).
    static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `authprobe` executable built next to the test bundle (`swift build --build-tests` builds both).
    static var authprobeBinary: URL {
        if let path = ProcessInfo.processInfo.environment["AUTHPROBE_BINARY"] {
            return URL(fileURLWithPath: path)
        }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = bundle.deletingLastPathComponent()
        // The test runner may be inside an .xctest directory.
        while directory.pathExtension == "xctest" || directory.lastPathComponent == "Contents" {
            directory.deleteLastPathComponent()
        }
        return directory.appendingPathComponent("authprobe")
    }

    static func script(_ path: String) -> URL {
        self.root.appendingPathComponent(path)
    }

    /// A fresh temporary directory.
    static func temporaryDirectory(_ prefix: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// What a finished command printed.
struct CommandOutput {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// A failed helper command, with its output for the test log.
struct CommandFailed: Error, CustomStringConvertible {
    var command: String
    var output: CommandOutput
    var description: String { "\(self.command) exited \(self.output.status): \(self.output.stderr.suffix(2000))" }
}

/// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which the Glibc module does not import.
@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
private func addCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32

/// A child process started with posix_spawn and reaped with waitpid.
///
/// Foundation's `Process` is not used: on Linux it can leave a child as a zombie that it never reports
/// as exited, and its `waitUntilExit()` spins when called from a concurrency thread.
final class ChildProcess: Sendable {
    let pid: pid_t
    private let exit = NIOLockedValueBox<Int32?>(nil)

    /// Starts `executable`; stdin is /dev/null, stdout goes to `stdout`, stderr to `stderr` (or stdout).
    init(_ executable: URL, _ arguments: [String], environment: [String: String], stdout: URL, stderr: URL?) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        if let stderr {
            posix_spawn_file_actions_addopen(&actions, 2, stderr.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        // Children must not inherit the test process's sockets: a daemon (glewlwyd) holding a fake
        // provider's listening socket would keep its port bound, unanswered, after the test ends.
        _ = addCloseFrom(&actions, 3)
        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let argv = ([executable.path] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv + envp { free(pointer) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable.path, &actions, nil, argv, envp)
        guard status == 0 else {
            throw SpawnFailed(path: executable.path, code: status)
        }
        self.pid = pid
    }

    /// The exit status once the child has exited (128+signal when killed), reaping it.
    var exitStatus: Int32? {
        self.exit.withLockedValue { exit in
            if let exit { return exit }
            var status: Int32 = 0
            guard waitpid(self.pid, &status, WNOHANG) == self.pid else { return nil }
            let signal = status & 0x7f
            exit = signal == 0 ? (status >> 8) & 0xff : 128 + signal
            return exit
        }
    }

    /// Waits for the exit (polling); after `timeout` the child is killed.
    func wait(timeout: Duration) async -> Int32 {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while true {
            if let status = self.exitStatus { return status }
            if ContinuousClock.now > deadline { kill(self.pid, SIGKILL) }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// posix_spawn refused to start a program.
struct SpawnFailed: Error, CustomStringConvertible {
    var path: String
    var code: Int32
    var description: String { "cannot start \(self.path): \(String(cString: strerror(self.code)))" }
}

/// Runs a program to completion (bounded by `timeout`) and returns what it printed.
func runCommand(
    _ executable: URL,
    _ arguments: [String] = [],
    environment: [String: String] = [:],
    timeout: Duration = .seconds(300)
) async throws -> CommandOutput {
    let directory = try Checkout.temporaryDirectory("cmd")
    defer { try? FileManager.default.removeItem(at: directory) }
    let outURL = directory.appendingPathComponent("out")
    let errURL = directory.appendingPathComponent("err")
    let child = try ChildProcess(executable, arguments, environment: environment, stdout: outURL, stderr: errURL)
    let status = await child.wait(timeout: timeout)
    return CommandOutput(
        status: status,
        stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
    )
}

/// A long-running program (authprobe, prometheus) whose stdout and stderr go to a log file.
final class BackgroundProcess: Sendable {
    let child: ChildProcess
    let logURL: URL

    init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], log: URL) throws {
        self.logURL = log
        self.child = try ChildProcess(executable, arguments, environment: environment, stdout: log, stderr: nil)
    }

    var log: String { (try? String(contentsOf: self.logURL, encoding: .utf8)) ?? "" }

    /// SIGTERM, then waits (bounded; SIGKILL after `timeout`) for the exit; returns the exit status.
    @discardableResult
    func stop(timeout: Duration = .seconds(20)) async -> Int32 {
        if self.child.exitStatus == nil { kill(self.child.pid, SIGTERM) }
        return await self.child.wait(timeout: timeout)
    }

    deinit {
        if self.child.exitStatus == nil {
            kill(self.child.pid, SIGKILL)
        }
    }
}

/// GET over loopback with authprobe's own transport; the body as text, or nil when nothing answered.
func httpGet(_ url: String) async -> (status: Int, body: String)? {
    guard let transport = try? NIOHTTPTransport() else { return nil }
    let exchange = await transport.send(TransportRequest(method: "GET", url: url), timeout: .seconds(5))
    guard case .success(let response) = exchange.result else { return nil }
    return (response.status, String(decoding: response.body, as: UTF8.self))
}

/// Polls `condition` every 200 ms until it holds or `limit` passes; returns whether it held.
func eventually(within limit: Duration = .seconds(30), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now.advanced(by: limit)
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(200))
    }
    return try await condition()
}
