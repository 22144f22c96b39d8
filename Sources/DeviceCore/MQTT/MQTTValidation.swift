/// The checks MQTT 3.1.1 puts on strings and topics, shared by the decoder (which rejects bad
/// input) and the encoder (which refuses to write it).
///
/// Each check first asks `isPlain`, a word-at-a-time test that vouches for the common case
/// (plain ASCII: client ids, user names, IoT Hub topics), and only runs the byte-by-byte rules
/// on what it does not vouch for. The same code on every target: a word is 8 bytes on hosts,
/// 4 on Cortex-M.
enum MQTTValidation {
    /// Checks that `bytes` is well-formed UTF-8 (Unicode table 3-7, via `UTF8Scan`) without
    /// U+0000. On failure, `index` is the offset of the first offending byte within `bytes`;
    /// a surrogate is reported at its lead byte.
    static func checkUTF8(_ bytes: ByteView) -> (rule: MQTTRule, index: Int)? {
        if isPlain(bytes, wildcardsAllowed: true) { return nil }
        return checkUTF8Bytewise(bytes)
    }

    /// `checkUTF8` byte by byte.
    @inline(never)
    static func checkUTF8Bytewise(_ bytes: ByteView) -> (rule: MQTTRule, index: Int)? {
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
    @inline(__always)
    static func checkTopicName(_ topic: ByteView) -> (rule: MQTTRule, index: Int)? {
        if isPlain(topic, wildcardsAllowed: false) { return nil }
        return checkTopicNameBytewise(topic)
    }

    /// `checkTopicName` byte by byte: finds the first broken rule and its offset.
    @inline(never)
    static func checkTopicNameBytewise(_ topic: ByteView) -> (rule: MQTTRule, index: Int)? {
        if topic.isEmpty { return (.emptyTopic, 0) }
        if let failure = checkUTF8Bytewise(topic) { return failure }
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
        if isPlain(filter, wildcardsAllowed: false) { return nil }
        if filter.isEmpty { return (.emptyTopic, 0) }
        if let failure = checkUTF8Bytewise(filter) { return failure }
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

    /// `true` when `bytes` is not empty and every byte is plain ASCII other than U+0000 and,
    /// unless `wildcardsAllowed`, also not `+`, `#` or one of the few other bytes whose bits are
    /// a subset of 0x2B's (controls 01–03 and 08–0B, space, `! " ( ) *`): a valid string, or
    /// topic name, decided without the byte-by-byte rules. `false` means "look closer", not
    /// "invalid": those bytes are valid in a topic name, and the byte-wise check says so.
    ///
    /// Reads two machine words at a time (one 16-byte vector on hosts), the last pair
    /// overlapping the one before it, without early exit (strings here are short): up to six
    /// words as three pairs with no loop, a longer view in a loop of pairs. A view of
    /// one or two words is tested as two overlapping words, a shorter one as one word built
    /// from overlapping loads. Not inlined: one copy serves every check (a copy per caller
    /// cost 300–600 bytes of flash and saved a call).
    @inline(never)
    static func isPlain(_ bytes: ByteView, wildcardsAllowed: Bool) -> Bool {
        let count = bytes.count
        // Read only once `count` is known to be above 0.
        @inline(__always) var base: UnsafeRawPointer { bytes.start }
        let width = MemoryLayout<UInt>.size
        let ones = UInt.max / 0xFF  // 0x0101…01
        // Per byte, the high bit of `(t - 1) | w` is set by a byte >= 0x80 (`| w`) or a zero
        // byte of t (the subtraction borrows). For topic names t = w & ~0x2B, which is zero
        // for `+` (0x2B), `#` (0x23) and U+0000 alike. A borrow carried into the next byte
        // starts only at a byte that is flagged itself, so the test is exact as to whether any
        // byte is flagged.
        let keep = wildcardsAllowed ? UInt.max : ~(ones &* 0x2B)
        @inline(__always) func flags(_ w: UInt) -> UInt { ((w & keep) &- ones) | w }
        @inline(__always) func flags(at offset: Int) -> UInt {
            flags(base.loadUnaligned(fromByteOffset: offset, as: UInt.self))
        }
        var any: UInt
        // Longest first: topics and user names are mostly longer than two words.
        if count > 2 &* width {
            // Two words per step as one `SIMD2<UInt>`: a 16-byte vector on hosts, a pair of
            // registers on Cortex-M; the last pair overlaps the one before it.
            typealias Pair = SIMD2<UInt>
            let pairOnes = Pair(repeating: ones)
            let pairKeep = Pair(repeating: keep)
            @inline(__always) func flags(pairAt offset: Int) -> Pair {
                let pair = base.loadUnaligned(fromByteOffset: offset, as: Pair.self)
                return ((pair & pairKeep) &- pairOnes) | pair
            }
            let last = count &- 2 &* width
            var pairs = flags(pairAt: last)
            if count <= 6 &* width {
                // Up to six words (48 bytes on hosts, 24 on Cortex-M): three pairs, first,
                // middle and last, without the loop.
                pairs |= flags(pairAt: 0) | flags(pairAt: (count &>> 1) &- width)
            } else {
                var i = 0
                while i < last {
                    pairs |= flags(pairAt: i)
                    i &+= 2 &* width
                }
            }
            any = pairs[0] | pairs[1]
        } else if count >= width {
            any = flags(at: 0) | flags(at: count &- width)
        } else if count > 0 {
            // `a` (0x61, plain) fills the bytes not loaded.
            var word: UInt
            if width == 8 && count >= 4 {
                word = UInt(base.loadUnaligned(as: UInt32.self))
                    | UInt(base.loadUnaligned(fromByteOffset: count &- 4, as: UInt32.self)) &<< (width &* 4)
            } else {
                word = UInt(base.load(as: UInt8.self))
                    | UInt(base.load(fromByteOffset: count &>> 1, as: UInt8.self)) &<< 8
                    | UInt(base.load(fromByteOffset: count &- 1, as: UInt8.self)) &<< 16
                    | ((ones &* 0x61) &>> 24) &<< 24
            }
            any = flags(word)
        } else {
            return false
        }
        return any & (ones &* 0x80) == 0
    }
}
