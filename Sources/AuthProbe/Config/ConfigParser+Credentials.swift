import Foundation
import NIOSSL
import Yams

/// Credentials: client secrets (from `${VAR}` or a file), `private_key_jwt` signing keys and TLS client
/// certificates. Files are read through ``ConfigFileReader``; this part only judges what they hold.
extension ConfigParser {
    /// `private_key_file` (required), `key_id`, `signing_algorithm`, `assertion_audience` (when a URL, on the
    /// issuer's host or an allowed one, like the token endpoint it stands for).
    mutating func parseSigningKey(
        _ fields: [String: Node],
        node: Node,
        field: String,
        policy: EndpointPolicy?
    ) -> SigningKey? {
        guard let keyNode = fields["private_key_file"] else {
            self.fail(node, field: "\(field).private_key_file", "required with auth_method private_key_jwt")
            return nil
        }
        let keyField = "\(field).private_key_file"
        guard let (keyPath, pem) = self.secretFromFile(keyNode, field: keyField, limit: ConfigFileReader.Limit.pem)
        else { return nil }
        var algorithm = self.readSecrets ? pem.withRawValue { SigningKeyMaterial(pem: $0)?.defaultAlgorithm } : nil
        if let algorithmNode = fields["signing_algorithm"] {
            guard
                let named: SigningKey.Algorithm = self.choice(
                    algorithmNode,
                    field: "\(field).signing_algorithm",
                    kind: "algorithm"
                )
            else { return nil }
            algorithm = named
        }
        let problemField = fields["signing_algorithm"] != nil ? "signing_algorithm" : "private_key_file"
        if self.readSecrets {
            guard let algorithm else {
                // Never echo the file: it holds a private key.
                self.fail(keyNode, field: keyField, "\(keyPath): \(SigningKeyMaterial.notAKeyProblem)")
                return nil
            }
            if let problem = pem.withRawValue({ SigningKeyMaterial.problem(pem: $0, algorithm: algorithm) }) {
                self.fail(fields[problemField] ?? keyNode, field: "\(field).\(problemField)", problem)
                return nil
            }
        }
        // Unread, a key without signing_algorithm gets a placeholder: nothing is ever signed with it.
        var key = SigningKey(pem: pem, algorithm: algorithm ?? .rs256)
        key.keyID = fields["key_id"].flatMap { self.string($0, field: "\(field).key_id") }
        if let audienceNode = fields["assertion_audience"],
            let text = self.string(audienceNode, field: "\(field).assertion_audience")
        {
            if let refusal = policy?.assertionAudienceRefusal(text) {
                self.fail(audienceNode, field: "\(field).assertion_audience", refusal)
                return nil
            }
            key.audience = text
        }
        // A certificate kept in the same file says until when the key is valid.
        key.certificateNotAfter = pem.withRawValue { text in
            (try? NIOSSLCertificate.fromPEMBytes(Array(text.utf8)))?.first.map {
                Date(timeIntervalSince1970: TimeInterval($0.notValidAfter))
            }
        }
        return key
    }

    /// `tls_client_certificate_file` and `tls_client_key_file`: both or neither, both loadable now.
    mutating func parseClientCertificate(
        _ fields: [String: Node],
        node: Node,
        field: String
    ) -> ClientCertificate? {
        let certificateNode = fields["tls_client_certificate_file"]
        let keyNode = fields["tls_client_key_file"]
        switch (certificateNode, keyNode) {
        case (nil, nil):
            return nil
        case (.some, nil):
            self.fail(node, field: "\(field).tls_client_key_file", "required with tls_client_certificate_file")
            return nil
        case (nil, .some(let keyNode)):
            self.fail(keyNode, field: "\(field).tls_client_certificate_file", "required with tls_client_key_file")
            return nil
        case (.some(let certificateNode), .some(let keyNode)):
            let certificateField = "\(field).tls_client_certificate_file"
            let keyField = "\(field).tls_client_key_file"
            guard
                let (certificateFile, certificateBytes) = self.readFile(
                    certificateNode,
                    field: certificateField,
                    limit: ConfigFileReader.Limit.pem
                )
            else { return nil }
            // The key is a secret: without readSecrets only its path is checked.
            let keyFile: String
            var keyBytes: [UInt8]?
            if self.readSecrets {
                guard let (path, bytes) = self.readFile(keyNode, field: keyField, limit: ConfigFileReader.Limit.pem)
                else { return nil }
                (keyFile, keyBytes) = (path, bytes)
            } else {
                guard let path = self.filePath(keyNode, field: keyField, keepUnset: true) else { return nil }
                keyFile = path
            }
            guard let first = (try? NIOSSLCertificate.fromPEMBytes(certificateBytes))?.first else {
                self.fail(certificateNode, field: certificateField, "\(certificateFile): not a PEM certificate")
                return nil
            }
            if let keyBytes, (try? NIOSSLPrivateKey(bytes: keyBytes, format: .pem)) == nil {
                // Never echo the file: it holds a private key.
                self.fail(keyNode, field: keyField, "\(keyFile): not an unencrypted PEM private key")
                return nil
            }
            let notAfter = Date(timeIntervalSince1970: TimeInterval(first.notValidAfter))
            return ClientCertificate(certificateFile: certificateFile, keyFile: keyFile, notAfter: notAfter)
        }
    }

    // MARK: - Secrets

    mutating func parseSecret(_ fields: [String: Node], node: Node, field: String) -> Secret? {
        switch (fields["client_secret"], fields["client_secret_file"]) {
        case (nil, nil):
            self.fail(node, field: "\(field).client_secret", "required (a ${ENV_VAR} reference, or client_secret_file)")
            return nil
        case (.some(let secretNode), .some):
            self.fail(
                secretNode,
                field: "\(field).client_secret",
                "set either client_secret or client_secret_file, not both"
            )
            return nil
        case (.some(let secretNode), nil):
            return self.secretFromVariable(secretNode, field: "\(field).client_secret")
        case (nil, .some(let fileNode)):
            return self.secretFromFile(
                fileNode,
                field: "\(field).client_secret_file",
                limit: ConfigFileReader.Limit.secret
            )?.secret
        }
    }

    mutating func secretFromVariable(_ node: Node, field: String) -> Secret? {
        guard let text = self.string(node, field: field) else { return nil }
        guard let name = Self.variableReference(text) else {
            // Never echo the value: it may be a real secret pasted into the file.
            self.fail(
                node,
                field: field,
                "must be a ${ENV_VAR} reference; literal secrets are not accepted (or use client_secret_file)"
            )
            return nil
        }
        guard self.readSecrets else { return Self.unreadSecret }
        guard let value = self.environment[name] else {
            self.fail(node, field: field, "environment variable \(name) is not set")
            return nil
        }
        if value.isEmpty {
            self.fail(node, field: field, "environment variable \(name) is empty")
            return nil
        }
        return Secret(value)
    }

    /// `path` resolved against the configuration file's directory.
    func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: self.baseDirectory).appendingPathComponent(path).path
    }

    /// The path a file key names: each `${VAR}` replaced from the environment (an unset variable is an error
    /// naming it), then resolved against the configuration file's directory.
    mutating func filePath(_ node: Node, field: String, keepUnset: Bool = false) -> String? {
        guard let text = self.string(node, field: field),
            let expanded = self.expandVariables(text, node: node, field: field, keepUnset: keepUnset)
        else { return nil }
        return self.resolve(expanded)
    }

    /// The resolved path of a file that must be readable now (not at the first probe), within `limit` bytes.
    mutating func readablePath(_ node: Node, field: String, limit: Int) -> String? {
        guard let resolved = self.filePath(node, field: field) else { return nil }
        if let failure = self.reader.readabilityProblem(atPath: resolved, limit: limit) {
            self.fail(node, field: field, "cannot read \(resolved): \(failure)")
            return nil
        }
        return resolved
    }

    /// The resolved path and the bytes of a file of at most `limit` bytes.
    mutating func readFile(_ node: Node, field: String, limit: Int) -> (String, [UInt8])? {
        guard let resolved = self.filePath(node, field: field) else { return nil }
        switch self.reader.bytes(atPath: resolved, limit: limit) {
        case .success(let bytes):
            return (resolved, bytes)
        case .failure(let failure):
            self.fail(node, field: field, "cannot read \(resolved): \(failure)")
            return nil
        }
    }

    /// The resolved path of a UTF-8 file of at most `limit` bytes and the secret it holds (without its
    /// trailing newline).
    /// Without ``readSecrets`` only the path is checked (its variables may be unset) and the secret is
    /// ``unreadSecret``.
    mutating func secretFromFile(_ node: Node, field: String, limit: Int) -> (path: String, secret: Secret)? {
        guard self.readSecrets else {
            return self.filePath(node, field: field, keepUnset: true).map { ($0, Self.unreadSecret) }
        }
        guard let resolved = self.filePath(node, field: field) else { return nil }
        let contents: String
        switch self.reader.text(atPath: resolved, limit: limit) {
        case .success(let text):
            contents = text
        case .failure(let failure):
            self.fail(node, field: field, "cannot read \(resolved): \(failure)")
            return nil
        }
        // Files written by `echo` or secret managers end with a newline that is not part of the secret.
        let value = contents.trimmingCharacters(in: .newlines)
        if value.isEmpty {
            self.fail(node, field: field, "\(resolved) is empty")
            return nil
        }
        return (resolved, Secret(value))
    }
}
