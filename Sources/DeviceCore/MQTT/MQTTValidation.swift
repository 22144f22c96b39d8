/// The checks MQTT 3.1.1 puts on strings and topics, shared by the decoder (which rejects bad
/// input) and the encoder (which refuses to write it).
enum MQTTValidation {
    /// Checks that `bytes` is well-formed UTF-8 (Unicode table 3-7, via `UTF8Scan`) without
    /// U+0000. On failure, `index` is the offset of the first offending byte within `bytes`;
    /// a surrogate is reported at its lead byte.
    static func checkUTF8(_ bytes: ByteView) -> (rule: MQTTRule, index: Int)? {
        var i = 0
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
