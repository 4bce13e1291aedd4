import Foundation
import NIOSSL
import Testing

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
    /// certificate issued by (or equal to) that file's certificate (mutual TLS); with `maximumTLSVersion`, it
    /// speaks no later version (and any earlier one, down to TLS 1.0).
    func serverContext(clientCA: String? = nil, maximumTLSVersion: TLSVersion? = nil) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(self.certificateFile).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: self.keyFile, format: .pem))
        )
        if let maximumTLSVersion {
            configuration.minimumTLSVersion = .tlsv1
            configuration.maximumTLSVersion = maximumTLSVersion
        }
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

/// A root CA, an intermediate CA and a server certificate for 127.0.0.1, made with openssl; the server
/// presents the leaf and the intermediate, clients trust the root.
struct TestCertificateChain {
    let directory: URL
    var rootFile: String { self.directory.appendingPathComponent("root.pem").path }
    var intermediateFile: String { self.directory.appendingPathComponent("intermediate.pem").path }
    var leafFile: String { self.directory.appendingPathComponent("leaf.pem").path }
    var leafKeyFile: String { self.directory.appendingPathComponent("leaf.key").path }

    /// `intermediateDays: 0` makes an intermediate that expires the second it is made.
    static func make(intermediateDays: Int, leafDays: Int = 30) async throws -> TestCertificateChain {
        let directory = try Checkout.temporaryDirectory("chain")
        let chain = TestCertificateChain(directory: directory)
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        try "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
            .write(toFile: path("ca.ext"), atomically: true, encoding: .utf8)
        try "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
            .write(toFile: path("leaf.ext"), atomically: true, encoding: .utf8)
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        let steps: [[String]] = [
            ["req", "-x509"] + key + [
                "-keyout", path("root.key"), "-out", path("root.pem"), "-days", "3650", "-subj",
                "/CN=authprobe-test-root",
            ],
            ["req"] + key + [
                "-keyout", path("intermediate.key"), "-out", path("intermediate.csr"), "-subj",
                "/CN=authprobe-test-intermediate",
            ],
            [
                "x509", "-req", "-in", path("intermediate.csr"), "-CA", path("root.pem"), "-CAkey", path("root.key"),
                "-CAcreateserial", "-days", String(intermediateDays), "-extfile", path("ca.ext"), "-out",
                path("intermediate.pem"),
            ],
            ["req"] + key + ["-keyout", path("leaf.key"), "-out", path("leaf.csr"), "-subj", "/CN=127.0.0.1"],
            [
                "x509", "-req", "-in", path("leaf.csr"), "-CA", path("intermediate.pem"), "-CAkey",
                path("intermediate.key"),
                "-CAcreateserial", "-days", String(leafDays), "-extfile", path("leaf.ext"), "-out", path("leaf.pem"),
            ],
        ]
        for arguments in steps {
            let output = try await runCommand(URL(fileURLWithPath: "/usr/bin/openssl"), arguments)
            guard output.status == 0 else { throw CommandFailed(command: "openssl \(arguments[0])", output: output) }
        }
        return chain
    }

    /// A server context presenting the leaf and the intermediate.
    func serverContext() throws -> NIOSSLContext {
        let certificates =
            try NIOSSLCertificate.fromPEMFile(self.leafFile)
            + NIOSSLCertificate.fromPEMFile(self.intermediateFile)
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificates.map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: self.leafKeyFile, format: .pem))
        )
        return try NIOSSLContext(configuration: configuration)
    }

    static func notAfter(_ file: String) throws -> Date {
        let certificate = try #require(try NIOSSLCertificate.fromPEMFile(file).first)
        return Date(timeIntervalSince1970: TimeInterval(certificate.notValidAfter))
    }

    func remove() {
        try? FileManager.default.removeItem(at: self.directory)
    }
}
