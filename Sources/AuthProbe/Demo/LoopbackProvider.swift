import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// An OpenID provider inside the process, on 127.0.0.1: discovery, a JWKS and a client-credentials token
/// endpoint. `authprobe demo` probes it, and the tests use it for the edge cases no real provider produces on
/// demand: hangs, malformed documents, RFC-style error bodies, rate limits, oversized bodies.
///
/// Its token endpoint answers in one of two ways:
/// - built with `clients` (the demo), as a standards-following provider does (RFC 6749 §5.1/§5.2): it reads
///   the client id and secret from HTTP Basic or the form, answers an unknown or disabled client — a revoked
///   credential — with `401 invalid_client`, and issues a fresh opaque token living `tokenLifetime` seconds;
/// - built without (the tests), it accepts any credentials and answers ``validToken``.
///
/// Either way `set(_:_:)` scripts the answer for any path, and ``requests`` holds every request received.
/// Not the proof that a feature works against a real provider: that is glewlwyd's job.
public final class LoopbackProvider: Sendable {
    /// One client the provider accepts (or, when disabled, rejects).
    public struct Client: Sendable {
        public var id: String
        public var secret: Secret
        public var enabled: Bool

        public init(id: String, secret: Secret, enabled: Bool = true) {
            self.id = id
            self.secret = secret
            self.enabled = enabled
        }
    }

    public let port: Int
    /// The loopback address it listens on (tests use 127.0.0.2 to stand in for another host).
    public let host: String
    /// The clients whose credentials the token endpoint checks; `nil` accepts any credentials.
    public let clients: [Client]?
    /// The `expires_in` of the tokens issued to `clients`.
    public let tokenLifetime: Int
    private let scripted: NIOLockedValueBox<[String: FakeResponse]>
    private let received: NIOLockedValueBox<[ReceivedRequest]>

    public static let discoveryPath = "/.well-known/openid-configuration"
    public static let validJWKS =
        #"{"keys":[{"kty":"RSA","kid":"k1","e":"AQAB","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbg"}]}"#
    public static let validToken = #"{"access_token":"opaque-token-value-1","token_type":"Bearer","expires_in":300}"#

    /// An RSA public key (no private part exists anywhere): the provider issues opaque tokens, and the
    /// demo shows a key set as a provider publishes it.
    private static let publishedJWKS = #"""
        {"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid":"authprobe-demo-1","e":"AQAB","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw"}]}
        """#

    /// A provider on `host`:`port`; with `clients` it checks credentials, without it accepts any.
    public init(port: Int, host: String = "127.0.0.1", clients: [Client]? = nil, tokenLifetime: Int = 3600) {
        self.port = port
        self.host = host
        self.clients = clients
        self.tokenLifetime = tokenLifetime
        self.scripted = NIOLockedValueBox([:])
        self.received = NIOLockedValueBox([])
    }

    /// A provider accepting any credentials, on a free loopback port of `host`.
    public static func make(host: String = "127.0.0.1") async throws -> LoopbackProvider {
        LoopbackProvider(port: try await LoopbackPort.free(), host: host)
    }

    /// `http://<host>:<port>` — no trailing slash, like the issuers of many providers.
    public var issuer: String { "http://\(self.host):\(self.port)" }

    /// A discovery document for `issuer` with token and JWKS endpoints under it.
    public static func discoveryDocument(issuer: String, tokenEndpoint: String? = nil) -> String {
        #"{"issuer":"\#(issuer)","token_endpoint":"\#(tokenEndpoint ?? issuer + "/token")","jwks_uri":"\#(issuer)/jwks","grant_types_supported":["client_credentials"]}"#
    }

    /// Scripts the answer for `path` (any method), in place of the provider's own.
    public func set(_ path: String, _ response: FakeResponse) {
        self.scripted.withLockedValue { $0[path] = response }
    }

    /// Every request received so far, oldest first.
    public var requests: [ReceivedRequest] {
        self.received.withLockedValue { $0 }
    }

    /// The HTTP service on `host`:`port`.
    public func application(logger: Logger = Logger(label: "loopback-provider")) -> some Service {
        let router = Router()
        router.on("**", method: .get) { request, _ in try await self.answer(request) }
        router.on("**", method: .post) { request, _ in try await self.answer(request) }
        return Application(
            router: router,
            configuration: ApplicationConfiguration(
                address: .hostname(self.host, port: self.port),
                serverName: self.clients == nil ? nil : "authprobe-demo-idp"
            ),
            logger: logger
        )
    }

    private func answer(_ request: Request) async throws -> Response {
        let body = String(buffer: try await request.body.collect(upTo: 1 << 20))
        let received = ReceivedRequest(
            method: request.method.rawValue,
            path: request.uri.path,
            headers: request.headers.map { ($0.name.canonicalName, $0.value) },
            body: body
        )
        self.received.withLockedValue { $0.append(received) }
        guard let response = self.scripted.withLockedValue({ $0[received.path] }) ?? self.ownAnswer(received) else {
            return Response(status: .notFound)
        }
        return try await Self.render(response, request: received)
    }

    /// The provider's own answer for `request`, `nil` for a path it does not serve.
    private func ownAnswer(_ request: ReceivedRequest) -> FakeResponse? {
        switch request.path {
        case Self.discoveryPath:
            guard self.clients != nil else { return .json(200, Self.discoveryDocument(issuer: self.issuer)) }
            return .json(200, Self.advertisingDiscoveryDocument(issuer: self.issuer))
        case "/jwks":
            return .json(200, self.clients == nil ? Self.validJWKS : Self.publishedJWKS)
        case "/token":
            guard let clients = self.clients else {
                return .json(200, Self.validToken, headers: [("Cache-Control", "no-store")])
            }
            return self.token(request, clients: clients)
        default:
            return nil
        }
    }

    /// The discovery document of the provider that checks credentials: it also names the ways its token
    /// endpoint accepts them.
    private static func advertisingDiscoveryDocument(issuer: String) -> String {
        #"{"issuer":"\#(issuer)","token_endpoint":"\#(issuer)/token","jwks_uri":"\#(issuer)/jwks","#
            + #""grant_types_supported":["client_credentials"],"#
            + #""token_endpoint_auth_methods_supported":["client_secret_basic","client_secret_post"],"#
            + #""response_types_supported":["token"]}"#
    }

    /// RFC 6749 §4.4 with the client authenticated as in §2.3.1: Basic first, else the form.
    private func token(_ request: ReceivedRequest, clients: [Client]) -> FakeResponse {
        let fields = FormEncoding.decode(request.body)
        guard fields["grant_type"] == "client_credentials" else {
            return .json(400, #"{"error":"unsupported_grant_type"}"#)
        }
        guard let credentials = Self.credentials(authorization: request.header("Authorization"), fields: fields),
            let client = clients.first(where: { $0.id == credentials.id }),
            client.enabled,
            client.secret.withRawValue({ $0 == credentials.secret })
        else {
            return .json(
                401,
                #"{"error":"invalid_client"}"#,
                headers: [("WWW-Authenticate", #"Basic realm="authprobe-demo""#)]
            )
        }
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        return .json(
            200,
            #"{"access_token":"\#(token)","token_type":"Bearer","expires_in":\#(self.tokenLifetime)}"#,
            headers: [("Cache-Control", "no-store")]
        )
    }

    /// The client id and secret from a `Basic` authorization (form-urlencoded, then base64), else from the form.
    static func credentials(
        authorization: String?,
        fields: [String: String]
    ) -> (id: String, secret: String)? {
        if let authorization, authorization.lowercased().hasPrefix("basic "),
            let decoded = Data(base64Encoded: String(authorization.dropFirst(6))).flatMap({
                String(data: $0, encoding: .utf8)
            }),
            let colon = decoded.firstIndex(of: ":")
        {
            return (
                FormEncoding.decodeComponent(String(decoded[..<colon])),
                FormEncoding.decodeComponent(String(decoded[decoded.index(after: colon)...]))
            )
        }
        guard let id = fields["client_id"], let secret = fields["client_secret"] else { return nil }
        return (id, secret)
    }

    private static func render(_ scripted: FakeResponse, request: ReceivedRequest) async throws -> Response {
        switch scripted {
        case .echoError(let status, let error):
            let fields = request.body.split(separator: "&").sorted().joined(separator: "&")
            let document = ["error": error, "error_description": "rejected request: \(fields)"]
            let body = try JSONSerialization.data(withJSONObject: document)
            return try await self.render(
                .raw(status: status, headers: [("Content-Type", "application/json")], body: Array(body)),
                request: request
            )
        case .echo(let form):
            return try await self.render(try Self.echo(form, request: request), request: request)
        case .raw(let status, let headers, let body):
            var fields = HTTPFields()
            for (name, value) in headers {
                if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
            }
            return Response(
                status: .init(code: status),
                headers: fields,
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: body))
            )
        case .delayed(let delay, let then):
            try await Task.sleep(for: delay)
            return try await self.render(then, request: request)
        case .hang(let limit):
            try? await Task.sleep(for: limit)
            return Response(status: .serviceUnavailable)
        }
    }
}
