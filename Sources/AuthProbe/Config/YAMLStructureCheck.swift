import CYaml

/// Limits on the shape of a YAML document, checked event by event before Yams composes it into nodes.
///
/// Composing is where a hostile or broken file does its damage: an alias that is a mapping key is hashed whole
/// (exponential for stacked aliases, the "billion laughs"), and composing recurses once per nesting level. So
/// libyaml's event stream (linear in the text, no recursion) is read first, and the document is refused at the
/// first anchor or alias, past ``maximumDepth`` levels of nesting, or past ``maximumNodes`` nodes. A syntax error
/// ends the check without a finding: composing then reports it, with Yams' own words.
enum YAMLStructureCheck {
    /// Nesting levels a document may have; a configuration needs six (root, environments, environment, clients,
    /// client, parameters).
    static let maximumDepth = 64
    /// Nodes (scalars, lists, mappings) a document may have; a configuration with a thousand clients has ~30,000.
    static let maximumNodes = 1_000_000

    /// What is wrong with the document's shape, and on which line (1-based).
    struct Problem: Equatable {
        var line: Int
        var problem: String
    }

    /// The first problem of `yaml`, or nil when composing it is safe.
    static func check(_ yaml: String) -> Problem? {
        var bytes = Array(yaml.utf8)
        guard !bytes.isEmpty else { return nil }
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { return nil }
        defer { yaml_parser_delete(&parser) }
        return bytes.withUnsafeMutableBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            var depth = 0
            var nodes = 0
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    // libyaml's own nesting limit (1,000) can stop its look-ahead before any event shows the depth.
                    if let problem = parser.problem, String(cString: problem).hasPrefix("Maximum nesting level") {
                        return Problem(line: Int(parser.problem_mark.line) + 1, problem: Self.depthProblem)
                    }
                    return nil
                }
                defer { yaml_event_delete(&event) }
                let line = Int(event.start_mark.line) + 1
                var anchor: UnsafeMutablePointer<yaml_char_t>?
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return nil
                case YAML_ALIAS_EVENT:
                    return Problem(line: line, problem: Self.aliasProblem)
                case YAML_SCALAR_EVENT:
                    anchor = event.data.scalar.anchor
                    nodes += 1
                case YAML_SEQUENCE_START_EVENT:
                    anchor = event.data.sequence_start.anchor
                    nodes += 1
                    depth += 1
                case YAML_MAPPING_START_EVENT:
                    anchor = event.data.mapping_start.anchor
                    nodes += 1
                    depth += 1
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    depth -= 1
                default:
                    break
                }
                if anchor != nil {
                    return Problem(line: line, problem: Self.aliasProblem)
                }
                if depth > Self.maximumDepth {
                    return Problem(line: line, problem: Self.depthProblem)
                }
                if nodes > Self.maximumNodes {
                    return Problem(line: line, problem: "more than \(Self.maximumNodes) YAML nodes")
                }
            }
        }
    }

    static let depthProblem = "nested deeper than \(maximumDepth) levels"

    /// Anchors are refused with aliases: an anchor is only useful to an alias, and refusing it names the line
    /// where the sharing starts.
    static let aliasProblem = "YAML anchors and aliases are not supported"
}
