/// How much of the process the metrics endpoint's clients may hold: a bounded number of connections, each closed
/// when it stays idle too long. The endpoint then cannot take the file descriptors probes need, whatever its
/// clients do.
public struct ServerLimits: Sendable, Equatable {
    /// The most connections open at once. Past it, new connections wait in the kernel's listen queue
    /// (`backlog`), which holds no descriptor of authprobe's, and are accepted as others close.
    public var maxConnections: Int
    /// A connection that sends no complete request head for this long (nothing at all, or a head trickled
    /// byte by byte: a slow-loris client), or stays idle this long after an answer, is closed.
    public var idleTimeout: Duration
    /// The length of the kernel's queue of connections not yet accepted.
    public var backlog: Int

    public init(maxConnections: Int = 256, idleTimeout: Duration = .seconds(10), backlog: Int = 256) {
        precondition(maxConnections >= 1 && backlog >= 1 && idleTimeout > .zero)
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.backlog = backlog
    }
}
