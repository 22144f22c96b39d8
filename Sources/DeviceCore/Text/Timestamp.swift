/// ISO 8601 / RFC 3339 timestamps in UTC, from a count of microseconds since the Unix epoch.
public enum ISO8601 {
    /// Earliest instant written: 1970-01-01T00:00:00 UTC.
    public static let minimumEpochMicroseconds: Int64 = 0
    /// Latest instant written: 9999-12-31T23:59:59.999999 UTC.
    public static let maximumEpochMicroseconds: Int64 = 253_402_300_799_999_999

    /// Appends `YYYY-MM-DDThh:mm:ss`, then `.` and `fractionDigits` digits of the second
    /// (truncated, not rounded; none when 0), then `Z` if `suffixZ`:
    /// 1747901219626893, 6, false gives `2025-05-22T08:06:59.626893`.
    ///
    /// Instants outside 1970…9999 are clamped to `minimumEpochMicroseconds` or
    /// `maximumEpochMicroseconds` (a device clock not yet set reads as the epoch, not as an
    /// error); `fractionDigits` is clamped to 0…6.
    public static func append(epochMicroseconds: Int64, fractionDigits: Int, suffixZ: Bool, to writer: inout TextWriter) {
        var micros = epochMicroseconds
        if micros < minimumEpochMicroseconds { micros = minimumEpochMicroseconds }
        if micros > maximumEpochMicroseconds { micros = maximumEpochMicroseconds }
        let digits = fractionDigits < 0 ? 0 : (fractionDigits > 6 ? 6 : fractionDigits)

        // One 64-bit division; the rest is 32-bit arithmetic (costly 64-bit code on Cortex-M0
        // otherwise). The seconds (below 2^38) go into days as `seconds >> 7` by 675, since
        // 86 400 = 128 × 675, and what is left of them below 86 400 wraps exactly in 32 bits.
        let magnitude = UInt64(bitPattern: micros)
        let seconds = magnitude / 1_000_000
        let fraction = UInt32(truncatingIfNeeded: magnitude &- seconds &* 1_000_000)
        let days = UInt32(truncatingIfNeeded: seconds &>> (7 as UInt64)) / 675
        let secondOfDay = UInt32(truncatingIfNeeded: seconds) &- days &* 86_400
        let date = civil(fromDays: Int(days))

        appendDigits(UInt32(truncatingIfNeeded: date.year), count: 4, after: 0, to: &writer)
        appendDigits(UInt32(truncatingIfNeeded: date.month), count: 2, after: UInt8(ascii: "-"), to: &writer)
        appendDigits(UInt32(truncatingIfNeeded: date.day), count: 2, after: UInt8(ascii: "-"), to: &writer)
        appendDigits(secondOfDay / 3600, count: 2, after: UInt8(ascii: "T"), to: &writer)
        appendDigits(secondOfDay / 60 % 60, count: 2, after: UInt8(ascii: ":"), to: &writer)
        appendDigits(secondOfDay % 60, count: 2, after: UInt8(ascii: ":"), to: &writer)
        if digits > 0 {
            var divisor: UInt32 = 1
            var k = digits
            while k < 6 {
                divisor &*= 10
                k += 1
            }
            appendDigits(fraction / divisor, count: digits, after: UInt8(ascii: "."), to: &writer)
        }
        if suffixZ { writer.append(UInt8(ascii: "Z")) }
    }

    /// `separator` (none when 0), then the last `count` decimal digits of `value`, zeros in
    /// front. Out of line: one copy for the seven fields.
    @inline(never)
    static func appendDigits(_ value: UInt32, count: Int, after separator: UInt8, to writer: inout TextWriter) {
        if separator != 0 { writer.append(separator) }
        var divisor: UInt32 = 1
        var k = 1
        while k < count {
            divisor &*= 10
            k += 1
        }
        while divisor > 0 {
            writer.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value / divisor % 10))
            divisor /= 10
        }
    }

    /// The proleptic Gregorian date `days` days after 1970-01-01 (`days >= 0`), by Howard
    /// Hinnant's `civil_from_days`: counted in 400-year eras starting on 0000-03-01, so the
    /// leap day falls at the end of each computed year.
    static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468  // days since 0000-03-01
        let era = z / 146_097
        let dayOfEra = z - era * 146_097  // 0...146096
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365  // 0...399
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)  // 0...365, from March 1
        let shiftedMonth = (5 * dayOfYear + 2) / 153  // 0 = March … 11 = February
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }
}
