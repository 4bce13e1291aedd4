import Foundation
import Testing

@testable import AuthProbe

/// `${VAR}` in file paths, and checking a configuration without its secrets.
extension ConfigHardeningTests {
    // MARK: - ${VAR} in file paths

    @Test func variablesExpandInEveryFilePath() throws {
        let scratch = try Scratch()
        try scratch.write("prod-secret", "file-s3cr3t-789\n")
        try scratch.write("ca.pem", "-----BEGIN CERTIFICATE-----\n")
        let path = try scratch.write(
            "config.yaml",
            """
            environments:
              - name: cat
                issuer: https://cat.example.com/oidc/
                ca_file: ${CREDENTIALS_DIRECTORY}/ca.pem
                clients:
                  - name: reporting
                    client_id: reporting-client
                    client_secret_file: ${CREDENTIALS_DIRECTORY}/prod-secret
                  - name: payments
                    client_id: payments-client
                    auth_method: private_key_jwt
                    private_key_file: ${KEYS}/signing-ec.pem
                  - name: statements
                    client_id: statements-client
                    auth_method: tls_client_auth
                    tls_client_certificate_file: ${KEYS}/client-ec.crt
                    tls_client_key_file: ${KEYS}/client-ec.key

            """
        )
        let keys = ConfigLoaderTests.fixtures.appendingPathComponent("valid/keys").path
        let environment = ["CREDENTIALS_DIRECTORY": scratch.directory.path, "KEYS": keys]
        let config = try ConfigLoader(environment: environment).load(path: path)
        let cat = try #require(config.environments.first)
        #expect(cat.caFile == scratch.path("ca.pem"))
        #expect(cat.clients[0].secret?.withRawValue { $0 } == "file-s3cr3t-789")
        #expect(cat.clients[1].signingKey?.algorithm == .es256)
        #expect(cat.clients[2].tlsClientCertificate?.certificateFile == keys + "/client-ec.crt")
        #expect(cat.clients[2].tlsClientCertificate?.keyFile == keys + "/client-ec.key")
    }

    @Test func unsetVariableInAFilePathIsNamed() throws {
        let scratch = try Scratch()
        let path = try scratch.write(
            "config.yaml",
            Self.config(secretFile: "${CREDENTIALS_DIRECTORY}/prod-secret")
                + "    ca_file: ${CA_DIRECTORY}/ca.pem\n"
        )
        #expect(
            Self.errorLines(path, in: scratch, environment: [:]) == [
                "config.yaml:8: environments[0].ca_file: environment variable CA_DIRECTORY is not set",
                "config.yaml:7: environments[0].clients[0].client_secret_file: "
                    + "environment variable CREDENTIALS_DIRECTORY is not set",
            ]
        )
    }

    // MARK: - check-config --no-secrets

    /// Four clients whose secrets are all missing here: an unset variable, a secret file behind an unset
    /// variable, a missing private key, a missing TLS client key (its certificate exists).
    static func configWithoutSecrets(keys: String) -> String {
        """
        environments:
          - name: cat
            issuer: https://cat.example.com/oidc/
            clients:
              - name: from-file
                client_id: from-file-client
                client_secret_file: ${CREDENTIALS_DIRECTORY}/missing-secret
              - name: from-variable
                client_id: from-variable-client
                client_secret: ${SECRET_NOT_SET_HERE}
              - name: signing
                client_id: signing-client
                auth_method: private_key_jwt
                private_key_file: keys/missing.pem
                signing_algorithm: ES256
              - name: mtls
                client_id: mtls-client
                auth_method: tls_client_auth
                tls_client_certificate_file: \(keys)/client-ec.crt
                tls_client_key_file: /nonexistent/client-ec.key

        """
    }

    static var keys: String { ConfigLoaderTests.fixtures.appendingPathComponent("valid/keys").path }

    @Test func noSecretsValidatesTheShapeWithoutSecretFiles() throws {
        let scratch = try Scratch()
        let path = try scratch.write("config.yaml", Self.configWithoutSecrets(keys: Self.keys))
        let config = try ConfigLoader(environment: [:], readSecrets: false).load(path: path)
        let clients = try #require(config.environments.first).clients
        #expect(clients.map(\.name) == ["from-file", "from-variable", "signing", "mtls"])
        #expect(clients[0].secret == ConfigParser.unreadSecret)
        #expect(clients[1].secret == ConfigParser.unreadSecret)
        #expect(clients[2].signingKey?.algorithm == .es256)
        #expect(clients[3].tlsClientCertificate?.keyFile == "/nonexistent/client-ec.key")

        // Reading secrets, the same file has four problems.
        #expect(
            Self.errorLines(path, in: scratch, environment: [:]) == [
                "config.yaml:7: environments[0].clients[0].client_secret_file: "
                    + "environment variable CREDENTIALS_DIRECTORY is not set",
                "config.yaml:10: environments[0].clients[1].client_secret: "
                    + "environment variable SECRET_NOT_SET_HERE is not set",
                "config.yaml:14: environments[0].clients[2].private_key_file: cannot read keys/missing.pem: "
                    + "no such file",
                "config.yaml:20: environments[0].clients[3].tls_client_key_file: "
                    + "cannot read /nonexistent/client-ec.key: no such file",
            ]
        )
    }

    @Test func noSecretsStillChecksEverythingElse() throws {
        let scratch = try Scratch()
        let path = try scratch.write(
            "config.yaml",
            """
            environments:
              - name: cat
                issuer: https://cat.example.com/oidc/
                clients:
                  - name: reporting
                    client_id: reporting-client
                    client_secret: hunter2-literal-value
                  - name: billing
                    client_id: billing-client
                    client_secret_file: secrets/${BAD-NAME}
                    scopes: read

            """
        )
        do {
            _ = try ConfigLoader(environment: [:], readSecrets: false).load(path: path)
            Issue.record("the configuration loaded, but it is invalid")
        } catch let error as ConfigValidationError {
            #expect(
                error.errors.map(\.description).map {
                    $0.replacingOccurrences(of: scratch.directory.path + "/", with: "")
                }
                    == [
                        "config.yaml:7: environments[0].clients[0].client_secret: must be a ${ENV_VAR} reference; "
                            + "literal secrets are not accepted (or use client_secret_file)",
                        "config.yaml:11: environments[0].clients[1].scopes: unknown key (expected one of: "
                            + ConfigLoaderTests.clientKeys + ")",
                        "config.yaml:10: environments[0].clients[1].client_secret_file: invalid variable name "
                            + "\"BAD-NAME\"",
                    ]
            )
        }
    }

    @Test func checkConfigNoSecretsFlag() async throws {
        let scratch = try Scratch()
        let path = try scratch.write("config.yaml", Self.configWithoutSecrets(keys: Self.keys))
        let checked = try await runCommand(
            Checkout.authprobeBinary,
            ["check-config", "--no-secrets", "--config", path]
        )
        #expect(checked.status == 0, "\(checked.stderr)")
        #expect(checked.stdout == "\(path): ok (1 environments, 4 clients; secrets not read)\n")
        let full = try await runCommand(Checkout.authprobeBinary, ["check-config", "--config", path])
        #expect(full.status == 1)
        #expect(full.stderr.split(separator: "\n").count == 4, "\(full.stderr)")
    }
}
