import DeviceCore
import Foundation
import Testing

@Suite struct TimestampTests {
    func iso(_ micros: Int64, _ digits: Int = 0, z: Bool = false) -> String {
        written { ISO8601.append(epochMicroseconds: micros, fractionDigits: digits, suffixZ: z, to: &$0) }.value!
    }

    func seconds(_ s: Int64) -> Int64 { s * 1_000_000 }

    @Test func walkthroughExample() {
        #expect(iso(1_747_901_219_626_893, 6) == "2025-05-22T08:06:59.626893")
        #expect(iso(1_747_901_219_626_893, 6, z: true) == "2025-05-22T08:06:59.626893Z")
        #expect(iso(1_747_901_219_626_893, 3) == "2025-05-22T08:06:59.626")
        #expect(iso(1_747_901_219_626_893, 1, z: true) == "2025-05-22T08:06:59.6Z")
        #expect(iso(1_747_901_219_626_893, 0) == "2025-05-22T08:06:59")
    }

    @Test func epoch() {
        #expect(iso(0) == "1970-01-01T00:00:00")
        #expect(iso(0, 0, z: true) == "1970-01-01T00:00:00Z")
        #expect(iso(0, 6, z: true) == "1970-01-01T00:00:00.000000Z")
        #expect(iso(1, 6) == "1970-01-01T00:00:00.000001")
        #expect(iso(999_999, 2) == "1970-01-01T00:00:00.99")  // truncated, not rounded
    }

    @Test func calendarEdges() {
        #expect(iso(seconds(1_709_208_000), 0, z: true) == "2024-02-29T12:00:00Z")  // leap day
        #expect(iso(seconds(1_709_251_199)) == "2024-02-29T23:59:59")
        #expect(iso(seconds(1_709_251_200)) == "2024-03-01T00:00:00")
        #expect(iso(seconds(951_782_400)) == "2000-02-29T00:00:00")  // 2000 is a leap year
        #expect(iso(seconds(951_868_800)) == "2000-03-01T00:00:00")
        #expect(iso(seconds(946_684_799) + 999_999, 6) == "1999-12-31T23:59:59.999999")  // end of year
        #expect(iso(seconds(946_684_800)) == "2000-01-01T00:00:00")
        #expect(iso(seconds(1_704_067_199)) == "2023-12-31T23:59:59")
        #expect(iso(seconds(1_704_067_200)) == "2024-01-01T00:00:00")
        #expect(iso(seconds(1_735_603_200)) == "2024-12-31T00:00:00")  // day 366 of a leap year
        #expect(iso(seconds(4_107_456_000)) == "2100-02-28T00:00:00")
        #expect(iso(seconds(4_107_542_400)) == "2100-03-01T00:00:00")  // 2100 is not a leap year
        #expect(iso(seconds(68_169_600)) == "1972-02-29T00:00:00")
        #expect(iso(seconds(2_147_483_647)) == "2038-01-19T03:14:07")
        #expect(iso(seconds(2_147_483_648)) == "2038-01-19T03:14:08")
    }

    /// Days and the second of the day come from the seconds by 32-bit arithmetic after one
    /// 64-bit division: the last and first second of days, near the epoch and near the end.
    @Test func dayBoundaries() {
        #expect(iso(seconds(86_399) + 999_999, 6) == "1970-01-01T23:59:59.999999")
        #expect(iso(seconds(86_400)) == "1970-01-02T00:00:00")
        #expect(iso(seconds(127)) == "1970-01-01T00:02:07")
        #expect(iso(seconds(128)) == "1970-01-01T00:02:08")
        #expect(iso(seconds(253_402_214_399), 6) == "9999-12-30T23:59:59.000000")
        #expect(iso(seconds(253_402_300_799)) == "9999-12-31T23:59:59")
        #expect(iso(seconds(4_294_967_295)) == "2106-02-07T06:28:15")  // 2^32 - 1 seconds
        #expect(iso(seconds(4_294_967_296)) == "2106-02-07T06:28:16")
    }

    @Test func rangeIsClamped() {
        #expect(iso(-1, 6, z: true) == "1970-01-01T00:00:00.000000Z")
        #expect(iso(Int64.min) == "1970-01-01T00:00:00")
        #expect(iso(ISO8601.maximumEpochMicroseconds, 6, z: true) == "9999-12-31T23:59:59.999999Z")
        #expect(iso(Int64.max, 6) == "9999-12-31T23:59:59.999999")
        #expect(iso(seconds(253_402_214_400)) == "9999-12-31T00:00:00")
        #expect(iso(5_000_000, 9) == "1970-01-01T00:00:05.000000")  // digits clamped to 6
        #expect(iso(5_500_000, -3) == "1970-01-01T00:00:05")
    }

    @Test func agreesWithFoundation() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var generator = SystemRandomNumberGenerator()
        var samples: [Int64] = [0, 86_399, 86_400, 253_402_300_799]
        for _ in 0..<3000 { samples.append(Int64.random(in: 0...253_402_300_799, using: &generator)) }
        for s in samples {
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: TimeInterval(s)))
            let expected = String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
            let actual = iso(seconds(s), z: true)
            if actual != expected {
                Issue.record("\(s): \(actual) != \(expected)")
                return
            }
        }
    }

    @Test func overflowNeedsExactSize() {
        let result = written(capacity: 10) { ISO8601.append(epochMicroseconds: 0, fractionDigits: 3, suffixZ: true, to: &$0) }
        #expect(result == .failure(BufferTooSmall(needed: 24, capacity: 10)))
    }
}
