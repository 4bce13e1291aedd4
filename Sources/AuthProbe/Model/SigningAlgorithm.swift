/// JWS algorithms a `private_key_jwt` client can sign its assertions with; the key's type decides which apply.
///
/// Shared vocabulary: Config names one when it checks a key, Probe signs with it.
public enum SigningAlgorithm: String, Sendable, CaseIterable {
    case rs256 = "RS256"
    case rs384 = "RS384"
    case rs512 = "RS512"
    case es256 = "ES256"
    case es384 = "ES384"
}
