/// How a ``FakeResponse/echo(_:)`` answer reflects the client secret it received, as careless providers do:
/// each case is a way a credential has come back in a real answer, and a way plain substring redaction misses it.
public enum EchoForm: String, Sendable, CaseIterable {
    /// `401 invalid_client`, the secret as it is in `error_description` (the JSON writer escapes `"`, `\`, `/`).
    case description
    /// `401 invalid_client`, the JSON written by hand with every non-ASCII character as a `\uXXXX` escape.
    case jsonUnicodeEscapes
    /// `401 invalid_client`, the secret split in two by a line break.
    case splitByNewline
    /// `302` with the secret, percent-encoded, in the `Location` header's path and query.
    case locationHeader
    /// `200` whose `token_type` is the secret.
    case tokenType
    /// `200` whose `expires_in` is the secret (a string).
    case expiresIn
    /// `401 invalid_client`, the secret percent-encoded with lowercase hex digits.
    case lowercasePercent
    /// `401 invalid_client`, base64 of the secret.
    case base64
    /// `401 invalid_client`, base64 of `id:secret` as they are (not form-encoded as `Basic` sends them).
    case base64IDAndSecret
    /// `401 invalid_client`, base64url of the secret without padding.
    case base64URL

    /// The text around every echo, so that tests can tell the provider's text from authprobe's own.
    public static let marker = "ECHO-7f3a"
}
