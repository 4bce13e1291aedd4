import Foundation

/// One HTTP request as the prober builds it.
public struct TransportRequest: Sendable {
    public var method: String
    /// Absolute `http://` or `https://` URL.
    public var url: String
    /// Header fields in order. May carry credentials: never log or store them.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// How to reach the server: trust, proxy, address family.
    public var connection: ConnectionOptions

    public init(
        method: String,
        url: String,
        headers: [(name: String, value: String)] = [],
        body: [UInt8] = [],
        connection: ConnectionOptions = ConnectionOptions()
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.connection = connection
    }
}

/// How requests of one environment reach its servers.
public struct ConnectionOptions: Sendable, Equatable {
    /// A CA certificate file trusted in addition to the system store (private or self-signed providers).
    public var caFile: String?
    /// An HTTP proxy: `https://` requests tunnel through it with `CONNECT`, `http://` requests are sent to it
    /// in absolute form.
    public var proxy: ProxyAddress?
    /// Which resolved addresses to try, and in which order.
    public var ipPreference: IPPreference
    /// A certificate to present when the server asks for one (mutual TLS).
    public var clientCertificate: ClientCertificate?
    /// The lowest TLS version the handshake accepts.
    public var minimumTLSVersion: TLSMinimumVersion

    public init(
        caFile: String? = nil,
        proxy: ProxyAddress? = nil,
        ipPreference: IPPreference = .system,
        clientCertificate: ClientCertificate? = nil,
        minimumTLSVersion: TLSMinimumVersion = .tls12
    ) {
        self.caFile = caFile
        self.proxy = proxy
        self.ipPreference = ipPreference
        self.clientCertificate = clientCertificate
        self.minimumTLSVersion = minimumTLSVersion
    }
}

/// The lowest TLS version a connection accepts (`tls_min_version`). TLS 1.0 and 1.1 are never offered:
/// RFC 8996 deprecated them, and a provider that still needs them has a problem worth a `tls_error`.
public enum TLSMinimumVersion: String, Sendable, CaseIterable {
    case tls12 = "1.2"
    case tls13 = "1.3"
}

/// An HTTP proxy's host and port (`http://host:port` in the configuration).
public struct ProxyAddress: Sendable, Equatable {
    /// Host without IPv6 brackets.
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `http://host:port`, for details and logs (a proxy address is not secret).
    public var description: String {
        "http://\(self.host.contains(":") ? "[\(self.host)]" : self.host):\(self.port)"
    }
}

/// The address family order for connecting: the resolver's own order, one family first, or one family only.
public enum IPPreference: String, Sendable, CaseIterable {
    case system
    case preferIPv4 = "prefer_ipv4"
    case preferIPv6 = "prefer_ipv6"
    case ipv4Only = "ipv4_only"
    case ipv6Only = "ipv6_only"
}

/// A complete HTTP response.
public struct TransportResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first value of a header, compared case-insensitively.
    public func header(_ name: String) -> String? {
        self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// Why a request produced no usable response, already classified.
public struct TransportFailure: Sendable, Error {
    /// One of the transport outcomes (`dns_error`, `connect_refused`, `timeout`, `tls_error`, `body_too_large`, …).
    public var outcome: Outcome
    /// A short explanation without secrets.
    public var detail: String
    /// The TLS alert the server sent (BoringSSL's reason, e.g. `TLSV1_ALERT_UNKNOWN_CA`), when it sent one.
    public var tlsAlert: String?

    public init(outcome: Outcome, detail: String, tlsAlert: String? = nil) {
        self.outcome = outcome
        self.detail = detail
        self.tlsAlert = tlsAlert
    }
}

/// What one request produced: a response or a classified failure, and the timings either way.
public struct HTTPExchange: Sendable {
    public var result: Result<TransportResponse, TransportFailure>
    public var timings: PhaseTimings
    /// `notAfter` of the server certificate, when a TLS handshake completed.
    public var certificateNotAfter: Date?

    public init(
        result: Result<TransportResponse, TransportFailure>,
        timings: PhaseTimings,
        certificateNotAfter: Date? = nil
    ) {
        self.result = result
        self.timings = timings
        self.certificateNotAfter = certificateNotAfter
    }
}

/// The seam between probe logic and the network: send one request, get the response and its phase timings.
///
/// Implementations never throw and never outlive `timeout`; every failure is a ``TransportFailure``.
public protocol HTTPTransport: Sendable {
    func send(_ request: TransportRequest, timeout: Duration) async -> HTTPExchange
}
