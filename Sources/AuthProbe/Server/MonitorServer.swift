import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The HTTP surface: `/metrics`, `/healthz`, `/readyz`. Routes only; no business logic.
public enum MonitorServer {
    /// Prometheus text exposition format 0.0.4.
    static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The router serving `metrics`.
    public static func router(metrics: MonitorMetrics) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: Self.metricsContentType],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.render()))
            )
        }
        router.get("/healthz") { _, _ -> String in
            "ok\n"
        }
        // Ready as soon as the server answers: the store is open and history restored before it starts.
        router.get("/readyz") { _, _ -> String in
            "ready\n"
        }
        return router
    }

    /// The application service bound to `listen`. `onServerRunning` receives the bound port (useful with port 0).
    public static func application(
        metrics: MonitorMetrics,
        listen: ListenAddress,
        logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some Service {
        Application(
            router: self.router(metrics: metrics),
            configuration: ApplicationConfiguration(
                address: .hostname(listen.host, port: listen.port),
                serverName: "authprobe"
            ),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? listen.port) },
            logger: logger
        )
    }
}
