import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Runs services for the duration of `body`, then shuts them down gracefully and waits for them.
///
/// `ports` are waited for (TCP connect succeeds) before `body` starts, so tests never race a server's bind.
public func withRunningServices<T: Sendable>(
    _ services: [any Service],
    waitingFor ports: [Int] = [],
    logger: Logger = Logger(label: "test-services"),
    _ body: @Sendable () async throws -> T
) async throws -> T {
    let group = ServiceGroup(services: services, logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            for port in ports {
                try await waitForPort(port)
            }
            let value = try await body()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return value
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
    }
}

/// Waits until something accepts TCP connections on `host`:`port` (at most `limit`).
public func waitForPort(_ port: Int, host: String = "127.0.0.1", limit: Duration = .seconds(10)) async throws {
    let deadline = ContinuousClock.now.advanced(by: limit)
    while ContinuousClock.now < deadline {
        if let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: host, port: port).get()
        {
            try? await channel.close()
            return
        }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw PortWaitTimeout(port: port)
}

/// Nothing listened on a port in time.
public struct PortWaitTimeout: Error, CustomStringConvertible {
    public var port: Int
    public var description: String { "nothing listens on 127.0.0.1:\(self.port)" }
}
