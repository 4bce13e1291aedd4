import Foundation
import Testing

@testable import AuthProbe

/// Files the configuration names: bounded in size, regular files only, UTF-8.
extension ConfigHardeningTests {
    // MARK: - Files: size, kind, encoding

    @Test func oversizedConfigFileIsRefusedUnread() throws {
        let scratch = try Scratch()
        let path = try scratch.write("big.yaml", "environments: []\n" + String(repeating: "#", count: 16 << 20))
        #expect(
            Self.errorLines(path, in: scratch) == ["big.yaml: (file): cannot read: is larger than the limit of 16 MiB"]
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
}
