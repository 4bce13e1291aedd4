import NIOCore
import NIOPosix

/// Finds a free TCP port on 127.0.0.1 by binding port 0 and releasing it.
///
/// Used where a server's URL must be known before the server starts (the demo's issuer, test providers).
public enum LoopbackPort {
    public static func free() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let port = channel.localAddress?.port ?? 0
        try await channel.close()
        return port
    }
}
