import Foundation
import NIOSSL
import Testing

@testable import AuthProbe

/// The configuration contract, checked against the fixtures in `Fixtures/config`.
///
/// As in blackbox_exporter's `config/testdata`, every invalid fixture is paired with the exact
/// `file:line: field: problem` lines `check-config` prints for it; valid fixtures are checked value by value.
/// Every load uses ``environment``, never the process environment, so results do not depend on the machine.
@Suite struct ConfigLoaderTests {
    /// The only environment variables the loader sees; the secret values are distinctive so a leak is easy to spot.
    static let environment: [String: String] = [
        "CAT_SECRET": "s3cr3t-value-123",
        "PROD_SECRET": "prod-s3cr3t-456",
        "CAT_CLIENT_ID": "cat-client-id",
        "EMPTY_SECRET": "",
    ]

    /// Every secret a fixture can resolve or contain: the variables above, the secret file, the literal one.
    static let secretValues = [
        "s3cr3t-value-123", "prod-s3cr3t-456", "file-s3cr3t-789", "hunter2-literal-value", "hunter2-password",
    ]

    /// `Fixtures/config` inside the test bundle.
    static let fixtures: URL = {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            preconditionFailure("the test target copies Fixtures as a resource")
        }
        return url.appendingPathComponent("config")
    }()

    /// Loads a fixture, named relative to `Fixtures/config`.
    static func load(_ fixture: String) throws -> MonitorConfig {
        let path = self.fixtures.appendingPathComponent(fixture).path
        return try ConfigLoader(environment: self.environment).load(path: path)
    }

    /// The error lines of a fixture that must not load, with paths made relative to `Fixtures/config`.
    static func errorLines(_ fixture: String) -> [String] {
        self.errorLines(loading: self.fixtures.appendingPathComponent(fixture).path, relativeTo: self.fixtures.path)
    }

    /// The `check-config` lines of the file at `path`, which must not load, with `directory` cut from them.
    static func errorLines(
        loading path: String,
        relativeTo directory: String,
        environment: [String: String] = Self.environment
    ) -> [String] {
        do {
            _ = try ConfigLoader(environment: environment).load(path: path)
            Issue.record("\(path) loaded, but it is invalid")
            return []
        } catch let error as ConfigValidationError {
            return error.errors.map { $0.description.replacingOccurrences(of: directory + "/", with: "") }
        } catch {
            Issue.record("\(path) threw \(error), not a ConfigValidationError")
            return []
        }
    }

    /// The `*.yaml` files of a fixture directory, sorted.
    static func yamlFiles(in directory: String) throws -> [String] {
        let path = self.fixtures.appendingPathComponent(directory).path
        return try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".yaml") }.sorted()
    }

    // MARK: - Invalid configurations

    /// One invalid fixture and the exact lines `check-config` must print for it, in order.
    struct InvalidCase: Sendable, CustomTestStringConvertible {
        var fixture: String
        var errors: [String]

        init(_ fixture: String, _ errors: String...) {
            self.fixture = fixture
            self.errors = errors
        }

        var testDescription: String { self.fixture }
    }

    static let rootKeys = "listen, database, location, concurrency, defaults, retention, alerting, environments"
    static let clientKeys =
        "name, client_id, client_secret, client_secret_file, auth_method, private_key_file, key_id, "
        + "signing_algorithm, assertion_audience, tls_client_certificate_file, tls_client_key_file, scope, audience, "
        + "parameters, expires_at"

    /// Every file in `Fixtures/config/invalid`, with the lines it must produce.
    static let invalidCases: [InvalidCase] = [
        InvalidCase(
            "key-credentials.yaml",
            "invalid/key-credentials.yaml:5: environments[0].clients[0].private_key_file: required with auth_method "
                + "private_key_jwt",
            "invalid/key-credentials.yaml:11: environments[0].clients[1].client_secret: not used with auth_method "
                + "private_key_jwt; remove it",
            "invalid/key-credentials.yaml:17: environments[0].clients[2].signing_algorithm: the key cannot sign ES256 "
                + "(RS* needs RSA, ES256 P-256, ES384 P-384)",
            "invalid/key-credentials.yaml:21: environments[0].clients[3].private_key_file: "
                + "invalid/../valid/keys/not-a-key.pem: not an unencrypted PEM RSA or EC (P-256, P-384) private key",
            "invalid/key-credentials.yaml:25: environments[0].clients[4].key_id: only used with auth_method "
                + "private_key_jwt",
            "invalid/key-credentials.yaml:26: environments[0].clients[5].tls_client_certificate_file: required with "
                + "auth_method tls_client_auth (and tls_client_key_file)",
            "invalid/key-credentials.yaml:29: environments[0].clients[6].tls_client_key_file: required with "
                + "tls_client_certificate_file",
            "invalid/key-credentials.yaml:36: environments[0].clients[7].tls_client_certificate_file: "
                + "invalid/../valid/keys/not-a-key.pem: not a PEM certificate",
            "invalid/key-credentials.yaml:43: environments[0].clients[8].expires_at: not used with auth_method "
                + "tls_client_auth: the certificate's own expiry is read from its file"
        ),
        InvalidCase(
            "bad-proxy.yaml",
            "invalid/bad-proxy.yaml:4: environments[0].proxy: expected an http://host:port proxy URL",
            "invalid/bad-proxy.yaml:7: environments[1].proxy: proxy credentials are not supported; "
                + "remove the part before @",
            "invalid/bad-proxy.yaml:10: environments[2].proxy: the proxy URL needs a port, e.g. "
                + "http://proxy.internal:3128",
            "invalid/bad-proxy.yaml:13: environments[3].proxy: a proxy URL has no path, query or fragment",
            "invalid/bad-proxy.yaml:14: environments[3].ip_preference: unknown preference \"ipv6\" (expected one "
                + "of: system, prefer_ipv4, prefer_ipv6, ipv4_only, ipv6_only)",
            "invalid/bad-proxy.yaml:16: environments[4].issuer: plain http through the proxy "
                + "http://proxy.internal:3128 would cross the network; use https (or set insecure_http: true)"
        ),
        InvalidCase(
            "bad-endpoint-rules.yaml",
            "invalid/bad-endpoint-rules.yaml:6: environments[0].allowed_hosts[1]: \"https://login.example.com\" is "
                + "not a host name or IP address (no scheme, port, path or wildcard)",
            "invalid/bad-endpoint-rules.yaml:7: environments[0].allowed_hosts[2]: \"login.example.com:443\" is not "
                + "a host name or IP address (no scheme, port, path or wildcard)",
            "invalid/bad-endpoint-rules.yaml:8: environments[0].allowed_hosts[3]: \"*.example.com\" is not a host "
                + "name or IP address (no scheme, port, path or wildcard)",
            "invalid/bad-endpoint-rules.yaml:9: environments[0].allowed_hosts[4]: \"login.example.com/oauth\" is "
                + "not a host name or IP address (no scheme, port, path or wildcard)",
            "invalid/bad-endpoint-rules.yaml:11: environments[0].tls_min_version: unknown version \"1.1\" "
                + "(expected one of: 1.2, 1.3)",
            "invalid/bad-endpoint-rules.yaml:12: environments[0].api_check.url: plain http from an https issuer",
            "invalid/bad-endpoint-rules.yaml:19: environments[0].clients[0].assertion_audience: host "
                + "token.elsewhere.example is not the issuer's host auth.example.com (add it to allowed_hosts to "
                + "allow it)",
            "invalid/bad-endpoint-rules.yaml:22: environments[1].api_check.url: host 169.254.169.254 is a "
                + "link-local or cloud metadata address (add it to allowed_hosts to allow it)"
        ),
        InvalidCase(
            "bad-auth-method.yaml",
            "invalid/bad-auth-method.yaml:8: environments[0].clients[0].auth_method: unknown method "
                + "\"client_secret_jwt\" (expected one of: client_secret_basic, client_secret_post, private_key_jwt, "
                + "tls_client_auth)"
        ),
        InvalidCase(
            "bad-duration.yaml",
            "invalid/bad-duration.yaml:2: defaults.interval: invalid duration \"5 m\" (expected e.g. 30s, 5m, 1h, 30d)"
        ),
        // Only the bad interval: the timeout must not be compared with a default interval the file never chose.
        InvalidCase(
            "bad-duration-with-long-timeout.yaml",
            "invalid/bad-duration-with-long-timeout.yaml:4: environments[0].interval: invalid duration \"5 m\" "
                + "(expected e.g. 30s, 5m, 1h, 30d)"
        ),
        InvalidCase(
            "bad-listen.yaml",
            "invalid/bad-listen.yaml:1: listen: expected host:port, e.g. 127.0.0.1:9470"
        ),
        InvalidCase(
            "both-secret-and-file.yaml",
            "invalid/both-secret-and-file.yaml:7: environments[0].clients[0].client_secret: "
                + "set either client_secret or client_secret_file, not both"
        ),
        InvalidCase(
            "concurrency-not-a-number.yaml",
            "invalid/concurrency-not-a-number.yaml:1: concurrency: expected a whole number"
        ),
        InvalidCase(
            "concurrency-zero.yaml",
            "invalid/concurrency-zero.yaml:1: concurrency: must be at least 1"
        ),
        // Both values come from `defaults`: one error, where they are written, not one per environment.
        InvalidCase(
            "default-timeout-longer-than-default-interval.yaml",
            "invalid/default-timeout-longer-than-default-interval.yaml:3: defaults.timeout: "
                + "30s is longer than the interval 10s"
        ),
        InvalidCase(
            "duplicate-client-name.yaml",
            "invalid/duplicate-client-name.yaml:8: environments[0].clients[1].name: "
                + "duplicate client name \"reporting\" (first at line 5)"
        ),
        InvalidCase(
            "duplicate-environment-name.yaml",
            "invalid/duplicate-environment-name.yaml:6: environments[2].name: "
                + "duplicate environment name \"cat\" (first at line 2)"
        ),
        InvalidCase(
            "duplicate-yaml-key.yaml",
            "invalid/duplicate-yaml-key.yaml:1: (yaml): duplicate key listen"
        ),
        InvalidCase(
            "empty-environments.yaml",
            "invalid/empty-environments.yaml:2: environments: required: at least one environment"
        ),
        InvalidCase(
            "empty-secret-file.yaml",
            "invalid/empty-secret-file.yaml:7: environments[0].clients[0].client_secret_file: "
                + "invalid/secrets/empty-secret is empty"
        ),
        InvalidCase(
            "empty.yaml",
            "invalid/empty.yaml:1: (root): the file is empty; expected a mapping with environments"
        ),
        InvalidCase(
            "expires-at-not-rfc3339.yaml",
            "invalid/expires-at-not-rfc3339.yaml:8: environments[0].clients[0].expires_at: "
                + "expected an RFC 3339 time such as 2027-03-01T00:00:00Z"
        ),
        InvalidCase(
            "http-issuer.yaml",
            "invalid/http-issuer.yaml:3: environments[0].issuer: "
                + "plain http is refused off loopback; use https (or set insecure_http: true)"
        ),
        InvalidCase(
            "issuer-with-password.yaml",
            "invalid/issuer-with-password.yaml:3: environments[0].issuer: "
                + "a user name or password in the URL is not accepted; remove the part before @"
        ),
        InvalidCase(
            "durations-too-long.yaml",
            "invalid/durations-too-long.yaml:2: defaults.interval: 2d is longer than the maximum 1d",
            "invalid/durations-too-long.yaml:6: environments[0].timeout: 15m is longer than the maximum 10m"
        ),
        InvalidCase(
            "missing-ca-file.yaml",
            "invalid/missing-ca-file.yaml:4: environments[0].ca_file: cannot read invalid/certs/missing-ca.pem: "
                + "no such file"
        ),
        InvalidCase(
            "insecure-http-not-a-boolean.yaml",
            "invalid/insecure-http-not-a-boolean.yaml:4: environments[0].insecure_http: expected true or false"
        ),
        // The file sets only the interval: the error belongs to the interval line, not to an unwritten timeout.
        InvalidCase(
            "interval-shorter-than-default-timeout.yaml",
            "invalid/interval-shorter-than-default-timeout.yaml:4: environments[0].interval: "
                + "5s is shorter than the timeout 10s"
        ),
        InvalidCase(
            "issuer-not-url.yaml",
            "invalid/issuer-not-url.yaml:3: environments[0].issuer: expected an absolute https:// URL"
        ),
        InvalidCase(
            "literal-client-secret.yaml",
            "invalid/literal-client-secret.yaml:7: environments[0].clients[0].client_secret: must be a ${ENV_VAR} "
                + "reference; literal secrets are not accepted (or use client_secret_file)"
        ),
        InvalidCase(
            "missing-client-id.yaml",
            "invalid/missing-client-id.yaml:5: environments[0].clients[0].client_id: required"
        ),
        InvalidCase(
            "missing-environments.yaml",
            "invalid/missing-environments.yaml:1: environments: required: at least one environment"
        ),
        InvalidCase(
            "missing-issuer.yaml",
            "invalid/missing-issuer.yaml:2: environments[0].issuer: required"
        ),
        InvalidCase(
            "name-with-spaces.yaml",
            "invalid/name-with-spaces.yaml:2: environments[0].name: "
                + "\"cat environment\" is not a valid name (1-64 of A-Z a-z 0-9 - _ .)"
        ),
        InvalidCase(
            "no-secret.yaml",
            "invalid/no-secret.yaml:5: environments[0].clients[0].client_secret: "
                + "required (a ${ENV_VAR} reference, or client_secret_file)"
        ),
        // grant_type has no client key to move to: it is always client_credentials.
        InvalidCase(
            "reserved-parameter.yaml",
            "invalid/reserved-parameter.yaml:8: environments[0].clients[0].parameters.grant_type: "
                + "set by authprobe itself (always client_credentials); remove it"
        ),
        InvalidCase(
            "reserved-parameter-scope.yaml",
            "invalid/reserved-parameter-scope.yaml:10: environments[0].clients[0].parameters.scope: "
                + "set by authprobe itself; use the client's scope key instead"
        ),
        InvalidCase(
            "secret-variable-empty.yaml",
            "invalid/secret-variable-empty.yaml:7: environments[0].clients[0].client_secret: "
                + "environment variable EMPTY_SECRET is empty"
        ),
        InvalidCase(
            "secret-variable-not-set.yaml",
            "invalid/secret-variable-not-set.yaml:7: environments[0].clients[0].client_secret: "
                + "environment variable CAT_SECRET_TYPO is not set"
        ),
        InvalidCase(
            "timeout-longer-than-interval.yaml",
            "invalid/timeout-longer-than-interval.yaml:5: environments[0].timeout: 1m is longer than the interval 30s"
        ),
        // The typo is reported, and so is the secret it leaves missing.
        InvalidCase(
            "token-interval-shorter-than-interval.yaml",
            "invalid/token-interval-shorter-than-interval.yaml:5: environments[0].token_interval: "
                + "1m is shorter than the interval 5m; tokens are requested at most once per run"
        ),
        InvalidCase(
            "unknown-client-key.yaml",
            "invalid/unknown-client-key.yaml:7: environments[0].clients[0].client_secrte: "
                + "unknown key (expected one of: \(Self.clientKeys))",
            "invalid/unknown-client-key.yaml:5: environments[0].clients[0].client_secret: "
                + "required (a ${ENV_VAR} reference, or client_secret_file)"
        ),
        InvalidCase(
            "unknown-conformance-rule.yaml",
            "invalid/unknown-conformance-rule.yaml:4: environments[0].conformance_allow[1]: unknown rule "
                + "\"bearer_lowercase\" (expected one of: discovery_required_fields, endpoints_https, "
                + "grant_type_advertised, auth_method_advertised, token_cache_control_no_store, "
                + "token_expires_in_numeric, token_type_bearer, error_code_registered)"
        ),
        InvalidCase(
            "unknown-top-level-key.yaml",
            "invalid/unknown-top-level-key.yaml:2: metrics_path: unknown key (expected one of: \(Self.rootKeys))"
        ),
        InvalidCase(
            "unreadable-secret-file.yaml",
            "invalid/unreadable-secret-file.yaml:7: environments[0].clients[0].client_secret_file: "
                + "cannot read invalid/secrets/does-not-exist: no such file"
        ),
        InvalidCase(
            "wrong-type.yaml",
            "invalid/wrong-type.yaml:4: environments[0].interval: expected a duration such as 30s, found a list"
        ),
        InvalidCase(
            "yaml-syntax-error.yaml",
            "invalid/yaml-syntax-error.yaml:4: (yaml): did not find expected '-' indicator"
        ),
    ]

    @Test(arguments: ConfigLoaderTests.invalidCases)
    func invalidConfigurationIsRejectedWithExactErrors(_ invalid: InvalidCase) {
        let lines = Self.errorLines("invalid/\(invalid.fixture)")
        #expect(lines == invalid.errors)
    }

    @Test func everyInvalidFixtureHasExpectedErrors() throws {
        let files = try Self.yamlFiles(in: "invalid")
        #expect(files == Self.invalidCases.map(\.fixture).sorted())
    }

    // MARK: - Valid configurations

    @Test func keyCredentialsLoadWithTheirExpiries() throws {
        let config = try Self.load("valid/key-credentials.yaml")
        let clients = config.environments[0].clients
        let keys = self.fixturesKeys

        let payments = clients[0]
        #expect(payments.authMethod == .privateKeyJWT)
        #expect(payments.secret == nil)
        let signing = try #require(payments.signingKey)
        #expect(signing.algorithm == .rs384)
        #expect(signing.keyID == "payments-2026")
        #expect(signing.audience == "https://auth.bank.example/")
        // The certificate beside the key (2036) ends later than expires_at (2030): the earlier one counts.
        let keyCertificate = try #require(NIOSSLCertificate.fromPEMFile(keys + "/signing-rsa.pem").first)
        #expect(signing.certificateNotAfter == Date(timeIntervalSince1970: TimeInterval(keyCertificate.notValidAfter)))
        #expect(payments.credentialExpiries.map(\.kind) == [.key])
        #expect(payments.credentialExpiries.first?.expiresAt == Date(timeIntervalSince1970: 1_893_456_000))
        #expect(!"\(payments)".contains("PRIVATE KEY"), "the key's text never prints")

        let statements = clients[1]
        #expect(statements.authMethod == .tlsClientAuth)
        let certificate = try #require(statements.tlsClientCertificate)
        #expect(certificate.certificateFile == keys + "/client-ec.crt")
        #expect(certificate.keyFile == keys + "/client-ec.key")
        let clientCertificate = try #require(NIOSSLCertificate.fromPEMFile(certificate.certificateFile).first)
        let notAfter = Date(timeIntervalSince1970: TimeInterval(clientCertificate.notValidAfter))
        #expect(statements.credentialExpiries.map(\.kind) == [.certificate])
        #expect(statements.credentialExpiries.first?.expiresAt == notAfter)

        let mixed = clients[2]
        #expect(mixed.authMethod == .clientSecretBasic)
        #expect(mixed.secret != nil && mixed.tlsClientCertificate != nil)

        // An EC key followed by its certificate: ES384 by the key's curve, expiry from the certificate.
        let ledger = clients[3]
        #expect(ledger.signingKey?.algorithm == .es384)
        let ledgerCertificate = try #require(
            NIOSSLCertificate.fromPEMFile(keys + "/signing-ec384-with-certificate.pem").first
        )
        #expect(
            ledger.credentialExpiries.first?.expiresAt
                == Date(timeIntervalSince1970: TimeInterval(ledgerCertificate.notValidAfter))
        )
    }

    var fixturesKeys: String { Self.fixtures.appendingPathComponent("valid/keys").path }

    @Test(arguments: try ConfigLoaderTests.yamlFiles(in: "valid"))
    func validFixtureLoads(_ fixture: String) throws {
        let config = try Self.load("valid/\(fixture)")
        #expect(!config.targets.isEmpty)
    }

    @Test func minimalConfigurationGetsEveryDefault() throws {
        let config = try Self.load("valid/minimal.yaml")
        #expect(config.listen == ListenAddress(host: "127.0.0.1", port: 9470))
        #expect(config.database == "./authprobe.sqlite")
        #expect(config.location == nil)
        #expect(config.concurrency == 32)
        #expect(config.rawRetention == .seconds(30 * 86_400))
        let environment = try #require(config.environments.first)
        #expect(config.environments.count == 1)
        #expect(environment.name == "cat")
        #expect(environment.issuer == "https://cat.example.com/oidc/")
        #expect(environment.interval == .seconds(60))
        #expect(environment.timeout == .seconds(10))
        #expect(environment.insecureHTTP == false)
        let client = try #require(environment.clients.first)
        #expect(environment.clients.count == 1)
        #expect(client.name == "reporting")
        #expect(client.clientID == "reporting-client")
        #expect(client.secret?.withRawValue { $0 } == "s3cr3t-value-123")
        #expect(client.authMethod == .clientSecretBasic)
        #expect(client.scope == nil)
        #expect(client.audience == nil)
        #expect(client.parameters.isEmpty)
        #expect(client.expiresAt == nil)
    }

    @Test func fullConfigurationSetsEveryKey() throws {
        let config = try Self.load("valid/full.yaml")
        #expect(config.listen == ListenAddress(host: "::1", port: 9471))
        #expect(config.listen.description == "[::1]:9471")
        #expect(config.database == "/var/lib/authprobe/authprobe.sqlite")
        #expect(config.location == "eu-west-1")
        #expect(config.concurrency == 8)
        #expect(config.rawRetention == .seconds(14 * 86_400))
        #expect(config.environments.map(\.name) == ["production", "cat"])

        let production = config.environments[0]
        #expect(production.issuer == "https://auth.example.com/oidc/")
        #expect(production.interval == .seconds(30))
        #expect(production.timeout == .seconds(5))
        #expect(production.insecureHTTP == false)
        #expect(production.proxy == ProxyAddress(host: "proxy.internal", port: 3128))
        #expect(production.ipPreference == .preferIPv4)
        #expect(production.verifyAccessToken == false)
        #expect(production.allowedHosts == ["tokens.example.com", "fd00:ec2::254"])
        #expect(production.tlsMinimumVersion == .tls13)
        #expect(production.connection.minimumTLSVersion == .tls13)
        #expect(production.clients.map(\.name) == ["reporting-service", "billing-service"])

        let reporting = production.clients[0]
        #expect(reporting.clientID == "reporting-client")
        #expect(reporting.secret?.withRawValue { $0 } == "prod-s3cr3t-456")
        #expect(reporting.authMethod == .clientSecretPost)
        #expect(reporting.scope == "accounts:read")
        #expect(reporting.audience == "https://api.example.com/")
        // Form parameters keep the order of the file, not of a dictionary.
        #expect(reporting.parameters.map(\.name) == ["resource", "tenant", "app_version"])
        #expect(reporting.parameters.map(\.value) == ["https://api.example.com/accounts", "acme", "1.2"])
        #expect(reporting.expiresAt == Date(timeIntervalSince1970: 1_803_859_200))

        let billing = production.clients[1]
        #expect(billing.clientID == "billing-client")
        #expect(billing.secret?.withRawValue { $0 } == "file-s3cr3t-789")
        #expect(billing.authMethod == .clientSecretBasic)
        #expect(billing.parameters.isEmpty)
        #expect(billing.expiresAt == nil)

        // An environment without its own interval and timeout inherits `defaults`, not the built-in ones.
        let cat = config.environments[1]
        #expect(cat.interval == .seconds(120))
        #expect(cat.timeout == .seconds(15))
        #expect(cat.clients.map(\.name) == ["reporting-service"])
        #expect(cat.proxy == nil)
        #expect(cat.ipPreference == .system)
        #expect(cat.verifyAccessToken)
        #expect(cat.allowedHosts.isEmpty)
        #expect(cat.tlsMinimumVersion == .tls12)
        #expect(cat.clients.first?.authMethod == .clientSecretBasic)
        #expect(cat.clients.first?.secret?.withRawValue { $0 } == "s3cr3t-value-123")

        #expect(
            config.targets.map(\.key.description) == [
                "production/reporting-service", "production/billing-service", "cat/reporting-service",
            ]
        )
    }

    @Test func environmentWithoutClientsIsADiscoveryOnlyTarget() throws {
        let config = try Self.load("valid/discovery-only.yaml")
        let targets = config.targets
        #expect(
            targets.map(\.key) == [
                TargetKey(environment: "staging", client: ""),
                TargetKey(environment: "cat", client: "reporting"),
                TargetKey(environment: "cat", client: "billing"),
            ]
        )
        #expect(targets.first?.client == nil)
        #expect(targets.first?.key.description == "staging")
        #expect(targets.dropFirst().allSatisfy { $0.client != nil })
    }

    @Test func secretFileIsReadRelativeToTheConfigAndClientIDExpandsVariables() throws {
        let config = try Self.load("valid/secret-file.yaml")
        let clients = try #require(config.environments.first).clients
        #expect(clients.map(\.clientID) == ["cat-client-id", "billing-cat-client-id-v2"])
        // The trailing newline of the file is not part of the secret.
        #expect(clients.map { $0.secret?.withRawValue { $0 } } == ["file-s3cr3t-789", "file-s3cr3t-789"])
    }

    @Test func plainHTTPIsAllowedOnLoopback() throws {
        let config = try Self.load("valid/loopback-http.yaml")
        #expect(config.listen == ListenAddress(host: "0.0.0.0", port: 9470))
        #expect(
            config.environments.map(\.issuer) == [
                "http://127.0.0.1:8080/realms/ops", "http://localhost:8080/realms/ops", "http://[::1]:8080/realms/ops",
            ]
        )
        #expect(config.environments.allSatisfy { !$0.insecureHTTP })
    }

    @Test func insecureHTTPAllowsPlainHTTPOffLoopback() throws {
        let config = try Self.load("valid/insecure-http.yaml")
        let environment = try #require(config.environments.first)
        #expect(environment.issuer == "http://keycloak.internal:8080/realms/ops")
        #expect(environment.insecureHTTP)
        #expect(config.targets.count == 1)
        #expect(config.targets.first?.client == nil)
    }

    @Test(arguments: [
        ("127.0.0.1:9470", ListenAddress(host: "127.0.0.1", port: 9470)),
        ("[::1]:9470", ListenAddress(host: "::1", port: 9470)),
        (":9470", ListenAddress(host: "0.0.0.0", port: 9470)),
        ("0.0.0.0:0", ListenAddress(host: "0.0.0.0", port: 0)),
        ("metrics.internal:65535", ListenAddress(host: "metrics.internal", port: 65535)),
    ])
    func listenAddressParses(_ text: String, _ expected: ListenAddress) {
        #expect(ListenAddress.parse(text) == expected)
        #expect(ListenAddress.parse(text)?.description == expected.description)
    }

    @Test(arguments: ["localhost", "::1:9470", "[::1]9470", "[::1:9470", "127.0.0.1:", "127.0.0.1:65536", ""])
    func malformedListenAddressIsRejected(_ text: String) {
        #expect(ListenAddress.parse(text) == nil)
    }

    // MARK: - Secrets never appear in errors

    @Test(arguments: try ConfigLoaderTests.yamlFiles(in: "invalid"))
    func invalidFixtureErrorsContainNoSecret(_ fixture: String) {
        let lines = Self.errorLines("invalid/\(fixture)")
        for secret in Self.secretValues {
            #expect(!lines.contains { $0.contains(secret) }, "\(fixture) echoes a secret")
        }
    }

    /// Configurations whose secrets resolve (or are misplaced literals) while something else is wrong.
    static let configsWithSecretsAndMistakes = [
        // The variable resolves; every other client field is wrong.
        """
        environments:
          - name: cat
            issuer: https://cat.example.com/oidc/
            clients:
              - name: reporting client
                client_id: ${CAT_CLIENT_ID}
                client_secret: ${CAT_SECRET}
                auth_method: basic
                expires_at: soon
                parameters:
                  client_secret: ${CAT_SECRET}
        """,
        // The secret file resolves; the environment and the duplicate client are wrong.
        """
        environments:
          - name: production
            issuer: http://auth.example.com/oidc/
            timeout: 2m
            clients:
              - name: billing
                client_id: billing-client
                client_secret_file: secrets/cat-secret
              - name: billing
                client_id: billing-client
                client_secret_file: secrets/cat-secret
        """,
        // A literal under a misspelt key.
        """
        environments:
          - name: cat
            issuer: https://cat.example.com/oidc/
            clients:
              - name: reporting
                client_id: reporting-client
                client_secrte: hunter2-literal-value
        """,
        // A literal of the wrong shape.
        """
        environments:
          - name: cat
            issuer: https://cat.example.com/oidc/
            clients:
              - name: reporting
                client_id: reporting-client
                client_secret: [hunter2-literal-value]
              - name: billing
                client_id: billing-client
                client_secret: {value: hunter2-literal-value}
        """,
        // A literal next to a secret file, and one that looks like a reference.
        """
        environments:
          - name: cat
            issuer: https://cat.example.com/oidc/
            clients:
              - name: reporting
                client_id: reporting-client
                client_secret: hunter2-literal-value
                client_secret_file: secrets/cat-secret
              - name: billing
                client_id: billing-client
                client_secret: ${hunter2-literal-value}
        """,
        // A literal in a form parameter and in a duplicate key.
        """
        environments:
          - name: cat
            issuer: https://cat.example.com/oidc/
            clients:
              - name: reporting
                client_id: reporting-client
                client_secret: ${CAT_SECRET}
                parameters: {client_secret: hunter2-literal-value}
        """,
        """
        environments:
          - name: cat
            issuer: https://cat.example.com/oidc/
            clients:
              - name: reporting
                client_id: reporting-client
                client_secret: hunter2-literal-value
                client_secret: ${CAT_SECRET}
        """,
        // YAML syntax errors on the line of the literal.
        """
        environments:
          - name: cat
            issuer: https://cat.example.com/oidc/
            clients:
              - name: reporting
                client_id: reporting-client
                client_secret: hunter2-literal-value: oops
        """,
        """
        environments:
          - name: cat
            issuer: https://cat.example.com/oidc/
            clients:
              - name: reporting
                client_id: reporting-client
                client_secret: "hunter2-literal-value
        """,
    ]

    @Test(arguments: ConfigLoaderTests.configsWithSecretsAndMistakes)
    func errorsNeverContainASecret(_ yaml: String) {
        let loader = ConfigLoader(environment: Self.environment)
        let base = Self.fixtures.appendingPathComponent("valid").path
        do {
            _ = try loader.parse(yaml: yaml, file: "inline.yaml", baseDirectory: base)
            Issue.record("the configuration loaded, but it is invalid")
        } catch {
            let texts = [
                "\(error)", String(describing: error), String(reflecting: error), error.localizedDescription,
            ]
            for secret in Self.secretValues {
                #expect(!texts.contains { $0.contains(secret) }, "an error echoes a secret")
            }
        }
    }

    @Test func loadedConfigurationPrintsNoSecret() throws {
        let config = try Self.load("valid/full.yaml")
        let texts = [String(describing: config), String(reflecting: config), "\(config.targets)"]
        for secret in Self.secretValues {
            #expect(!texts.contains { $0.contains(secret) })
        }
    }
}

// MARK: - Secret

extension ConfigLoaderTests {
    /// ``Secret`` prints and encodes as `<secret>` however it is turned into text.
    @Suite struct SecretRedaction {
        static let raw = "raw-secret-value-42"

        @Test func everyTextFormIsRedacted() {
            let secret = Secret(Self.raw)
            #expect(secret.description == "<secret>")
            #expect(secret.debugDescription == "<secret>")
            #expect("\(secret)" == "<secret>")
            #expect(String(describing: secret) == "<secret>")
            #expect(String(reflecting: secret) == "<secret>")
            #expect("\([secret])" == "[<secret>]")
        }

        @Test func encodesAsSecret() throws {
            struct Wrapper: Encodable {
                var secret: Secret
            }
            let encoder = JSONEncoder()
            let alone = try encoder.encode(Secret(Self.raw))
            #expect(String(decoding: alone, as: UTF8.self) == "\"<secret>\"")
            let wrapped = try encoder.encode(Wrapper(secret: Secret(Self.raw)))
            #expect(String(decoding: wrapped, as: UTF8.self) == "{\"secret\":\"<secret>\"}")
        }

        /// `dump`, debuggers and test-failure printers walk `Mirror` children, not `description`.
        @Test func reflectionDoesNotExposeTheRawValue() {
            let secret = Secret(Self.raw)
            var dumped = ""
            dump(secret, to: &dumped)
            #expect(!dumped.contains(Self.raw))
            #expect(Mirror(reflecting: secret).children.isEmpty)
        }

        @Test func rawValueIsReadableOnlyThroughTheClosure() {
            let secret = Secret(Self.raw)
            #expect(secret.withRawValue { $0 } == Self.raw)
            #expect(!secret.isEmpty)
            #expect(Secret("").isEmpty)
            #expect(Secret(Self.raw) == secret)
        }
    }
}

// MARK: - Durations

extension ConfigLoaderTests {
    /// Prometheus-style durations: what parses, what does not, and how they print.
    @Suite struct DurationText {
        @Test(arguments: [
            ("500ms", Duration.milliseconds(500)),
            ("30s", .seconds(30)),
            ("5m", .seconds(300)),
            ("1h30m", .seconds(5_400)),
            ("30d", .seconds(30 * 86_400)),
            ("2w", .seconds(14 * 86_400)),
            ("1m30s500ms", .milliseconds(90_500)),
            ("0s", .zero),
        ])
        func parses(_ text: String, _ expected: Duration) {
            #expect(Durations.parse(text) == expected)
        }

        @Test(arguments: ["", "5", "5 m", "m", "-1s", "1.5h", "5M", "30s ", " 30s", "s30", "1h-30m"])
        func rejects(_ text: String) {
            #expect(Durations.parse(text) == nil)
        }

        @Test(arguments: [
            (Duration.milliseconds(500), "500ms"),
            (.milliseconds(1_500), "1500ms"),
            (.zero, "0s"),
            (.seconds(30), "30s"),
            (.seconds(90), "90s"),
            (.seconds(300), "5m"),
            (.seconds(5_400), "90m"),
            (.seconds(3_600), "1h"),
            (.seconds(30 * 86_400), "30d"),
        ])
        func formats(_ duration: Duration, _ expected: String) {
            #expect(Durations.format(duration) == expected)
            #expect(Durations.parse(expected) == duration)
        }

        @Test func secondsIncludesFractions() {
            #expect(Durations.seconds(.milliseconds(1_500)) == 1.5)
            #expect(Durations.seconds(.seconds(60)) == 60)
        }
    }
}
