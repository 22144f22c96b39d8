/// The checks MQTT 3.1.1 puts on strings and topics, shared by the decoder (which rejects bad
/// input) and the encoder (which refuses to write it).
enum MQTTValidation {
    /// Checks that `bytes` is well-formed UTF-8 (Unicode table 3-7) without U+0000.
    /// On failure, `index` is the offset of the first offending byte within `bytes`.
    static func checkUTF8(_ bytes: ByteView) -> (rule: MQTTRule, index: Int)? {
        let count = bytes.count
        guard count > 0 else { return nil }
        let base = bytes.baseAddress.unsafelyUnwrapped
        var i = 0
        while i < count {
            let lead = base.load(fromByteOffset: i, as: UInt8.self)
            if lead < 0x80 {
                if lead == 0 { return (.nullCharacterInString, i) }
                i += 1
                continue
            }
            // Sequence length and the allowed range of the second byte for this lead byte.
            let length: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: return (.invalidUTF8, i)
            }
            guard i + length <= count else { return (.invalidUTF8, i) }
            let second = base.load(fromByteOffset: i + 1, as: UInt8.self)
            if lead == 0xED && second >= 0xA0 && second <= 0xBF { return (.surrogateInString, i) }
            guard second >= low && second <= high else { return (.invalidUTF8, i + 1) }
            var k = 2
            while k < length {
                let next = base.load(fromByteOffset: i + k, as: UInt8.self)
                guard next & 0xC0 == 0x80 else { return (.invalidUTF8, i + k) }
                k += 1
            }
            i += length
        }
        return nil
    }

    /// Checks a topic name: a non-empty UTF-8 string without wildcards.
    static func checkTopicName(_ topic: ByteView) -> (rule: MQTTRule, index: Int)? {
        if topic.isEmpty { return (.emptyTopic, 0) }
        if let failure = checkUTF8(topic) { return failure }
        var i = 0
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
        if let failure = checkUTF8(filter) { return failure }
        let last = filter.count - 1
        var i = 0
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
}
