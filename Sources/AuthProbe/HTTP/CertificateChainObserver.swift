import Foundation
import NIOSSL

/// Watches BoringSSL verify the server's certificate chain, one certificate at a time, so that authprobe
/// knows the chain it actually verified (trust anchor and intermediates included, not only the leaf) and,
/// when verification fails, which certificate failed and why.
///
/// It observes and never changes a verdict: BoringSSL's verification stays the one that counts.
final class CertificateChainObserver {
    /// Certificates in the order BoringSSL verified them: the trust anchor (or the topmost certificate
    /// found) first, the server's own certificate last.
    private(set) var chain: [NIOSSLCertificate] = []
    /// The certificates BoringSSL refused, in the same order.
    private(set) var refused: [NIOSSLCertificate] = []

    func observe(_ result: NIOSSLVerificationResult, _ certificate: NIOSSLCertificate) -> NIOSSLVerificationResult {
        if !self.chain.contains(certificate) { self.chain.append(certificate) }
        if result == .failed, !self.refused.contains(certificate) { self.refused.append(certificate) }
        return result
    }

    /// The earliest `notAfter` of the verified chain: when the first of its certificates runs out.
    var earliestNotAfter: Date? {
        self.chain.map(Self.notAfter).min()
    }

    /// Why verification failed, from the certificate that failed: expired, not yet valid, or untrusted.
    /// `leaf` is the server's own certificate (BoringSSL stops before it when a CA above it fails).
    func failure(leaf: NIOSSLCertificate?, now: Date) -> TransportFailure {
        let formatter = ISO8601DateFormatter()
        // Dates first, for any certificate of the chain: an expired intermediate breaks the chain as surely as
        // an expired leaf, and BoringSSL may also report the leaf above it as failed.
        for certificate in self.refused + self.chain + (leaf.map { [$0] } ?? []) {
            let notAfter = Self.notAfter(certificate)
            if notAfter < now {
                return TransportFailure(
                    outcome: .tlsCertificateExpired,
                    detail: "TLS: \(self.role(certificate, leaf: leaf)) expired at \(formatter.string(from: notAfter))"
                )
            }
            let notBefore = Date(timeIntervalSince1970: TimeInterval(certificate.notValidBefore))
            if notBefore > now {
                return TransportFailure(
                    outcome: .tlsError,
                    detail:
                        "TLS: \(self.role(certificate, leaf: leaf)) is not valid before \(formatter.string(from: notBefore))"
                )
            }
        }
        return TransportFailure(
            outcome: .tlsCertificateUntrusted,
            detail: "TLS: the server certificate does not chain to a trusted CA (set ca_file for a private CA)"
        )
    }

    /// How a detail names a certificate of the chain.
    private func role(_ certificate: NIOSSLCertificate, leaf: NIOSSLCertificate?) -> String {
        if certificate == (leaf ?? self.chain.last) { return "the server certificate" }
        if certificate == self.chain.first { return "the CA certificate at the top of the chain" }
        return "an intermediate CA certificate"
    }

    static func notAfter(_ certificate: NIOSSLCertificate) -> Date {
        Date(timeIntervalSince1970: TimeInterval(certificate.notValidAfter))
    }
}

/// NIOSSL's per-certificate verification callback (BoringSSL's verify callback) is marked deprecated in
/// favour of callbacks that replace BoringSSL's verification altogether; authprobe only wants to watch
/// BoringSSL verify. Reaching the initializer through this protocol keeps the choice in one place.
protocol ObservingClientHandler {
    init(context: NIOSSLContext, serverHostname: String?, verificationCallback: NIOSSLVerificationCallback?) throws
}

extension NIOSSLClientHandler: ObservingClientHandler {}

extension CertificateChainObserver {
    /// A client handler for `context` whose chain verification this observer watches.
    func clientHandler(context: NIOSSLContext, serverHostname: String?) throws -> NIOSSLClientHandler {
        let type: any ObservingClientHandler.Type = NIOSSLClientHandler.self
        let handler = try type.init(context: context, serverHostname: serverHostname) { result, certificate in
            self.observe(result, certificate)
        }
        guard let clientHandler = handler as? NIOSSLClientHandler else {
            preconditionFailure("NIOSSLClientHandler.init returned another type")
        }
        return clientHandler
    }
}
