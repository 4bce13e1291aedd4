/// A scripted answer of the ``LoopbackProvider`` for one path (`set(_:_:)`).
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
    /// Reflects the client secret received (from `Basic`, else the form) in one of the ways providers do.
    case echo(EchoForm)

    /// A JSON body with `Content-Type: application/json`.
    public static func json(_ status: Int = 200, _ body: String, headers: [(String, String)] = []) -> FakeResponse {
        .raw(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(body.utf8))
    }

    /// A status with an empty body (glewlwyd's answer to a bad credential is `.empty(403)`).
    public static func empty(_ status: Int) -> FakeResponse {
        .raw(status: status, headers: [], body: [])
    }
}
