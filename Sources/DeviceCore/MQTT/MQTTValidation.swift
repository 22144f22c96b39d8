/// The checks MQTT 3.1.1 puts on strings and topics, shared by the decoder (which rejects bad
/// input) and the encoder (which refuses to write it).
enum MQTTValidation {
    /// Checks that `bytes` is well-formed UTF-8 (Unicode table 3-7, via `UTF8Scan`) without
    /// U+0000. On failure, `index` is the offset of the first offending byte within `bytes`;
    /// a surrogate is reported at its lead byte.
    static func checkUTF8(_ bytes: ByteView) -> (rule: MQTTRule, index: Int)? {
        checkUTF8(bytes, from: plainPrefixLength(bytes))
    }

    /// `checkUTF8` for the bytes from `start` on (those before it are known to be plain ASCII).
    private static func checkUTF8(_ bytes: ByteView, from start: Int) -> (rule: MQTTRule, index: Int)? {
        var i = start
        while i < bytes.count {
            let lead = bytes[i]
            if lead == 0 { return (.nullCharacterInString, i) }
            if lead < 0x80 {
                i += 1
                continue
            }
            switch UTF8Scan.sequence(in: bytes, at: i) {
            case .valid(let length):
                i += length
            case .truncated:
                return (.invalidUTF8, i)
            case .invalid(let offset):
                // ED A0…BF starts an encoded UTF-16 surrogate: its own rule.
                if lead == 0xED && offset == i + 1 && bytes[offset] >= 0xA0 && bytes[offset] <= 0xBF {
                    return (.surrogateInString, i)
                }
                return (.invalidUTF8, offset)
            }
        }
        return nil
    }

    /// Checks a topic name: a non-empty UTF-8 string without wildcards.
    static func checkTopicName(_ topic: ByteView) -> (rule: MQTTRule, index: Int)? {
        if topic.isEmpty { return (.emptyTopic, 0) }
        let plain = plainPrefixLength(topic)
        if plain == topic.count { return nil }
        if let failure = checkUTF8(topic, from: plain) { return failure }
        var i = plain
        while i < topic.count {
            let byte = topic[i]
            if byte == UInt8(ascii: "+") || byte == UInt8(ascii: "#") { return (.wildcardInTopicName, i) }
            i += 1
        }
        return nil
    }

    /// Checks a topic filter: a non-empty UTF-8 string whose wildcards each fill a whole level,
    /// with `#` only as the last level.
    static func checkTopicFilter(_ filter: ByteView) -> (rule: MQTTRule, index: Int)? {
        if filter.isEmpty { return (.emptyTopic, 0) }
        let plain = plainPrefixLength(filter)
        if plain == filter.count { return nil }
        if let failure = checkUTF8(filter, from: plain) { return failure }
        let last = filter.count - 1
        var i = plain
        while i <= last {
            let byte = filter[i]
            let startsLevel = i == 0 || filter[i - 1] == UInt8(ascii: "/")
            if byte == UInt8(ascii: "#") {
                if !startsLevel || i != last { return (.misplacedMultiLevelWildcard, i) }
            } else if byte == UInt8(ascii: "+") {
                let endsLevel = i == last || filter[i + 1] == UInt8(ascii: "/")
                if !startsLevel || !endsLevel { return (.misplacedSingleLevelWildcard, i) }
            }
            i += 1
        }
        return nil
    }

    /// How many leading bytes, in whole machine words, are plain ASCII other than U+0000, `+`
    /// and `#`: the common case of a topic or client id, checked a word at a time so that the
    /// byte-by-byte rules only run from the first word that needs them (measured in
    /// docs/benchmarks.md: the checks were 72 % of a PUBLISH encode).
    @inline(__always)
    static func plainPrefixLength(_ bytes: ByteView) -> Int {
        let width = MemoryLayout<UInt>.size
        guard bytes.count >= width, let base = bytes.baseAddress else { return 0 }
        let ones = UInt.max / 0xFF  // 0x0101…01
        let highs = ones &* 0x80
        let plus = ones &* UInt(UInt8(ascii: "+"))
        let hash = ones &* UInt(UInt8(ascii: "#"))
        @inline(__always) func hasZeroByte(_ x: UInt) -> Bool { (x &- ones) & ~x & highs != 0 }
        var i = 0
        while i + width <= bytes.count {
            let word = base.loadUnaligned(fromByteOffset: i, as: UInt.self)
            if word & highs != 0 || hasZeroByte(word) || hasZeroByte(word ^ plus) || hasZeroByte(word ^ hash) { break }
            i += width
        }
        return i
    }
}
