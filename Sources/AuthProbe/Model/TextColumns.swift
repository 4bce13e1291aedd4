/// Rows of text as aligned columns, two spaces apart, the last column left ragged: the tables of
/// `authprobe probe` and `authprobe alerts`.
public enum TextColumns {
    /// `rows` (the first is the header) with each column padded to its widest cell, one line each.
    public static func render(_ rows: [[String]]) -> String {
        guard let header = rows.first else { return "" }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.indices.map { column in
                column == row.count - 1
                    ? row[column] : row[column].padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
