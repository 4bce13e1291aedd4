import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// The HTTP surface: `/metrics`, `/healthz`, `/readyz`. Routes only; no business logic.
public enum MonitorServer {
    /// Prometheus text exposition format 0.0.4.
    static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The server's own event loop: a scrape is parsed and answered here, never on the event loops that time
    /// probe requests, so a large scrape cannot delay a measurement.
    static let eventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// The router serving `metrics`; `readiness` says why the monitor is not ready (nil when it is).
    public static func router(
        metrics: MonitorMetrics,
        readiness: @escaping @Sendable () -> String? = { nil }
    ) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            // Streamed family by family: a scrape of thousands of targets never holds its whole text.
            Response(
                status: .ok,
                headers: [.contentType: Self.metricsContentType],
                body: ResponseBody { writer in
                    try await metrics.stream { bytes in try await writer.write(ByteBuffer(bytes: bytes)) }
                    try await writer.finish(nil)
                }
            )
        }
        router.get("/healthz") { _, _ -> String in
            "ok\n"
        }
        // Not ready while results cannot be written or runs wait for a permit far too long: an orchestrator
        // then stops sending traffic and an alert on readiness names authprobe's own fault.
        router.get("/readyz") { _, _ -> Response in
            if let problem = readiness() {
                return Response(
                    status: .serviceUnavailable,
                    headers: [.contentType: "text/plain; charset=utf-8"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: "not ready: \(problem)\n"))
                )
            }
            return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "ready\n")))
        }
        return router
    }

    /// The application service bound to `listen`, within `limits`. `onServerRunning` receives the bound port
    /// (useful with port 0).
    public static func application(
        metrics: MonitorMetrics,
        listen: ListenAddress,
        limits: ServerLimits = ServerLimits(),
        logger: Logger,
        readiness: @escaping @Sendable () -> String? = { nil },
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some Service {
        Application(
            router: self.router(metrics: metrics, readiness: readiness),
            // Hummingbird's idle timer restarts only on a complete request part, so it also closes a connection
            // that trickles its request head and never finishes it.
            server: .http1(configuration: HTTP1Channel.Configuration(idleTimeout: TimeAmount(limits.idleTimeout))),
            configuration: ApplicationConfiguration(
                address: .hostname(listen.host, port: listen.port),
                serverName: "authprobe",
                backlog: limits.backlog,
                // At the limit the server stops accepting; the kernel queues the next ones.
                availableConnectionsDelegate: MaximumAvailableConnections(limits.maxConnections, logger: logger)
            ),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? listen.port) },
            eventLoopGroupProvider: .shared(Self.eventLoopGroup),
            logger: logger
        )
    }
}
