import AuthProbe
import AuthProbeTesting
import Foundation
import GRDB
import JWTKit
import Testing

/// A provider reflecting the client secret — in any of the ways real providers have — never gets it into a
/// step's detail or notes, the SQLite file, the log, `probe` output or /metrics; and a short or common secret
/// neither mangles the classification nor shows where it stood.
@Suite("Echoed-credential hygiene")
struct EchoHygieneTests {
    /// A distinctive secret, a one-letter one, a common word, a lone quote, and a non-ASCII one.
    static let secrets = ["echo-secret-Vx7+/ :%", "e", "error", "\"", "pässwörd-Ω"]
    /// The secrets too short or common to search for: provider text is withheld for them.
    static let withheld: Set<String> = ["e", "error", "\""]
    static let clientID = "svc-client"

    @Test(
        "an echoed secret reaches no detail, database byte, log line, report or metrics body",
        arguments: EchoForm.allCases,
        EchoHygieneTests.secrets
    )
    func echo(_ form: EchoForm, _ raw: String) async throws {
        let provider = try await FakeProvider.make()
        provider.set("/token", .echo(form))
        var client = TestTargets.client(id: Self.clientID)
        client.secret = Secret(raw)
        let environment = TestTargets.environment(issuer: provider.issuer, clients: [client])
        let target = ProbeTarget(environment: environment, client: client)
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(target)
        }
        let token = try #require(result.steps.last)
        try #require(token.step == .token, "\(result.steps.map(\.detail))")
        #expect(provider.requests.contains { $0.path == "/token" })

        // Classified on the body as it arrived, whatever the secret.
        switch form {
        case .locationHeader:
            #expect(token.outcome == .redirectError, "\(token.detail)")
            #expect(token.detail == "HTTP 302 redirect (Location header)")
        case .tokenType, .expiresIn:
            #expect(token.outcome == .tokenResponseInvalid, "\(token.detail)")
        default:
            #expect(token.outcome == .invalidClient, "\(token.detail)")
            #expect(token.detail.hasPrefix("HTTP 401 error=invalid_client: "), "\(token.detail)")
        }

        let traces = try await Traces.collect(result, target: target)
        if Self.withheld.contains(raw) {
            // No provider text at all: neither the echo nor the text around it.
            traces.expectAbsent(EchoForm.marker)
            if form != .locationHeader {
                #expect(token.detail.contains(DetailCleaner.withheld), "\(token.detail)")
            }
            for value in Self.forms(raw) where value.utf8.count >= 8 {
                traces.expectAbsent(value)
            }
        } else {
            // The provider's text is kept, the secret replaced.
            if form != .locationHeader {
                #expect(token.detail.contains(EchoForm.marker), "\(token.detail)")
                #expect(token.detail.contains(DetailCleaner.redacted), "\(token.detail)")
            }
            for value in Self.forms(raw) {
                traces.expectAbsent(value)
            }
        }
    }

    /// Every form of `raw` a test looks for, built independently of ``DetailCleaner``.
    static func forms(_ raw: String) -> [String] {
        func percent(_ text: String, _ format: String, keep: String, space: String?) -> String {
            text.utf8.map { byte in
                if keep.utf8.contains(byte) { return String(UnicodeScalar(byte)) }
                if byte == 0x20, let space { return space }
                return String(format: format, UInt32(byte))
            }.joined()
        }
        let alphanumerics = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        var forms = [raw, FormEncoding.encode(raw)]
        for format in ["%%%02X", "%%%02x"] {
            forms.append(percent(raw, format, keep: alphanumerics + "-._*", space: "+"))
            forms.append(percent(raw, format, keep: alphanumerics, space: nil))
        }
        let json = String(decoding: try! JSONSerialization.data(withJSONObject: [raw]), as: UTF8.self)
        forms.append(String(json.dropFirst(2).dropLast(2)))
        for format in ["\\u%04x", "\\u%04X"] {
            forms.append(
                raw.unicodeScalars.map { scalar in
                    scalar.value < 0x80
                        ? (scalar == "\"" ? "\\\"" : String(scalar))
                        : String(scalar).utf16.map { String(format: format, UInt32($0)) }.joined()
                }.joined()
            )
        }
        for bytes in [raw, "\(Self.clientID):\(raw)", "\(Self.clientID):\(FormEncoding.encode(raw))"] {
            let base64 = Data(bytes.utf8).base64EncodedString()
            let url = base64.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            forms += [
                base64, url, base64.replacingOccurrences(of: "=", with: ""),
                url.replacingOccurrences(of: "=", with: ""),
            ]
        }
        forms.append("\(Self.clientID):\(raw)")
        if raw.count >= 8 {
            // What a cut would leave of it, and the halves of the split echo.
            forms.append(String(raw.prefix(8)))
            forms.append(String(raw.prefix(raw.count / 2)))
            forms.append(String(raw.suffix(raw.count - raw.count / 2)))
        }
        return forms.filter { !$0.isEmpty }
    }

    /// Everything a result leaves behind: the step texts, a SQLite file written by ``ResultStore``, the log at
    /// trace level, `probe` output as a table and as JSON, and the /metrics exposition.
    struct Traces {
        var texts: [String]
        var files: [Data]

        static func collect(_ result: ProbeResult, target: ProbeTarget) async throws -> Traces {
            var texts = result.steps.flatMap { [$0.detail] + $0.notes }
            let state = TargetState(key: target.key).applying(result)
            let work = try Checkout.temporaryDirectory("echo-hygiene")
            defer { try? FileManager.default.removeItem(at: work) }
            let path = work.appendingPathComponent("authprobe.sqlite").path
            let store = try await ResultStore.open(path: path)
            try await store.insert(result, state: state)
            texts += try await store.recent().map(\.detail)
            let files = try FileManager.default.contentsOfDirectory(atPath: work.path)
                .filter { $0.hasPrefix("authprobe.sqlite") }
                .map { try Data(contentsOf: work.appendingPathComponent($0)) }
            #expect(!files.isEmpty)
            let (logger, lines) = RecordingLogHandler.logger()
            await LogSink(logger: logger).record(result, state: state)
            #expect(!lines.all.isEmpty, "the failure was logged")
            texts += lines.all
            texts.append(ProbeReport.table([result]))
            texts.append(try ProbeReport.json([result]))
            texts.append(MonitorMetrics.recording([result], targets: [target]).exposition)
            return Traces(texts: texts, files: files)
        }

        func expectAbsent(_ value: String, sourceLocation: SourceLocation = #_sourceLocation) {
            for text in self.texts {
                #expect(!text.contains(value), "\(value) in \(text)", sourceLocation: sourceLocation)
            }
            for data in self.files {
                #expect(
                    data.range(of: Data(value.utf8)) == nil,
                    "\(value) in SQLite bytes",
                    sourceLocation: sourceLocation
                )
            }
        }
    }
}

/// Provider text in a log line stays one value of one line.
@Suite("Log-line hygiene")
struct LogLineHygieneTests {
    @Test("a forged iss claim with a line break and level=critical does not forge a log line")
    func forgedIssuer() async throws {
        let provider = try await FakeProvider.make()
        let key = ES256PrivateKey()
        let forged = "https://evil.example\" level=critical msg=\"x\nlevel=critical msg=forged\r\u{2028}level=critical"
        let token = try await TokenInspectionTests.token(key, kid: "k1", issuer: forged, lifetime: 300)
        provider.set("/jwks", .json(200, #"{"keys":[\#(try TokenInspectionTests.jwk(key, kid: "k1"))]}"#))
        provider.set("/token", .json(200, #"{"access_token":"\#(token)","token_type":"Bearer","expires_in":300}"#))
        let target = TestTargets.target(provider)
        let result = try await withRunningServices([provider.application()], waitingFor: [provider.port]) {
            try await TestTargets.prober().probe(target)
        }
        let step = try #require(result.steps.last)
        #expect(step.outcome == .jwtClaimsInvalid, "\(step.detail)")
        #expect(!step.detail.unicodeScalars.contains { $0.value < 0x20 || $0 == "\u{2028}" }, "\(step.detail)")

        let (logger, lines) = RecordingLogHandler.logger()
        await LogSink(logger: logger).record(result, state: TargetState(key: target.key).applying(result))
        #expect(lines.all.count == 1)
        let line = try #require(lines.all.first)
        #expect(!line.contains("\n") && !line.contains("\r") && !line.contains("\u{2028}"))
        let prefix = "info probe run failed "
        try #require(line.hasPrefix(prefix), "\(line)")
        let pairs = try #require(Self.logfmt(String(line.dropFirst(prefix.count))), "\(line)")
        #expect(
            Set(pairs.keys) == [
                "probe.environment", "probe.client", "probe.duration_ms", "probe.step", "probe.outcome",
                "probe.scope", "probe.detail", "probe.http_status",
            ]
        )
        #expect(pairs["probe.detail"]?.contains("level=critical") == true, "kept, inside the one value")
        #expect(pairs["probe.outcome"] == "jwt_claims_invalid")
    }

    @Test("log values are quoted with their quotes, backslashes and controls escaped")
    func quoting() {
        #expect(LogSink.quoted("a \"b\" \\ c\nd=e\u{85}") == #""a \"b\" \\ c\nd=e\u{85}""#)
    }

    /// `key=value` pairs separated by spaces, a value either bare or double-quoted with backslash escapes; nil
    /// when the text is not such a sequence.
    static func logfmt(_ text: String) -> [String: String]? {
        var pairs: [String: String] = [:]
        var rest = Substring(text)
        while !rest.isEmpty {
            guard let equals = rest.firstIndex(of: "="), !rest[..<equals].contains(" ") else { return nil }
            let key = String(rest[..<equals])
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var closed = false
                while let character = rest.first {
                    rest = rest.dropFirst()
                    if character == "\\" {
                        guard let escaped = rest.first else { return nil }
                        value.append(escaped)
                        rest = rest.dropFirst()
                    } else if character == "\"" {
                        closed = true
                        break
                    } else {
                        value.append(character)
                    }
                }
                guard closed else { return nil }
            } else {
                let end = rest.firstIndex(of: " ") ?? rest.endIndex
                value = String(rest[..<end])
                rest = rest[end...]
            }
            guard pairs[key] == nil else { return nil }
            pairs[key] = value
            if rest.first == " " { rest = rest.dropFirst() } else if !rest.isEmpty { return nil }
        }
        return pairs
    }
}

/// Details are cut to 512 bytes on a character boundary wherever they are kept.
@Suite("Detail limits")
struct DetailLimitTests {
    @Test("a long detail is cut to 512 bytes, on a character boundary, with an ellipsis")
    func capped() async throws {
        let long = String(repeating: "é€𝄞", count: 200)
        let capped = StepResult.capped(long)
        #expect(capped.utf8.count <= StepResult.maxDetailBytes)
        #expect(capped.hasSuffix("…"))
        #expect(long.hasPrefix(String(capped.dropLast())))
        #expect(StepResult.capped("short") == "short")

        let key = TargetKey(environment: "fake", client: "svc")
        let step = StepResult(step: .token, outcome: .http4xx, detail: long, notes: ["a note"])
        let result = ProbeResult(target: key, startedAt: Date(), steps: [step])
        let store = try ResultStore(writer: DatabaseQueue())
        try await store.insert(result, state: TargetState(key: key).applying(result))
        let stored = try #require(try await store.recent().first)
        #expect(stored.detail.utf8.count <= StepResult.maxDetailBytes)
        #expect(stored.detail.hasSuffix("…"))
        #expect(ProbeReport.table([result]).contains(stored.detail))

        let (logger, lines) = RecordingLogHandler.logger()
        await LogSink(logger: logger).record(result, state: TargetState(key: key).applying(result))
        let line = try #require(lines.all.first)
        #expect(line.contains(LogSink.quoted(StepResult.capped(long))))
    }

    @Test("cleaning: every form is replaced, controls go, short or common secrets withhold instead")
    func cleaner() {
        let cleaner = DetailCleaner(credentials: [Secret("Zq8-secret-ω/+")], clientID: "svc")
        #expect(
            cleaner.quote("got Zq8-secret-ω/+ and Zq8-secret-\\u03c9\\/+ and Zq8-se\ncret-ω/+")
                == "\"got <redacted> and <redacted> and <redacted>\""
        )
        #expect(!cleaner.withholdsProviderText)
        let long = String(repeating: "x", count: 195) + " Zq8-secret-ω/+"
        #expect(!cleaner.quote(long).contains("Zq8"), "cleaned before it is cut")
        for short in ["e", "error", "\"", "password", "invalid_client"] {
            let withholding = DetailCleaner(credentials: [Secret(short)], clientID: "svc")
            #expect(withholding.withholdsProviderText, "\(short)")
            #expect(withholding.quote("an error description") == DetailCleaner.withheld)
            #expect(withholding.scrub("HTTP 401 error=invalid_client") == "HTTP 401 error=invalid_client")
        }
    }

    @Test("base64 and base64url of the secret and of id:secret are found at every length and alignment")
    func base64Forms() {
        for length in 16...21 {
            let secret = String("s3cr/t+?v~lue-0123456789abc".prefix(length))
            let cleaner = DetailCleaner(credentials: [Secret(secret)], clientID: "svc id")
            for value in [secret, "svc id:\(secret)", "svc+id:\(FormEncoding.encode(secret))", "xy" + secret + "z"] {
                let padded = Data(value.utf8).base64EncodedString()
                let url = padded.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                for form in [padded, url, padded.replacingOccurrences(of: "=", with: "")] {
                    let cleaned = cleaner.scrub("seen \(form) here")
                    #expect(cleaned.contains(DetailCleaner.redacted), "\(length) \(value) \(form)")
                    #expect(!cleaned.contains(String(form.dropFirst(4).prefix(12))), "\(length) \(value) \(form)")
                }
            }
        }
    }
}
