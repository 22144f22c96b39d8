import DeviceCore
import Foundation
import Testing

@Suite struct TextWriterTests {
    @Test(arguments: [
        (Int64(0), "0"), (1, "1"), (-1, "-1"), (9, "9"), (10, "10"), (-10, "-10"), (99, "99"), (100, "100"),
        (1_234_567_890, "1234567890"), (-1_000_000_000_000, "-1000000000000"),
        (Int64.max, "9223372036854775807"), (Int64.min, "-9223372036854775808"),
        (Int64.max - 1, "9223372036854775806"), (Int64.min + 1, "-9223372036854775807"),
    ])
    func decimalInt64(value: Int64, expected: String) {
        #expect(written { $0.appendDecimal(value) } == .success(expected))
    }

    @Test func decimalOtherWidths() {
        #expect(written { $0.appendDecimal(UInt64.max) } == .success("18446744073709551615"))
        #expect(written { $0.appendDecimal(UInt64(0)) } == .success("0"))
        #expect(written { $0.appendDecimal(10_000_000_000_000_000_000 as UInt64) } == .success("10000000000000000000"))
        #expect(written { $0.appendDecimal(Int.min) } == .success(String(Int.min)))
        #expect(written { $0.appendDecimal(Int.max) } == .success(String(Int.max)))
        #expect(written { $0.appendDecimal(-42) } == .success("-42"))
    }

    @Test func decimalMinimumDigits() {
        #expect(written { $0.appendDecimal(7, minimumDigits: 2) } == .success("07"))
        #expect(written { $0.appendDecimal(0, minimumDigits: 4) } == .success("0000"))
        #expect(written { $0.appendDecimal(123, minimumDigits: 2) } == .success("123"))
        #expect(written { $0.appendDecimal(-7, minimumDigits: 3) } == .success("-007"))
        #expect(written { $0.appendDecimal(Int64(5), minimumDigits: 3) } == .success("005"))
        #expect(written { $0.appendDecimal(Int64.min, minimumDigits: 0) } == .success("-9223372036854775808"))
    }

    @Test(arguments: [
        (Int64(246), 1, "24.6"), (-5, 2, "-0.05"), (0, 1, "0.0"), (0, 3, "0.000"), (5, 0, "5"), (-246, 1, "-24.6"),
        (100, 2, "1.00"), (1, 1, "0.1"), (-1, 1, "-0.1"), (12345, 2, "123.45"), (7, -1, "7"), (-7, 0, "-7"),
        (999, 3, "0.999"), (1000, 3, "1.000"),
        (Int64.min, 3, "-9223372036854775.808"), (Int64.max, 3, "9223372036854775.807"),
        (Int64.max, 19, "0.9223372036854775807"), (Int64.min, 19, "-0.9223372036854775808"),
        (1, 20, "0.00000000000000000001"), (Int64.max, 18, "9.223372036854775807"),
    ])
    func fixedPoint(value: Int64, fractionDigits: Int, expected: String) {
        #expect(written { $0.appendFixedPoint(value, fractionDigits: fractionDigits) } == .success(expected))
    }

    @Test func hex() {
        #expect(written { $0.appendHex(0x0A, uppercase: true) } == .success("0A"))
        #expect(written { $0.appendHex(0x0A, uppercase: false) } == .success("0a"))
        #expect(written { $0.appendHex(0xFF, uppercase: true) } == .success("FF"))
        #expect(written { $0.appendHex(0xBC, uppercase: false) } == .success("bc"))
        #expect(written { $0.appendHex(0x00, uppercase: false) } == .success("00"))
        #expect(written { w in for b in 0...255 { w.appendHex(UInt8(b), uppercase: true) } }
            == .success((0...255).map { String(format: "%02X", $0) }.joined()))
    }

    @Test func appendsBytesStaticStringsAndViews() {
        #expect(written { w in
            w.append("abc")
            w.append(UInt8(ascii: "-"))
            w.append(view("äé"))
            w.append(ByteView())
            w.append("")
        } == .success("abc-äé"))
    }

    @Test func overflowReportsExactNeed() {
        var writer = TextWriter(into: buffer(4))
        writer.append("hello")
        #expect(writer.overflowed)
        writer.append(" world")
        writer.append(UInt8(ascii: "!"))
        writer.appendDecimal(Int64(-123))
        #expect(writer.count == 16)
        #expect(writer.capacity == 4)
        #expect(text(writer.written) == "hell")
        do throws(BufferTooSmall) {
            _ = try writer.finish()
            Issue.record("expected overflow")
        } catch {
            #expect(error == BufferTooSmall(needed: 16, capacity: 4))
        }
    }

    @Test func exactFitIsNotOverflow() {
        #expect(written(capacity: 5) { $0.append("hello") } == .success("hello"))
        #expect(written(capacity: 4) { $0.append("hello") } == .failure(BufferTooSmall(needed: 5, capacity: 4)))
        #expect(written(capacity: 0) { $0.append("hello") } == .failure(BufferTooSmall(needed: 5, capacity: 0)))
        #expect(written(capacity: 0) { _ in } == .success(""))
        #expect(written(capacity: 3) { $0.appendFixedPoint(-5, fractionDigits: 2) } == .failure(BufferTooSmall(needed: 5, capacity: 3)))
        #expect(written(capacity: 19) { $0.appendDecimal(Int64.min) } == .failure(BufferTooSmall(needed: 20, capacity: 19)))
    }

    @Test func partialBytesAreWrittenUpToCapacity() {
        let memory = buffer(6)
        var writer = TextWriter(into: memory)
        writer.append("abcd")
        writer.append(view("efgh"))
        #expect(Array(memory) == Array("abcdef".utf8))
        #expect(writer.count == 8)
    }

    /// Numbers are written from their last digit back: the digits that fit are the leading ones,
    /// and nothing past the buffer is touched.
    @Test(arguments: [(9, "ab-123.45"), (8, "ab-123.4"), (7, "ab-123."), (6, "ab-123"), (3, "ab-"), (2, "ab"), (0, "")])
    func numberCutOffByTheEndOfTheBuffer(capacity: Int, expected: String) {
        let memory = buffer(16)
        var writer = TextWriter(into: UnsafeMutableRawBufferPointer(rebasing: memory[0..<capacity]))
        writer.append("ab")
        writer.appendFixedPoint(-12345, fractionDigits: 2)
        #expect(writer.count == 9)
        #expect(text(writer.written) == expected)
        #expect(Array(memory[capacity...]) == Array(repeating: 0xEE, count: 16 - capacity))
        #expect(writer.overflowed == (capacity < 9))
    }

    @Test func writerOverEmptyBuffer() {
        var writer = TextWriter(into: UnsafeMutableRawBufferPointer(start: nil, count: 0))
        writer.append("x")
        #expect(writer.overflowed)
        #expect(writer.written.isEmpty)
    }
}
