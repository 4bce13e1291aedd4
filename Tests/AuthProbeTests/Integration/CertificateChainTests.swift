import AuthProbe
import AuthProbeTesting
import Foundation
import Testing

/// The certificate expiry authprobe reports is the earliest of the verified chain, and a failed chain is
/// named by the certificate that broke it.
@Suite("TLS certificate chain")
struct CertificateChainTests {
    static func get(_ chain: TestCertificateChain, caFile: String?) async throws -> HTTPExchange {
        let body = "{}"
        let response = "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        let server = try await RawTCPServer.start(script: [.send(Array(response.utf8))], tls: try chain.serverContext())
        return try await PhaseDelayTests.get(server, scheme: "https", caFile: caFile)
    }

    @Test("the expiry is the intermediate's when it ends before the server certificate")
    func earliestNotAfter() async throws {
        let chain = try await TestCertificateChain.make(intermediateDays: 5, leafDays: 30)
        defer { chain.remove() }
        let exchange = try await Self.get(chain, caFile: chain.rootFile)
        guard case .success = exchange.result else {
            Issue.record("\(exchange.result)")
            return
        }
        let intermediate = try TestCertificateChain.notAfter(chain.intermediateFile)
        #expect(exchange.certificateNotAfter == intermediate)
        #expect(try intermediate < TestCertificateChain.notAfter(chain.leafFile))
    }

    @Test("an expired intermediate is tls_certificate_expired, named as the intermediate")
    func expiredIntermediate() async throws {
        let chain = try await TestCertificateChain.make(intermediateDays: 0)
        defer { chain.remove() }
        try await Task.sleep(for: .seconds(1.1))
        let exchange = try await Self.get(chain, caFile: chain.rootFile)
        guard case .failure(let failure) = exchange.result else {
            Issue.record("a chain with an expired intermediate was accepted")
            return
        }
        #expect(failure.outcome == .tlsCertificateExpired, "\(failure.detail)")
        #expect(failure.detail.hasPrefix("TLS: an intermediate CA certificate expired at "), "\(failure.detail)")
    }

    @Test("without the root, the same chain is untrusted")
    func untrusted() async throws {
        let chain = try await TestCertificateChain.make(intermediateDays: 5)
        defer { chain.remove() }
        let exchange = try await Self.get(chain, caFile: nil)
        guard case .failure(let failure) = exchange.result else {
            Issue.record("a chain to an unknown root was accepted")
            return
        }
        #expect(failure.outcome == .tlsCertificateUntrusted, "\(failure.detail)")
    }
}
