import Foundation
import Testing

@testable import AuthProbe

@Suite("Process memory")
struct ProcessMemoryTests {
    /// The executable file mappings of this process, with their `VmFlags` from /proc/self/smaps.
    static func codeMappings() throws -> [(name: String, flags: [Substring])] {
        let smaps = try #require(ProcessMemory.procFile("/proc/self/smaps"))
        var mappings: [(name: String, flags: [Substring])] = []
        var current: String?
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 5, fields[0].contains("-"), fields[1].count == 4 {
                current = fields.count >= 6 && fields[1] == "r-xp" && fields[5].hasPrefix("/") ? String(fields[5]) : nil
            } else if let name = current, fields.first == "VmFlags:" {
                mappings.append((name, Array(fields.dropFirst())))
                current = nil
            }
        }
        return mappings
    }

    @Test("code pages are mapped as they run: every executable file mapping is advised random access")
    func codePages() throws {
        #if os(Linux)
            ProcessMemory.releaseCodePages()
            let mappings = try Self.codeMappings()
            #expect(mappings.contains { $0.name.hasSuffix("libswiftCore.so") }, "\(mappings.map(\.name))")
            for mapping in mappings {
                #expect(mapping.flags.contains("rr"), "\(mapping.name): \(mapping.flags.joined(separator: " "))")
            }
            // The code still runs after its pages were dropped: they come back from the file as needed.
            #expect(String(describing: (1...3).map { $0 * 2 }) == "[2, 4, 6]")
        #endif
    }
}
