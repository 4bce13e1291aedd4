import GRDB

extension Row {
    /// The column's value as `T`, or nil when it is NULL or of another type: a row edited by hand or written
    /// by another version is skipped by the caller, never a trap in decoding.
    func checked<T: DatabaseValueConvertible>(_ column: String, as type: T.Type = T.self) -> T? {
        T.fromDatabaseValue(self[column] as DatabaseValue)
    }
}
