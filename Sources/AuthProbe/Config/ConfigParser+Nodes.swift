import Yams

/// The shape of YAML nodes: mappings with known keys, lists, strings, whole numbers, booleans.
extension ConfigParser {
    mutating func mapping(_ node: Node, field: String, keys: [String]) -> [String: Node]? {
        guard case .mapping(let mapping) = node else {
            self.fail(node, field: field, "expected a mapping, found \(Self.kind(node))")
            return nil
        }
        var fields: [String: Node] = [:]
        for (keyNode, valueNode) in mapping {
            let key = keyNode.string ?? "\(keyNode)"
            let path = field == "(root)" ? key : "\(field).\(key)"
            if keys.contains(key) {
                fields[key] = valueNode
            } else {
                self.fail(keyNode, field: path, "unknown key (expected one of: \(keys.joined(separator: ", ")))")
            }
        }
        return fields
    }

    mutating func sequence(_ node: Node, field: String) -> [Node]? {
        guard case .sequence(let sequence) = node else {
            self.fail(node, field: field, "expected a list, found \(Self.kind(node))")
            return nil
        }
        return Array(sequence)
    }

    mutating func string(_ node: Node, field: String) -> String? {
        guard case .scalar(let scalar) = node, node.null == nil else {
            self.fail(node, field: field, "expected a string, found \(Self.kind(node))")
            return nil
        }
        return scalar.string
    }

    mutating func integer(_ node: Node, field: String) -> Int? {
        guard case .scalar(let scalar) = node, let value = Int(scalar.string) else {
            self.fail(node, field: field, "expected a whole number" + Self.found(node))
            return nil
        }
        return value
    }

    mutating func bool(_ node: Node, field: String) -> Bool? {
        guard case .scalar(let scalar) = node else {
            self.fail(node, field: field, "expected true or false" + Self.found(node))
            return nil
        }
        switch scalar.string.lowercased() {
        case "true": return true
        case "false": return false
        default:
            self.fail(node, field: field, "expected true or false" + Self.found(node))
            return nil
        }
    }

    /// ", found a list" for structured values; nothing for a scalar of the wrong kind (never echo it).
    static func found(_ node: Node) -> String {
        if case .scalar = node, node.null == nil { return "" }
        return ", found \(Self.kind(node))"
    }

    static func kind(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar:
            // Never echo the value: a misplaced secret would end up in the error message.
            return node.null != nil ? "nothing" : "a single value"
        }
    }
}
