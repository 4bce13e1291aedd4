import Foundation
import Testing

@testable import AuthProbe

/// What a hostile or broken configuration cannot do: expand exponentially, exhaust the stack, make authprobe
/// read a huge or endless file, or bury the first problems under thousands of lines.
///
/// Every fixture is written at test time into a fresh temporary directory.
@Suite struct ConfigHardeningTests {
    /// A temporary directory for one test's files, removed when the test ends.
    final class Scratch {
        let directory: URL

        init() throws {
            self.directory = FileManager.default.temporaryDirectory
                .appendingPathComponent("config-hardening-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: self.directory, withIntermediateDirectories: true)
        }

        deinit { try? FileManager.default.removeItem(at: self.directory) }

        func path(_ name: String) -> String { self.directory.appendingPathComponent(name).path }

        /// Writes `bytes` to `name` and returns its path.
        @discardableResult
        func write(_ name: String, bytes: [UInt8]) throws -> String {
            try Data(bytes).write(to: self.directory.appendingPathComponent(name))
            return self.path(name)
        }

        /// Writes `text` to `name` and returns its path.
        @discardableResult
        func write(_ name: String, _ text: String) throws -> String {
            try self.write(name, bytes: Array(text.utf8))
        }
    }

    /// The `check-config` lines for `path`, with the scratch directory removed from them.
    static func errorLines(
        _ path: String,
        in scratch: Scratch,
        environment: [String: String] = ConfigLoaderTests.environment
    ) -> [String] {
        do {
            _ = try ConfigLoader(environment: environment).load(path: path)
            Issue.record("\(path) loaded, but it is invalid")
            return []
        } catch let error as ConfigValidationError {
            return error.errors.map { $0.description.replacingOccurrences(of: scratch.directory.path + "/", with: "") }
        } catch {
            Issue.record("\(path) threw \(error), not a ConfigValidationError")
            return []
        }
    }

    /// One environment with one client whose secret comes from `secretFile`.
    static func config(secretFile: String) -> String {
        """
        environments:
          - name: cat
            issuer: https://cat.example.com/oidc/
            clients:
              - name: reporting
                client_id: reporting-client
                client_secret_file: \(secretFile)

        """
    }

    // MARK: - YAML anchors, aliases, nesting, size

    /// Ten lists, each of ten aliases of the previous one: 10^10 scalars if expanded.
    static let stackedAliases: String = {
        var lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for level in 1...9 {
            let previous = Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ")
            lines.append("a\(level): &a\(level) [\(previous)]")
        }
        return lines.joined(separator: "\n") + "\n"
    }()

    @Test(arguments: [
        // The stacked aliases as the value of a known key.
        ConfigHardeningTests.stackedAliases + "environments: *a9\n",
        // ... and as a mapping key, which composing would hash whole.
        ConfigHardeningTests.stackedAliases + "? *a9\n: key\nenvironments: []\n",
    ])
    func stackedAliasesFailFast(_ yaml: String) throws {
        let scratch = try Scratch()
        let path = try scratch.write("laughs.yaml", yaml)
        var lines: [String] = []
        let elapsed = ContinuousClock().measure { lines = Self.errorLines(path, in: scratch) }
        #expect(lines == ["laughs.yaml:1: (yaml): YAML anchors and aliases are not supported"])
        #expect(elapsed < .seconds(1))
    }

    @Test func aliasAsMappingKeyIsRefusedAtItsLine() throws {
        let scratch = try Scratch()
        let path = try scratch.write(
            "alias-key.yaml",
            """
            environments:
              - name: cat
                issuer: https://cat.example.com/oidc/
                clients:
                  - name: reporting
                    ? *client
                    : reporting-client

            """
        )
        #expect(
            Self.errorLines(path, in: scratch) == [
                "alias-key.yaml:6: (yaml): YAML anchors and aliases are not supported"
            ]
        )
    }

    @Test func anchorAndMergeKeyAreRefusedAtTheAnchor() throws {
        let scratch = try Scratch()
        let path = try scratch.write(
            "merge.yaml",
            """
            defaults: &defaults
              interval: 30s
            environments:
              - <<: *defaults
                name: cat
                issuer: https://cat.example.com/oidc/

            """
        )
        #expect(
            Self.errorLines(path, in: scratch) == ["merge.yaml:1: (yaml): YAML anchors and aliases are not supported"]
        )
    }

    /// Ways of nesting 5,000 levels deep in a few kilobytes.
    enum DeepNesting: String, CaseIterable {
        case flowLists, blockLists, flowMappings

        var yaml: String {
            switch self {
            case .flowLists:
                return "environments: " + String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)
            case .blockLists:
                return "environments:\n" + String(repeating: "- ", count: 5_000) + "x\n"
            case .flowMappings:
                return "environments: " + String(repeating: "{a: ", count: 5_000) + "x"
                    + String(repeating: "}", count: 5_000)
            }
        }
    }

    @Test(arguments: DeepNesting.allCases)
    func deepNestingIsAnErrorNotAStackOverflow(_ nesting: DeepNesting) throws {
        let scratch = try Scratch()
        let path = try scratch.write("deep.yaml", nesting.yaml)
        let line = nesting == .blockLists ? 2 : 1
        #expect(Self.errorLines(path, in: scratch) == ["deep.yaml:\(line): (yaml): nested deeper than 64 levels"])
    }

    @Test func tooManyNodesAreRefused() throws {
        let scratch = try Scratch()
        let path = try scratch.write(
            "wide.yaml",
            "environments: [" + String(repeating: "x, ", count: 100_001) + "x]\n"
        )
        #expect(Self.errorLines(path, in: scratch) == ["wide.yaml:1: (yaml): more than 100000 YAML nodes"])
    }

    @Test func oversizedTextIsRefusedBeforeParsing() {
        let yaml = "environments: []\n" + String(repeating: "#", count: 1 << 20)
        #expect(throws: ConfigValidationError.self) {
            try ConfigLoader(environment: [:]).parse(yaml: yaml, file: "big.yaml", baseDirectory: "/")
        }
        do {
            _ = try ConfigLoader(environment: [:]).parse(yaml: yaml, file: "big.yaml", baseDirectory: "/")
        } catch let error as ConfigValidationError {
            #expect(error.description == "big.yaml: (yaml): larger than the limit of 1 MiB")
        } catch {
            Issue.record("threw \(error)")
        }
    }

    // MARK: - Files: size, kind, encoding

    @Test func oversizedConfigFileIsRefusedUnread() throws {
        let scratch = try Scratch()
        let path = try scratch.write("big.yaml", "environments: []\n" + String(repeating: "#", count: 1 << 20))
        #expect(
            Self.errorLines(path, in: scratch) == ["big.yaml: (file): cannot read: is larger than the limit of 1 MiB"]
        )
    }

    @Test func oversizedSecretFileIsRefused() throws {
        let scratch = try Scratch()
        try scratch.write("big-secret", String(repeating: "s", count: (64 << 10) + 1))
        try scratch.write("secret", String(repeating: "s", count: 64 << 10))
        let path = try scratch.write("config.yaml", Self.config(secretFile: "big-secret"))
        #expect(
            Self.errorLines(path, in: scratch) == [
                "config.yaml:7: environments[0].clients[0].client_secret_file: cannot read big-secret: "
                    + "is larger than the limit of 64 KiB"
            ]
        )
        // Exactly at the limit is fine.
        let fits = try scratch.write("fits.yaml", Self.config(secretFile: "secret"))
        let config = try ConfigLoader(environment: [:]).load(path: fits)
        #expect(config.environments[0].clients[0].secret?.withRawValue(\.count) == 64 << 10)
    }

    /// A sparse 3 GiB file costs nothing on disk; reading it whole would cost 3 GiB of memory.
    @Test func hugeSecretFileIsRefusedWithoutReadingIt() throws {
        let scratch = try Scratch()
        let huge = try scratch.write("huge-secret", "")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: huge))
        try handle.truncate(atOffset: 3 << 30)
        try handle.close()
        let path = try scratch.write("config.yaml", Self.config(secretFile: "huge-secret"))
        var lines: [String] = []
        let elapsed = ContinuousClock().measure { lines = Self.errorLines(path, in: scratch) }
        #expect(
            lines == [
                "config.yaml:7: environments[0].clients[0].client_secret_file: cannot read huge-secret: "
                    + "is larger than the limit of 64 KiB"
            ]
        )
        #expect(elapsed < .seconds(1))
    }

    @Test func oversizedKeyFileIsRefused() throws {
        let scratch = try Scratch()
        try scratch.write("big.pem", String(repeating: "k", count: (1 << 20) + 1))
        let path = try scratch.write(
            "config.yaml",
            """
            environments:
              - name: cat
                issuer: https://cat.example.com/oidc/
                clients:
                  - name: payments
                    client_id: payments-client
                    auth_method: private_key_jwt
                    private_key_file: big.pem

            """
        )
        #expect(
            Self.errorLines(path, in: scratch) == [
                "config.yaml:8: environments[0].clients[0].private_key_file: cannot read big.pem: "
                    + "is larger than the limit of 1 MiB"
            ]
        )
    }

    /// A FIFO, a device and a directory where a secret file belongs: named as such, never opened.
    @Test func specialFilesAreNamedNotOpened() throws {
        let scratch = try Scratch()
        let fifo = scratch.path("secret-fifo")
        try #require(mkfifo(fifo, 0o600) == 0)
        try FileManager.default.createDirectory(atPath: scratch.path("secrets"), withIntermediateDirectories: false)
        let cases = [
            ("secret-fifo", "secret-fifo: is a FIFO, not a regular file"),
            ("/dev/zero", "/dev/zero: is a device, not a regular file"),
            ("secrets", "secrets: is a directory, not a regular file"),
        ]
        for (secretFile, problem) in cases {
            let path = try scratch.write("config.yaml", Self.config(secretFile: secretFile))
            var lines: [String] = []
            let elapsed = ContinuousClock().measure { lines = Self.errorLines(path, in: scratch) }
            #expect(lines == ["config.yaml:7: environments[0].clients[0].client_secret_file: cannot read \(problem)"])
            #expect(elapsed < .seconds(1))
        }
    }

    @Test func specialFilesAsTheConfigurationAreNamed() throws {
        let scratch = try Scratch()
        let fifo = scratch.path("config-fifo")
        try #require(mkfifo(fifo, 0o600) == 0)
        #expect(
            Self.errorLines(fifo, in: scratch) == ["config-fifo: (file): cannot read: is a FIFO, not a regular file"]
        )
        #expect(
            Self.errorLines("/dev/zero", in: scratch) == [
                "/dev/zero: (file): cannot read: is a device, not a regular file"
            ]
        )
        #expect(
            Self.errorLines(scratch.directory.path, in: scratch) == [
                "\(scratch.directory.path): (file): cannot read: is a directory, not a regular file"
            ]
        )
    }

    @Test func directoryAsCAFileIsNamed() throws {
        let scratch = try Scratch()
        try FileManager.default.createDirectory(atPath: scratch.path("certs"), withIntermediateDirectories: false)
        let path = try scratch.write(
            "config.yaml",
            """
            environments:
              - name: cat
                issuer: https://cat.example.com/oidc/
                ca_file: certs

            """
        )
        #expect(
            Self.errorLines(path, in: scratch) == [
                "config.yaml:4: environments[0].ca_file: cannot read certs: is a directory, not a regular file"
            ]
        )
    }

    @Test func nonUTF8ByteIsReportedWithItsLine() throws {
        let scratch = try Scratch()
        var bytes = Array(Self.config(secretFile: "secret").utf8)
        // Line 7 is the client_secret_file line: a Latin-1 "é" in the file name.
        let lineStart = bytes.indices.filter { bytes[$0] == 0x0A }[5] + 1
        bytes.insert(0xE9, at: lineStart + 10)
        let path = try scratch.write("latin1.yaml", bytes: bytes)
        #expect(Self.errorLines(path, in: scratch) == ["latin1.yaml:7: (file): not valid UTF-8"])
    }

    @Test func nonUTF8SecretFileIsRefused() throws {
        let scratch = try Scratch()
        try scratch.write("secret", bytes: [0x73, 0xFF, 0x73, 0x0A])
        let path = try scratch.write("config.yaml", Self.config(secretFile: "secret"))
        #expect(
            Self.errorLines(path, in: scratch) == [
                "config.yaml:7: environments[0].clients[0].client_secret_file: cannot read secret: not valid UTF-8"
            ]
        )
    }

    @Test func invalidUTF8LineFindsTheFirstBadLine() {
        #expect(ConfigFileReader.invalidUTF8Line(Array("a\nb\nc".utf8)) == nil)
        #expect(ConfigFileReader.invalidUTF8Line(Array("é\n€\n😀".utf8)) == nil)
        #expect(ConfigFileReader.invalidUTF8Line([0x61, 0x0A, 0xC3]) == 2)  // truncated sequence
        #expect(ConfigFileReader.invalidUTF8Line([0xC0, 0xAF]) == 1)  // overlong "/"
        #expect(ConfigFileReader.invalidUTF8Line([0x0A, 0x0A, 0xED, 0xA0, 0x80]) == 3)  // surrogate
    }

    // MARK: - Error output

    @Test func fiftyErrorsPrintTwentyAndACount() throws {
        let scratch = try Scratch()
        // Fifty environments without an issuer: one error each.
        let environments = (0..<50).map { "  - name: e\($0)" }.joined(separator: "\n")
        let path = try scratch.write("many.yaml", "environments:\n" + environments + "\n")
        let error = try #require(throws: ConfigValidationError.self) {
            try ConfigLoader(environment: [:]).load(path: path)
        }
        #expect(error.errors.count == 50)
        let lines = error.description.replacingOccurrences(of: scratch.directory.path + "/", with: "")
            .split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 21)
        #expect(lines.first == "many.yaml:2: environments[0].issuer: required")
        #expect(lines[19] == "many.yaml:21: environments[19].issuer: required")
        #expect(lines.last == "… and 30 more errors")
    }

    @Test func twentyErrorsPrintNoCountAndTwentyOneSayOneMore() {
        let error = ConfigError(file: "f.yaml", line: 1, field: "x", problem: "p")
        let twenty = ConfigValidationError(errors: Array(repeating: error, count: 20)).description
        #expect(twenty.split(separator: "\n").count == 20)
        #expect(!twenty.contains("more"))
        let twentyOne = ConfigValidationError(errors: Array(repeating: error, count: 21)).description
        #expect(twentyOne.hasSuffix("\n… and 1 more error"))
    }

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
