import Foundation

/// The validated, immutable configuration of one authprobe instance.
///
/// Built only by ``ConfigLoader`` (or directly by `authprobe demo` and tests); every value here has
/// already passed validation, so the rest of the program never re-checks it.
public struct MonitorConfig: Sendable {
    /// Address of the metrics and status endpoint.
    public var listen: ListenAddress
    /// Path of the SQLite database.
    public var database: String
    /// Optional name of the place this instance probes from, exported on `authprobe_build_info`.
    public var location: String?
    /// How many probe runs may be in flight at once.
    public var concurrency: Int
    /// How long raw step results are kept in the database.
    public var rawRetention: Duration
    /// The environments to probe, in configuration order.
    public var environments: [EnvironmentConfig]
    /// Built-in alert thresholds and receivers.
    public var alerting = AlertingConfig()

    /// Creates a configuration; values are assumed valid.
    public init(
        listen: ListenAddress = .default,
        database: String = MonitorConfig.defaultDatabase,
        location: String? = nil,
        concurrency: Int = MonitorConfig.defaultConcurrency,
        rawRetention: Duration = MonitorConfig.defaultRawRetention,
        environments: [EnvironmentConfig]
    ) {
        self.listen = listen
        self.database = database
        self.location = location
        self.concurrency = concurrency
        self.rawRetention = rawRetention
        self.environments = environments
    }

    public static let defaultDatabase = "./authprobe.sqlite"
    public static let defaultInterval: Duration = .seconds(60)
    public static let defaultTimeout: Duration = .seconds(10)
    public static let defaultConcurrency = 32
    public static let defaultRawRetention: Duration = .seconds(30 * 86_400)

    /// Every environment×client pair (an environment without clients gives one discovery-only target).
    public var targets: [ProbeTarget] {
        self.environments.flatMap { environment in
            environment.clients.isEmpty
                ? [ProbeTarget(environment: environment, client: nil)]
                : environment.clients.map { ProbeTarget(environment: environment, client: $0) }
        }
    }
}

/// Host and port the HTTP endpoint binds to.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Loopback only unless told otherwise: metrics describe credentials and are not for the internet.
    public static let `default` = ListenAddress(host: "127.0.0.1", port: 9470)

    /// Parses `host:port`, `[v6]:port` or `:port` (all interfaces); nil when malformed.
    public static func parse(_ text: String) -> ListenAddress? {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { return nil }
        }
        if host.isEmpty { host = "0.0.0.0" }
        guard let port = Int(portText), (0...65535).contains(port) else { return nil }
        return ListenAddress(host: String(host), port: port)
    }

    public var description: String {
        self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
    }
}

/// One identity-provider environment: an issuer and the credentials used against it.
public struct EnvironmentConfig: Sendable {
    /// Name used as the `environment` label.
    public var name: String
    /// The issuer URL exactly as configured; discovery must report the same value.
    public var issuer: String
    /// Time between probe runs.
    public var interval: Duration
    /// Deadline of each request of a run.
    public var timeout: Duration
    /// Time between token requests (a multiple of runs: token issuance may be rate-limited by the provider).
    public var tokenInterval: Duration
    /// Allows plain `http://` endpoints off loopback (reported in the step detail).
    public var insecureHTTP: Bool
    /// A CA certificate (PEM) trusted in addition to the system store, for private or self-signed providers.
    public var caFile: String?
    /// An HTTP proxy every request of this environment goes through.
    public var proxy: ProxyAddress?
    /// Inspect JWT access tokens against the JWKS (false for providers whose access tokens are signed with
    /// keys the OIDC JWKS does not publish).
    public var verifyAccessToken = true
    /// Which address family to connect over when a host has both.
    public var ipPreference: IPPreference = .system
    /// One protected API call made with the issued token, after the token step.
    public var apiCheck: APICheck?
    /// Conformance rules this provider is known to break harmlessly: not reported as violations.
    public var conformanceAllow: Set<ConformanceRule> = []
    /// Hosts besides the issuer's that the provider may name for the token endpoint and the client assertion's
    /// audience, and that GETs may reach although link-local or metadata addresses (`allowed_hosts`), normalized.
    public var allowedHosts: [String] = []
    /// The lowest TLS version any request of this environment accepts (`tls_min_version`).
    public var tlsMinimumVersion: TLSMinimumVersion = .tls12
    /// Credentials probed against this environment.
    public var clients: [ClientConfig]

    public init(
        name: String,
        issuer: String,
        interval: Duration = MonitorConfig.defaultInterval,
        timeout: Duration = MonitorConfig.defaultTimeout,
        tokenInterval: Duration? = nil,
        insecureHTTP: Bool = false,
        caFile: String? = nil,
        apiCheck: APICheck? = nil,
        clients: [ClientConfig]
    ) {
        self.apiCheck = apiCheck
        self.name = name
        self.issuer = issuer
        self.interval = interval
        self.timeout = timeout
        self.tokenInterval = tokenInterval ?? interval
        self.insecureHTTP = insecureHTTP
        self.caFile = caFile
        self.clients = clients
    }

    /// Whether a plain-http URL may be used: with `insecure_http`, or on loopback reached
    /// directly or through a loopback proxy (never in clear text across the network).
    func allowsPlainHTTP(loopbackHost: Bool) -> Bool {
        self.insecureHTTP || (loopbackHost && self.proxy.map { Host.isLoopback($0.host) } ?? true)
    }

    /// How this environment's requests reach its servers.
    public var connection: ConnectionOptions {
        ConnectionOptions(
            caFile: self.caFile,
            proxy: self.proxy,
            ipPreference: self.ipPreference,
            minimumTLSVersion: self.tlsMinimumVersion
        )
    }

    /// Where the provider may send this environment's requests: see ``EndpointPolicy``.
    public var endpointPolicy: EndpointPolicy {
        EndpointPolicy(
            issuer: self.issuer,
            allowedHosts: self.allowedHosts,
            insecureHTTP: self.insecureHTTP,
            loopbackStaysLocal: self.proxy.map { Host.isLoopback($0.host) } ?? true
        )
    }

    /// `<issuer>/.well-known/openid-configuration`, with exactly one slash between the two.
    public var discoveryURL: String {
        var base = self.issuer
        while base.hasSuffix("/") { base.removeLast() }
        return base + "/.well-known/openid-configuration"
    }
}

/// The optional API step: `GET url` with `Authorization: Bearer <access token>`, expecting `expectStatus`.
public struct APICheck: Sendable, Equatable {
    public var url: String
    public var expectStatus: Int

    public init(url: String, expectStatus: Int = 200) {
        self.url = url
        self.expectStatus = expectStatus
    }
}

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
public enum AuthMethod: String, Sendable, CaseIterable {
    /// HTTP Basic with the form-urlencoded client id and secret.
    case clientSecretBasic = "client_secret_basic"
    /// `client_id` and `client_secret` as form fields.
    case clientSecretPost = "client_secret_post"
    /// A JWT client assertion signed with the client's private key (RFC 7523, OpenID Connect Core §9).
    case privateKeyJWT = "private_key_jwt"
    /// `client_id` as a form field; the TLS client certificate is the credential (RFC 8705 §2).
    case tlsClientAuth = "tls_client_auth"

    /// Whether the method sends a client secret.
    public var usesSecret: Bool { self == .clientSecretBasic || self == .clientSecretPost }
}

/// One machine-to-machine credential.
public struct ClientConfig: Sendable {
    /// Name used as the `client` label; never the client id or anything secret.
    public var name: String
    /// The OAuth client id.
    public var clientID: String
    /// The client secret (`client_secret_basic`, `client_secret_post`).
    public var secret: Secret?
    public var authMethod: AuthMethod
    /// The assertion signing key (`private_key_jwt`).
    public var signingKey: SigningKey?
    /// A TLS client certificate presented to the token endpoint (required by `tls_client_auth`, and
    /// possible with any method where the provider asks for mutual TLS).
    public var tlsClientCertificate: ClientCertificate?
    /// Optional `scope` form parameter.
    public var scope: String?
    /// Optional `audience` form parameter (Auth0, Okta and others require it).
    public var audience: String?
    /// Extra form parameters sent with the token request, in configuration order.
    public var parameters: [(name: String, value: String)]
    /// Known expiry of the secret (or of the signing key, for `private_key_jwt`), if the provider told us one.
    public var expiresAt: Date?

    public init(
        name: String,
        clientID: String,
        secret: Secret?,
        authMethod: AuthMethod = .clientSecretBasic,
        scope: String? = nil,
        audience: String? = nil,
        parameters: [(name: String, value: String)] = [],
        expiresAt: Date? = nil
    ) {
        self.name = name
        self.clientID = clientID
        self.secret = secret
        self.authMethod = authMethod
        self.scope = scope
        self.audience = audience
        self.parameters = parameters
        self.expiresAt = expiresAt
    }
}

/// One environment×client pair: the unit the scheduler runs and the metrics label.
public struct ProbeTarget: Sendable {
    public var environment: EnvironmentConfig
    /// nil for an environment without clients (discovery and JWKS only).
    public var client: ClientConfig?

    public init(environment: EnvironmentConfig, client: ClientConfig?) {
        self.environment = environment
        self.client = client
    }

    /// The label values of this target.
    public var key: TargetKey { TargetKey(environment: self.environment.name, client: self.client?.name ?? "") }
}
