import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Finds a free TCP port on 127.0.0.1 for a server whose URL must be known before it starts
/// (the demo's issuer, test providers).
///
/// Ports come from 20000–32767, below Linux's default ephemeral range (32768–60999), so an outgoing
/// connection cannot take the port between this check and the server's bind; a port is handed out at
/// most once per process, so servers started side by side never collide.
public enum LoopbackPort {
    private static let range = 20000...32767
    private static let handedOut = NIOLockedValueBox<Set<Int>>([])

    public static func free() async throws -> Int {
        for _ in 0..<200 {
            let port = Int.random(in: self.range)
            guard self.handedOut.withLockedValue({ $0.insert(port).inserted }) else { continue }
            guard
                let channel = try? await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .bind(host: "127.0.0.1", port: port)
                    .get()
            else { continue }
            try await channel.close()
            return port
        }
        throw NoFreePort()
    }

    /// No port in the range was free.
    public struct NoFreePort: Error, CustomStringConvertible {
        public var description: String { "no free loopback port found" }
    }
}
