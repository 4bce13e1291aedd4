import Foundation

extension FormEncoding {
    /// Decodes an `application/x-www-form-urlencoded` body into its fields (the last value of a repeated name wins).
    public static func decode(_ form: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in form.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = self.decodeComponent(String(parts[0]))
            fields[name] = parts.count > 1 ? self.decodeComponent(String(parts[1])) : ""
        }
        return fields
    }

    /// `+` is a space, `%XX` a byte.
    public static func decodeComponent(_ text: String) -> String {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? text
    }
}
