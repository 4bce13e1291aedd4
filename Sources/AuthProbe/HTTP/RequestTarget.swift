import Foundation
import NIOConcurrencyHelpers

/// The parts of an `http(s)://` URL a client needs to connect and to write the request line.
struct RequestTarget: Sendable, Equatable {
    var isTLS: Bool
    /// Host without IPv6 brackets.
    var host: String
    var port: Int
    /// Path and query as sent on the request line (`/` when the URL has no path).
    var pathAndQuery: String

    /// Whether the host is loopback (`localhost`, 127.0.0.0/8, ::1).
    var isLoopback: Bool

    /// `RequestTarget(parsing:)`, remembered: a monitor parses the same few URLs on every run, and Foundation's
    /// URL parsing is a large share of the CPU a request costs. Bounded, and emptied when full.
    /// URLs come from providers (discovery, redirects): one longer than `longestURL` is refused, so neither the
    /// cache nor a request line can be inflated by a hostile document (the cache holds at most 512 × 8 KiB).
    static func cached(_ url: String) -> RequestTarget? {
        guard url.utf8.count <= Self.longestURL else { return nil }
        if let known = Self.cache.withLockedValue({ $0[url] }) { return known }
        let parsed = RequestTarget(parsing: url)
        Self.cache.withLockedValue { cache in
            if cache.count >= 512 { cache.removeAll() }
            cache[url] = .some(parsed)
        }
        return parsed
    }

    private static let cache = NIOLockedValueBox<[String: RequestTarget?]>([:])

    /// The longest URL authprobe sends a request to, in bytes: far beyond any real endpoint.
    static let longestURL = 8192

    init?(parsing url: String) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", var host = components.host, !host.isEmpty
        else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        }
        self.isTLS = scheme == "https"
        self.host = host
        self.isLoopback = Host.isLoopback(host)
        self.port = components.port ?? (self.isTLS ? 443 : 80)
        guard (1...65535).contains(self.port) else { return nil }
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        self.pathAndQuery = components.percentEncodedQuery.map { "\(path)?\($0)" } ?? path
    }

    /// Scheme, host and port: where credentials may be sent.
    var origin: String { "\(self.isTLS ? "https" : "http")://\(self.host.lowercased()):\(self.port)" }

    /// `host:port` as a `CONNECT` request names it (brackets for IPv6, the port always).
    var authority: String { "\(self.host.contains(":") ? "[\(self.host)]" : self.host):\(self.port)" }

    /// The `Host` header value: brackets for IPv6, the port only when it is not the scheme's default.
    var hostHeader: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return self.port == (self.isTLS ? 443 : 80) ? host : "\(host):\(self.port)"
    }
}
