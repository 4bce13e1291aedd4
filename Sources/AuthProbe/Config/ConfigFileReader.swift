import Foundation

/// Reads the files a configuration names: the YAML file itself, secret files, signing keys, TLS client
/// certificates and keys, CA files.
///
/// The only part of Config that touches the disk. ``ConfigParser`` decides which file to read and judges what
/// it holds; this type only reads, and says why it could not in words `check-config` prints after
/// `cannot read …:`.
struct ConfigFileReader: Sendable {
    /// Why a file could not be read (`no such file`, `permission denied`, …), never including its contents.
    struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        var reason: String

        var description: String { self.reason }
    }

    /// The whole file as UTF-8 text.
    func text(atPath path: String) -> Result<String, Failure> {
        do {
            return .success(try String(contentsOfFile: path, encoding: .utf8))
        } catch {
            return .failure(Failure(reason: Self.reason(error)))
        }
    }

    /// The whole file as bytes.
    func bytes(atPath path: String) -> Result<[UInt8], Failure> {
        do {
            return .success(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        } catch {
            return .failure(Failure(reason: Self.reason(error)))
        }
    }

    /// Nil when the file exists and is readable now (it is read later, by the probe's TLS setup).
    func readabilityProblem(atPath path: String) -> Failure? {
        if FileManager.default.isReadableFile(atPath: path) { return nil }
        return Failure(reason: FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")
    }

    /// Foundation's error in a few words: the POSIX reason when there is one.
    static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let posix = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        if nsError.domain == NSCocoaErrorDomain {
            switch nsError.code {
            case NSFileReadNoSuchFileError: return "no such file"
            case NSFileReadNoPermissionError: return "permission denied"
            default: break
            }
        }
        return nsError.localizedDescription
    }
}
