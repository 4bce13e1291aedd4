import AuthProbe
import AuthProbeTesting
import Foundation
import Logging
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The metrics endpoint survives its clients: thousands of idle connections take neither the descriptors probes
/// need nor the endpoint itself for long, and a client that never finishes its request head is closed.
@Suite("Metrics endpoint limits", .serialized)
struct EndpointLimitTests {
    /// A monitor of one fake provider, probing every 200 ms, with its endpoint's limits.
    static func monitor(
        _ provider: FakeProvider,
        limits: ServerLimits,
        directory: URL
    ) async throws -> (Monitor, port: Int) {
        let port = try await LoopbackPort.free()
        let config = MonitorConfig(
            listen: ListenAddress(host: "127.0.0.1", port: port),
            database: directory.appendingPathComponent("authprobe.sqlite").path,
            environments: [
                TestTargets.environment(issuer: provider.issuer, timeout: .seconds(2), interval: .milliseconds(200))
            ]
        )
        let monitor = try await Monitor.build(
            config: config,
            logger: Logger(label: "endpoint-test"),
            serverLimits: limits
        )
        return (monitor, port)
    }

    static func value(_ monitor: Monitor, _ name: String, _ labels: [String: String] = [:]) -> Double {
        MetricsText.value(monitor.metrics.exposition, name, labels) ?? 0
    }

    @Test("3,000 idle connections: probes go on succeeding, the endpoint holds at most 256, /metrics answers")
    func idleFlood() async throws {
        let flood = 3_000
        let limit = try #require(FileDescriptorLimit.raiseSoftLimit())
        try #require(limit.soft >= flood + 1_024, "the test needs \(flood + 1_024) descriptors, has \(limit)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flood-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let provider = try await FakeProvider.make()
        let limits = ServerLimits(maxConnections: 256, idleTimeout: .seconds(2))
        let (monitor, port) = try await Self.monitor(provider, limits: limits, directory: directory)
        let target = ["environment": "fake", "client": "svc"]
        let success = ["environment": "fake", "client": "svc", "step": "token", "outcome": "success", "scope": "none"]

        try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await withRunningServices(monitor.services, waitingFor: [port]) {
                #expect(await eventually(within: .seconds(10)) { Self.value(monitor, "authprobe_up", target) == 1 })
                let before = OpenDescriptors.count()
                let connections = await RawConnection.openMany(flood, port: port)
                defer { RawConnection.hangUp(connections) }
                #expect(connections.count == flood, "opened \(connections.count) of \(flood)")

                // While they are held: probes keep succeeding, none of them for want of a descriptor.
                let successes = Self.value(monitor, "authprobe_step_results_total", success)
                let runs = Self.value(monitor, "authprobe_scheduler_runs_total")
                try await Task.sleep(for: .seconds(3))
                #expect(Self.value(monitor, "authprobe_scheduler_runs_total") >= runs + 5)
                #expect(Self.value(monitor, "authprobe_step_results_total", success) >= successes + 5)
                #expect(Self.value(monitor, "authprobe_up", target) == 1)
                let exhausted = monitor.metrics.exposition.split(separator: "\n")
                    .filter { $0.contains("local_resource_exhausted") && !$0.hasPrefix("#") && !$0.hasSuffix(" 0") }
                #expect(exhausted.isEmpty, "\(exhausted)")
                // The process holds the flood's client ends, and at most 256 server ends (plus probes' few).
                if let before, let during = OpenDescriptors.count() {
                    #expect(during - before <= flood + limits.maxConnections + 64, "\(before) → \(during)")
                }
                // /metrics answers: idle connections are closed after 2 s, so queued ones, and ours, get in.
                #expect(
                    await eventually(within: .seconds(60)) {
                        await httpGet("http://127.0.0.1:\(port)/metrics")?.status == 200
                    }
                )
                #expect(Self.value(monitor, "authprobe_up", target) == 1)
            }
        }
    }

    @Test("a connection that trickles its request head, or sends nothing, is closed after the idle timeout")
    func slowLoris() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("loris-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let provider = try await FakeProvider.make()
        let limits = ServerLimits(idleTimeout: .seconds(1))
        let (monitor, port) = try await Self.monitor(provider, limits: limits, directory: directory)

        try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await withRunningServices(monitor.services, waitingFor: [port]) {
                let loris = try #require(RawConnection.open(port: port))
                defer { loris.hangUp() }
                let silent = try #require(RawConnection.open(port: port))
                defer { silent.hangUp() }
                let start = ContinuousClock.now
                #expect(loris.write("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"))
                // One header byte every 100 ms, never the blank line that ends the head: at most 10 s.
                var closedAfter: Duration?
                for byte in String(repeating: "X-Slow: loris\r\n", count: 8).utf8 {
                    if !loris.write([byte]) || loris.isClosedByPeer() {
                        closedAfter = start.duration(to: .now)
                        break
                    }
                    try await Task.sleep(for: .milliseconds(100))
                }
                let elapsed = try #require(closedAfter, "a trickled request head kept its connection for 10 s")
                #expect(elapsed >= .milliseconds(700) && elapsed < .seconds(5), "closed after \(elapsed)")
                #expect(
                    await eventually(within: .seconds(3)) { silent.isClosedByPeer() },
                    "a silent connection outlived the idle timeout"
                )
                // A well-behaved client is still served.
                #expect(await httpGet("http://127.0.0.1:\(port)/healthz")?.status == 200)
            }
        }
    }
}

/// A plain TCP client socket, for what an HTTP client will not do: connect and send nothing, or half a request.
struct RawConnection: Sendable {
    let descriptor: Int32

    /// A connection to 127.0.0.1:`port` (its handshake done by the kernel, not waited for), or nil.
    static func open(port: Int, wait: Bool = true) -> RawConnection? {
        #if canImport(Glibc)
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
            let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { return nil }
        if !wait { _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard status == 0 || errno == EINPROGRESS else {
            _ = close(descriptor)
            return nil
        }
        if wait { _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK) }
        return RawConnection(descriptor: descriptor)
    }

    /// `count` connections opened without waiting for their handshakes (those past the listen queue wait in
    /// the kernel's SYN retries). On a thread of its own: thousands of system calls must not hold up one of the
    /// few threads that run the other tests' tasks.
    static func openMany(_ count: Int, port: Int) async -> [RawConnection] {
        await withCheckedContinuation { continuation in
            Thread {
                continuation.resume(returning: (0..<count).compactMap { _ in Self.open(port: port, wait: false) })
            }
            .start()
        }
    }

    /// Closes `connections` on a thread of its own, as ``openMany(_:port:)`` opened them.
    static func hangUp(_ connections: [RawConnection]) {
        Thread {
            for connection in connections { connection.hangUp() }
        }
        .start()
    }

    func write(_ text: String) -> Bool { self.write(Array(text.utf8)) }

    /// Whether all of `bytes` were written.
    func write(_ bytes: [UInt8]) -> Bool {
        #if canImport(Glibc)
            let flags = Int32(MSG_NOSIGNAL)
        #else
            let flags: Int32 = 0
        #endif
        return bytes.withUnsafeBytes { send(self.descriptor, $0.baseAddress, $0.count, flags) } == bytes.count
    }

    /// Whether the server closed (or reset) the connection.
    func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        let read = recv(self.descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if read == 0 { return true }
        if read < 0 { return errno != EAGAIN && errno != EWOULDBLOCK }
        return false
    }

    func hangUp() { _ = close(self.descriptor) }
}

/// How many descriptors the process has open (Linux: the entries of /proc/self/fd); nil elsewhere.
enum OpenDescriptors {
    static func count() -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd"))?.count
    }
}
