import Foundation
import JWTKit

/// A parsed PEM private key of a kind client assertions can be signed with: RSA, or EC P-256 or P-384.
///
/// The one place that knows what a key file holds: Config asks it whether a key is usable (and with which
/// algorithm) when the configuration loads, Probe takes the parsed key from it to sign. Problems are described
/// in words, never with the key's text.
enum SigningKeyMaterial {
    case rsa(Insecure.RSA.PrivateKey)
    case es256(ES256PrivateKey)
    case es384(ES384PrivateKey)

    /// Why a file is not a signing key at all.
    static let notAKeyProblem = "not an unencrypted PEM RSA or EC (P-256, P-384) private key"

    /// Parses the private key block of `pem`; nil when it holds no supported unencrypted key.
    init?(pem whole: String) {
        // Only the private key block: the file may also hold its certificate or EC parameters, which
        // swift-crypto's EC parser does not skip.
        let text = Self.privateKeyBlock(whole) ?? whole
        if let key = try? Insecure.RSA.PrivateKey(pem: text) {
            self = .rsa(key)
        } else if let key = try? ES256PrivateKey(pem: text) {
            self = .es256(key)
        } else if let key = try? ES384PrivateKey(pem: text) {
            self = .es384(key)
        } else {
            return nil
        }
    }

    /// The algorithm for this key when the configuration names none: RS256 for RSA, ES256/ES384 by EC curve.
    var defaultAlgorithm: SigningAlgorithm {
        switch self {
        case .rsa: return .rs256
        case .es256: return .es256
        case .es384: return .es384
        }
    }

    /// Whether this key can sign with `algorithm`.
    func supports(_ algorithm: SigningAlgorithm) -> Bool {
        switch (algorithm, self) {
        case (.rs256, .rsa), (.rs384, .rsa), (.rs512, .rsa), (.es256, .es256), (.es384, .es384): return true
        default: return false
        }
    }

    /// Why a key cannot sign with `algorithm`.
    static func mismatchProblem(_ algorithm: SigningAlgorithm) -> String {
        "the key cannot sign \(algorithm.rawValue) (RS* needs RSA, ES256 P-256, ES384 P-384)"
    }

    /// Checks that `pem` is a private key usable with `algorithm`; the problem in words otherwise.
    static func problem(pem: String, algorithm: SigningAlgorithm) -> String? {
        guard let key = Self(pem: pem) else { return Self.notAKeyProblem }
        return key.supports(algorithm) ? nil : Self.mismatchProblem(algorithm)
    }

    /// The `-----BEGIN … PRIVATE KEY-----` block of a PEM file, if it has one.
    static func privateKeyBlock(_ pem: String) -> String? {
        guard let begin = pem.range(of: #"-----BEGIN [A-Z ]*PRIVATE KEY-----"#, options: .regularExpression),
            let end = pem.range(
                of: #"-----END [A-Z ]*PRIVATE KEY-----"#,
                options: .regularExpression,
                range: begin.upperBound..<pem.endIndex
            )
        else { return nil }
        return String(pem[begin.lowerBound..<end.upperBound]) + "\n"
    }
}
