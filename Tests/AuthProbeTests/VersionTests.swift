import Testing
@testable import AuthProbe
@Test func version() { #expect(!AuthProbeVersion.current.isEmpty) }
