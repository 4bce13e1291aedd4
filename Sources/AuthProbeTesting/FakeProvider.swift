import AuthProbe
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// A scripted response of the ``FakeProvider``.
public enum FakeResponse: Sendable {
    /// Status, headers and body bytes exactly as given.
    case raw(status: Int, headers: [(String, String)], body: [UInt8])
    /// Waits `delay`, then answers with `then`.
    indirect case delayed(Duration, then: FakeResponse)
    /// Never answers (until `limit`, so that servers can still shut down).
    case hang(limit: Duration)
    /// An RFC 6749 error whose description repeats the form fields received (in name order), as a
    /// careless provider might: whatever credential the client sent comes back in the answer.
    case echoError(status: Int, error: String)

    /// A JSON body with `Content-Type: application/json`.
    public static func json(_ status: Int = 200, _ body: String, headers: [(String, String)] = []) -> FakeResponse {
        .raw(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(body.utf8))
    }

    /// A status with an empty body (glewlwyd's answer to a bad credential is `.empty(403)`).
    public static func empty(_ status: Int) -> FakeResponse {
        .raw(status: status, headers: [], body: [])
    }
}

/// One request the fake provider received (tests check what authprobe sent).
public struct ReceivedRequest: Sendable {
    public var method: String
    public var path: String
    public var headers: [(String, String)]
    public var body: String

    public func header(_ name: String) -> String? {
        self.headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

/// An in-process OpenID provider on loopback for edge cases no real provider produces on demand:
/// hangs, malformed documents, RFC-style error bodies, rate limits, oversized bodies.
///
/// By default it serves a valid discovery document, a one-key JWKS and successful tokens; `set(_:_:)`
/// scripts any path. Not the proof that a feature works against a real provider: that is glewlwyd's job.
public final class FakeProvider: Sendable {
    public let port: Int
    /// The loopback address it listens on (127.0.0.2 stands in for another host).
    public let host: String
    private let routes: NIOLockedValueBox<[String: FakeResponse]>
    private let received: NIOLockedValueBox<[ReceivedRequest]>

    public static let discoveryPath = "/.well-known/openid-configuration"
    public static let validJWKS =
        #"{"keys":[{"kty":"RSA","kid":"k1","e":"AQAB","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbg"}]}"#
    public static let validToken = #"{"access_token":"opaque-token-value-1","token_type":"Bearer","expires_in":300}"#

    public init(port: Int, host: String = "127.0.0.1") {
        self.port = port
        self.host = host
        let issuer = "http://\(host):\(port)"
        self.routes = NIOLockedValueBox([
            Self.discoveryPath: .json(200, Self.discoveryDocument(issuer: issuer)),
            "/jwks": .json(200, Self.validJWKS),
            "/token": .json(200, Self.validToken, headers: [("Cache-Control", "no-store")]),
        ])
        self.received = NIOLockedValueBox([])
    }

    /// A fake provider on a free loopback port, at 127.0.0.1 or another loopback address.
    public static func make(host: String = "127.0.0.1") async throws -> FakeProvider {
        FakeProvider(port: try await LoopbackPort.free(), host: host)
    }

    public var issuer: String { "http://\(self.host):\(self.port)" }

    /// A discovery document for `issuer` with token and JWKS endpoints under it.
    public static func discoveryDocument(issuer: String, tokenEndpoint: String? = nil) -> String {
        #"{"issuer":"\#(issuer)","token_endpoint":"\#(tokenEndpoint ?? issuer + "/token")","jwks_uri":"\#(issuer)/jwks","grant_types_supported":["client_credentials"]}"#
    }

    /// Scripts the answer for `path` (any method).
    public func set(_ path: String, _ response: FakeResponse) {
        self.routes.withLockedValue { $0[path] = response }
    }

    /// Every request received so far, oldest first.
    public var requests: [ReceivedRequest] {
        self.received.withLockedValue { $0 }
    }

    /// The HTTP service on `host`:`port`.
    public func application(logger: Logger = Logger(label: "fake-provider")) -> some Service {
        let router = Router()
        router.on("**", method: .get) { request, context in try await self.answer(request, context) }
        router.on("**", method: .post) { request, context in try await self.answer(request, context) }
        return Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(self.host, port: self.port)),
            logger: logger
        )
    }

    private func answer(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let body = try await request.body.collect(upTo: 1 << 20)
        let path = request.uri.path
        self.received.withLockedValue {
            $0.append(
                ReceivedRequest(
                    method: request.method.rawValue,
                    path: path,
                    headers: request.headers.map { ($0.name.canonicalName, $0.value) },
                    body: String(buffer: body)
                )
            )
        }
        guard let scripted = self.routes.withLockedValue({ $0[path] }) else {
            return Response(status: .notFound)
        }
        return try await Self.render(scripted, requestBody: String(buffer: body))
    }

    private static func render(_ scripted: FakeResponse, requestBody: String) async throws -> Response {
        switch scripted {
        case .echoError(let status, let error):
            let fields = requestBody.split(separator: "&").sorted().joined(separator: "&")
            let document = ["error": error, "error_description": "rejected request: \(fields)"]
            let body = try JSONSerialization.data(withJSONObject: document)
            return try await self.render(
                .raw(status: status, headers: [("Content-Type", "application/json")], body: Array(body)),
                requestBody: requestBody
            )
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
            return try await self.render(then, requestBody: requestBody)
        case .hang(let limit):
            try? await Task.sleep(for: limit)
            return Response(status: .serviceUnavailable)
        }
    }
}
