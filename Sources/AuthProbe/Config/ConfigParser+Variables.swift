import Yams

/// `${NAME}` references to environment variables.
extension ConfigParser {
    /// The variable name of a whole-value `${NAME}` reference.
    static func variableReference(_ text: String) -> String? {
        guard text.hasPrefix("${"), text.hasSuffix("}"), text.count > 3 else { return nil }
        let name = String(text.dropFirst(2).dropLast())
        return Self.isVariableName(name) ? name : nil
    }

    static func isVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic)
        else { return false }
        return name.unicodeScalars.allSatisfy {
            $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
        }
    }

    /// Replaces every `${NAME}` in a non-secret value such as a client id or a file path; with `keepUnset`, an
    /// unset variable stays `${NAME}` instead of being an error.
    mutating func expandVariables(_ text: String, node: Node, field: String, keepUnset: Bool = false) -> String? {
        var result = ""
        var rest = Substring(text)
        while let start = rest.range(of: "${") {
            result += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                self.fail(node, field: field, "unterminated ${ reference")
                return nil
            }
            let name = String(rest[start.upperBound..<end])
            guard Self.isVariableName(name) else {
                self.fail(node, field: field, "invalid variable name \"\(name)\"")
                return nil
            }
            if let value = self.environment[name] {
                result += value
            } else if keepUnset {
                result += "${\(name)}"
            } else {
                self.fail(node, field: field, "environment variable \(name) is not set")
                return nil
            }
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }
}
