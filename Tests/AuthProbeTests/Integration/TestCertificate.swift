import Foundation
import NIOSSL

/// A self-signed certificate made with openssl for a loopback TLS server; it is also the CA file to trust.
struct TestCertificate {
    let directory: URL
    var certificateFile: String { self.directory.appendingPathComponent("cert.pem").path }
    var keyFile: String { self.directory.appendingPathComponent("key.pem").path }

    /// `subjectAltName` such as `IP:127.0.0.1` or `DNS:elsewhere.test`.
    static func make(subjectAltName: String) async throws -> TestCertificate {
        let directory = try Checkout.temporaryDirectory("cert")
        let certificate = TestCertificate(directory: directory)
        let output = try await runCommand(
            URL(fileURLWithPath: "/usr/bin/openssl"),
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", certificate.keyFile, "-out", certificate.certificateFile, "-days", "2",
                "-subj", "/CN=authprobe-test", "-addext", "subjectAltName=\(subjectAltName)",
            ]
        )
        guard output.status == 0 else { throw CommandFailed(command: "openssl req", output: output) }
        return certificate
    }

    /// A server context presenting this certificate; with `clientCA`, it also demands a client
    /// certificate issued by (or equal to) that file's certificate (mutual TLS).
    func serverContext(clientCA: String? = nil) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(self.certificateFile).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: self.keyFile, format: .pem))
        )
        if let clientCA {
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = .file(clientCA)
        }
        return try NIOSSLContext(configuration: configuration)
    }

    func remove() {
        try? FileManager.default.removeItem(at: self.directory)
    }
}
