import Foundation
import Yams

/// Scalar values: closed-set choices, names (metric label values), durations and timestamps.
extension ConfigParser {
    /// One value of a closed set, named by its raw value; nil, with an error listing the choices, otherwise.
    mutating func choice<Value: RawRepresentable & CaseIterable>(
        _ node: Node,
        field: String,
        kind: String
    ) -> Value? where Value.RawValue == String {
        guard let text = self.string(node, field: field) else { return nil }
        if let value = Value(rawValue: text) { return value }
        let known = Value.allCases.map(\.rawValue).joined(separator: ", ")
        self.fail(node, field: field, "unknown \(kind) \"\(text)\" (expected one of: \(known))")
        return nil
    }

    mutating func requiredLabel(_ fields: [String: Node], node: Node, key: String, field: String) -> String? {
        guard let valueNode = fields[key] else {
            self.fail(node, field: "\(field).\(key)", "required")
            return nil
        }
        guard let text = self.string(valueNode, field: "\(field).\(key)") else { return nil }
        return self.labelValue(text, node: valueNode, field: "\(field).\(key)")
    }

    /// Names become metric label values: short, printable, no spaces.
    mutating func labelValue(_ text: String, node: Node, field: String) -> String? {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_."))
        guard !text.isEmpty, text.count <= 64, text.unicodeScalars.allSatisfy({ $0.isASCII && allowed.contains($0) })
        else {
            self.fail(node, field: field, "\"\(text)\" is not a valid name (1-64 of A-Z a-z 0-9 - _ .)")
            return nil
        }
        return text
    }

    mutating func duration(_ node: Node, field: String) -> Duration? {
        guard case .scalar(let scalar) = node, node.null == nil else {
            self.fail(node, field: field, "expected a duration such as 30s, found \(Self.kind(node))")
            return nil
        }
        let text = scalar.string
        guard let value = Durations.parse(text), value > .zero else {
            self.fail(node, field: field, "invalid duration \"\(text)\" (expected e.g. 30s, 5m, 1h, 30d)")
            return nil
        }
        let key = field.split(separator: ".").last.map(String.init) ?? field
        if let limit = Self.durationLimits[key], value > limit {
            self.fail(
                node,
                field: field,
                "\(Durations.format(value)) is longer than the maximum \(Durations.format(limit))"
            )
            return nil
        }
        return value
    }

    static func parseTimestamp(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withFullDate]
        return formatter.date(from: text)
    }

    /// Upper bounds that keep schedules meaningful (a probe once a year monitors nothing).
    static let durationLimits: [String: Duration] = [
        "interval": .seconds(86_400),
        "token_interval": .seconds(86_400),
        "timeout": .seconds(600),
        "raw": .seconds(10 * 365 * 86_400),
    ]
}
