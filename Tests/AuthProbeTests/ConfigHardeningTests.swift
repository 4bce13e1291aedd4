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
        ConfigLoaderTests.errorLines(loading: path, relativeTo: scratch.directory.path, environment: environment)
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
            "environments: [" + String(repeating: "x, ", count: 1_000_001) + "x]\n"
        )
        #expect(Self.errorLines(path, in: scratch) == ["wide.yaml:1: (yaml): more than 1000000 YAML nodes"])
    }

    @Test func oversizedTextIsRefusedBeforeParsing() {
        let yaml = "environments: []\n" + String(repeating: "#", count: 16 << 20)
        #expect(throws: ConfigValidationError.self) {
            try ConfigLoader(environment: [:]).parse(yaml: yaml, file: "big.yaml", baseDirectory: "/")
        }
        do {
            _ = try ConfigLoader(environment: [:]).parse(yaml: yaml, file: "big.yaml", baseDirectory: "/")
        } catch let error as ConfigValidationError {
            #expect(error.description == "big.yaml: (yaml): larger than the limit of 16 MiB")
        } catch {
            Issue.record("threw \(error)")
        }
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
}
