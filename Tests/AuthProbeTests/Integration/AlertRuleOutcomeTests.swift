import AuthProbe
import Foundation
import Testing

/// The alert rules and the README's queries name outcomes by hand: they must list exactly the outcomes
/// the code puts in each scope, or a new credential outcome would never page anyone.
@Suite("Alert rules follow the outcome scopes")
struct AlertRuleOutcomeTests {
    static func outcomes(in text: String, after marker: String) throws -> Set<String> {
        let start = try #require(text.range(of: marker)).upperBound
        let end = try #require(text[start...].firstIndex(of: "\""))
        return Set(text[start..<end].split(separator: "|").map(String.init))
    }

    static let credential = Set(Outcome.allCases.filter { $0.scope == .credential }.map(\.label))

    @Test("AuthprobeCredentialRejected and the README's credential query list the credential-scoped outcomes")
    func credentialOutcomes() throws {
        let rules = try String(
            contentsOf: Checkout.root.appendingPathComponent("config/alerts/authprobe.rules.yml"),
            encoding: .utf8
        )
        #expect(try Self.outcomes(in: rules, after: #"step="token",outcome=~""#) == Self.credential)
        let readme = try String(contentsOf: Checkout.root.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(try Self.outcomes(in: readme, after: #"{outcome=~""#) == Self.credential)
        // The provider query excludes everything that is not provider-scoped.
        let notProvider = Set(Outcome.allCases.filter { $0.scope != .provider }.map(\.label))
        #expect(try Self.outcomes(in: readme, after: #"{outcome!~""#) == notProvider)
    }
}
