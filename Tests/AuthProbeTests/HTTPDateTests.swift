import Foundation
import Testing

@testable import AuthProbe

/// The provider's clock from its `Date` header (RFC 9110 §5.6.7 IMF-fixdate).
@Suite("HTTP Date header")
struct HTTPDateTests {
    @Test("IMF-fixdate is parsed exactly; other forms are ignored")
    func parse() {
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == Date(timeIntervalSince1970: 784_111_777))
        #expect(HTTPDate.parse("Thu, 29 Feb 2028 23:59:59 GMT") == Date(timeIntervalSince1970: 1_835_481_599))
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == nil)
        #expect(HTTPDate.parse("Sun Nov  6 08:49:37 1994") == nil)
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 CET") == nil)
        #expect(HTTPDate.parse("Sun, 06 Nox 1994 08:49:37 GMT") == nil)
        #expect(HTTPDate.parse("") == nil)
    }

    @Test("skew is the middle of the header's second minus the arrival time")
    func skew() {
        let response = TransportResponse(status: 200, headers: [("date", "Sun, 06 Nov 1994 08:49:37 GMT")])
        let arrival = Date(timeIntervalSince1970: 784_111_777 - 30)
        #expect(HTTPDate.skew(response, arrivedAt: arrival) == 30.5)
        #expect(HTTPDate.skew(TransportResponse(status: 200), arrivedAt: arrival) == nil)
        // A cached answer: the origin's Date plus its Age.
        let cached = TransportResponse(
            status: 200,
            headers: [("Date", "Sun, 06 Nov 1994 08:49:37 GMT"), ("Age", "300")]
        )
        #expect(HTTPDate.skew(cached, arrivedAt: Date(timeIntervalSince1970: 784_111_777 + 300)) == 0.5)
    }
}
