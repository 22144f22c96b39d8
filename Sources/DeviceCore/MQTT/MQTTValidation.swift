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
        if isPlain(topic) { return nil }
        return checkTopicNameBytewise(topic)
    }

    /// `checkTopicName` with the word-at-a-time test inlined at the call site, for the PUBLISH
    /// fast paths: on hosts only (the call and its register spills cost ~15 instructions per
    /// PUBLISH); Embedded builds keep the one out-of-line copy, for flash.
    @inline(__always)
    static func checkTopicNameInline(_ topic: ByteView) -> (rule: MQTTRule, index: Int)? {
        #if hasFeature(Embedded)
        return checkTopicName(topic)
        #else
        if isPlainTopicName(topic) { return nil }
        return checkTopicNameBytewise(topic)
        #endif
    }

    /// `checkTopicName` for a topic that `isPlain` did not vouch for: finds the first broken
    /// rule and its offset.
    @inline(never)
    static func checkTopicNameBytewise(_ topic: ByteView) -> (rule: MQTTRule, index: Int)? {
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

    /// `true` when `bytes` is not empty and every byte is plain ASCII other than U+0000, `+`
    /// and `#`: a valid topic name, decided without the byte-by-byte rules. `false` also for
    /// views shorter than a machine word, which the byte-wise check handles. Reads a word at a
    /// time, the last word overlapping the one before it, without early exit (topics are short).
    @inline(__always)
    static func isPlain(_ bytes: ByteView) -> Bool {
        let count = bytes.count
        let width = MemoryLayout<UInt>.size
        guard count >= width, let base = bytes.baseAddress else { return false }
        #if (arch(x86_64) || arch(arm64)) && !hasFeature(Embedded)
        // The same test on 16 bytes at a time (SSE2 / NEON), per byte lane: no borrows across.
        if count >= 16 {
            @inline(__always) func flags16(_ at: Int) -> SIMD16<UInt8> {
                let v = base.loadUnaligned(fromByteOffset: at, as: SIMD16<UInt8>.self)
                let y = (v | SIMD16(repeating: 0x08)) ^ SIMD16(repeating: 0x2B)
                return (v &- SIMD16(repeating: 1)) | v | (y &- SIMD16(repeating: 1))
            }
            // First and last 16 bytes (overlapping below 32), then the middle: without a loop
            // up to 48 bytes (IoT Hub's telemetry topics), 16 at a time beyond.
            var any16 = flags16(0) | flags16(count &- 16)
            if count > 32 {
                any16 |= flags16(16)
                var i = 32
                while i &+ 16 < count {
                    any16 |= flags16(i)
                    i &+= 16
                }
            }
            let halves = unsafeBitCast(any16, to: SIMD2<UInt64>.self)
            return (halves[0] | halves[1]) & 0x8080_8080_8080_8080 == 0
        }
        #endif
        let ones = UInt.max / 0xFF  // 0x0101…01
        let highs = ones &* 0x80
        // `+` (0x2B) and `#` (0x23) differ only in bit 3: with it set, both are 0x2B and no
        // other byte is.
        let eights = ones &* 0x08
        let wildcards = ones &* UInt(UInt8(ascii: "+"))
        // Per byte, the high bit of the result is set by a byte >= 0x80 (`| w`), a zero byte
        // (`w - 1` borrows) or a `+`/`#` (`y - 1` borrows, y = (w | 8) ^ 0x2B). A borrow carried
        // into the next byte starts only at a byte that is flagged itself, so the test is exact
        // as to whether any byte is one of these (`y`'s high bits are clear unless `w`'s are).
        @inline(__always) func flags(_ at: Int) -> UInt {
            let w = base.loadUnaligned(fromByteOffset: at, as: UInt.self)
            let y = (w | eights) ^ wildcards
            return (w &- ones) | w | (y &- ones)
        }
        var any: UInt = 0
        var i = 0
        while i &+ 2 &* width < count {
            any |= flags(i) | flags(i &+ width)
            i &+= 2 &* width
        }
        if i &+ width < count { any |= flags(i) }
        any |= flags(count &- width)
        return any & highs == 0
    }

    #if !hasFeature(Embedded)
    /// `isPlain` for any length: `true` when `bytes` is not empty and every byte is plain ASCII
    /// other than U+0000, `+` and `#` (a valid topic name). Views shorter than a machine word
    /// are tested as one word built from overlapping loads (two 4-byte loads from 4 bytes on,
    /// else the first, middle and last byte). Hosts only: the PUBLISH fast paths, which hand
    /// anything it does not vouch for to the byte-wise check.
    @inline(__always)
    static func isPlainTopicName(_ bytes: ByteView) -> Bool {
        let count = bytes.count
        if count >= MemoryLayout<UInt>.size { return isPlain(bytes) }
        guard count > 0, let base = bytes.baseAddress else { return false }
        let word: UInt64
        if count >= 4 {
            word = UInt64(base.loadUnaligned(as: UInt32.self))
                | UInt64(base.loadUnaligned(fromByteOffset: count &- 4, as: UInt32.self)) &<< 32
        } else {
            // 0x61 (`a`) fills the bytes not loaded.
            word = UInt64(base.load(as: UInt8.self))
                | UInt64(base.load(fromByteOffset: count &>> 1, as: UInt8.self)) &<< 8
                | UInt64(base.load(fromByteOffset: count &- 1, as: UInt8.self)) &<< 16
                | 0x6161_6161_6100_0000
        }
        // The test of `isPlain`'s word loop (see there).
        let ones: UInt64 = 0x0101_0101_0101_0101
        let y = (word | 0x0808_0808_0808_0808) ^ 0x2B2B_2B2B_2B2B_2B2B
        return ((word &- ones) | word | (y &- ones)) & 0x8080_8080_8080_8080 == 0
    }
    #endif

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
