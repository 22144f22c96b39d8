/// A property bag (`k1=v1&k2=v2`) is malformed.
public struct PropertyBagError: Error, Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// A pair with nothing before its `=` (`=v`).
        case emptyKey
        /// A `%` not followed by two hex digits.
        case invalidEscape
    }

    /// What is wrong.
    public let kind: Kind
    /// Offset within the bag's bytes: the pair's start for `.emptyKey`, the `%` for `.invalidEscape`.
    public let offset: Int

    public init(kind: Kind, offset: Int) {
        self.kind = kind
        self.offset = offset
    }
}

/// Reads the pairs of an IoT Hub property bag, `k1=v1&k2=v2`, as found at the end of a topic
/// (`bag(inTopic:)` says where).
///
/// Keys and values are handed out still percent-encoded, as views into the bag: decode them with
/// `PercentEncoding.decode(_:into:)` or compare with `PercentEncoding.decodedEquals(_:_:)`
/// (`%24.ct` and `$.ct` are the same key). A key without `=` has an empty value; empty pairs
/// (`&&`, a leading or trailing `&`) are skipped. Escapes are checked to be well-formed.
public struct PropertyBagReader {
    /// The bag's bytes.
    public let bytes: ByteView
    /// Offset of the next pair.
    public private(set) var offset = 0

    /// A reader over `bytes`, which must stay valid while the reader and its views are used.
    public init(_ bytes: ByteView) {
        self.bytes = bytes
    }

    /// The still-encoded property bag of an IoT Hub or DPS topic, found where the topic's kind
    /// puts it, or `nil` for a topic of another kind:
    /// - cloud to device, `devices/{deviceId}/messages/devicebound/{bag}`: everything after the
    ///   first `/messages/devicebound/`, `/`, `?` and `=` included (IoT Hub leaves some of them
    ///   unencoded there; azure-sdk-for-c's `az_iot_hub_client_c2d_parse_received_topic` also
    ///   locates the bag by that suffix);
    /// - DPS, twin and methods, `$dps/…/?{bag}` and `$iothub/…/?{bag}`: everything after the
    ///   first `?` (`nil` without one).
    public static func bag(inTopic topic: ByteView) -> ByteView? {
        if topic.hasPrefix(ByteView("devices/")) {
            guard let end = topic.end(ofFirst: ByteView("/messages/devicebound/")) else { return nil }
            return topic.slice(from: end, count: topic.count - end)
        }
        guard topic.hasPrefix(ByteView("$dps/")) || topic.hasPrefix(ByteView("$iothub/")) else { return nil }
        var index = 0
        while index < topic.count {
            if topic[index] == UInt8(ascii: "?") { return topic.slice(from: index + 1, count: topic.count - index - 1) }
            index += 1
        }
        return nil
    }

    /// The next pair, still percent-encoded, or `nil` after the last one.
    public mutating func next() throws(PropertyBagError) -> (key: ByteView, value: ByteView)? {
        while offset < bytes.count && bytes[offset] == UInt8(ascii: "&") { offset += 1 }
        guard offset < bytes.count else { return nil }
        let start = offset
        var equals = -1
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "&") { break }
            if byte == UInt8(ascii: "=") && equals < 0 { equals = index }
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, hexValue(bytes[index + 1]) != nil, hexValue(bytes[index + 2]) != nil else {
                    throw PropertyBagError(kind: .invalidEscape, offset: index)
                }
                index += 2
            }
            index += 1
        }
        if equals == start { throw PropertyBagError(kind: .emptyKey, offset: start) }
        offset = index
        if equals < 0 { return (bytes.slice(from: start, count: index - start), ByteView()) }
        return (bytes.slice(from: start, count: equals - start), bytes.slice(from: equals + 1, count: index - equals - 1))
    }

    /// The still-encoded value of the first pair whose decoded key is `key`, or `nil`. Reads
    /// the bag from its start, whatever pairs `next()` has already returned.
    public func value(forKey key: StaticString) throws(PropertyBagError) -> ByteView? {
        var reader = PropertyBagReader(bytes)
        while let pair = try reader.next() {
            if PercentEncoding.decodedEquals(pair.key, key) { return pair.value }
        }
        return nil
    }
}

/// Writes an IoT Hub property bag, `k1=v1&k2=v2`, percent-encoding names and values.
///
/// Values are encoded strictly (everything but RFC 3986 unreserved characters). Names keep a
/// literal `$` so system properties come out as IoT Hub documents them (`$.ct=application%2Fjson`);
/// `%24.ct` would mean the same.
public struct PropertyBagWriter {
    /// The text written so far (including anything the writer held before the bag began).
    public private(set) var writer: TextWriter
    /// Pairs written so far.
    public private(set) var pairCount = 0

    /// A writer that starts at the beginning of `buffer`.
    public init(into buffer: UnsafeMutableRawBufferPointer) {
        writer = TextWriter(into: buffer)
    }

    /// A writer that continues `writer`, e.g. after a topic's fixed part.
    public init(_ writer: TextWriter) {
        self.writer = writer
    }

    /// Adds `key=value`, both percent-encoded, with `&` before it unless it is the first.
    public mutating func add(key: ByteView, value: ByteView) {
        separate()
        PercentEncoding.encode(key, alsoKeeping: UInt8(ascii: "$"), into: &writer)
        writer.append(UInt8(ascii: "="))
        PercentEncoding.encode(value, into: &writer)
    }

    /// Adds `key=value`, both percent-encoded.
    public mutating func add(key: StaticString, value: ByteView) {
        add(key: ByteView(key), value: value)
    }

    /// Adds `key=value`, both percent-encoded.
    public mutating func add(key: StaticString, value: StaticString) {
        add(key: ByteView(key), value: ByteView(value))
    }

    /// Adds a pair whose key and value are already percent-encoded (e.g. from a
    /// `PropertyBagReader`), as they are.
    public mutating func addEncoded(key: ByteView, value: ByteView) {
        separate()
        writer.append(key)
        writer.append(UInt8(ascii: "="))
        writer.append(value)
    }

    /// The bag (and whatever preceded it), or the exact size it needs.
    public func finish() throws(BufferTooSmall) -> ByteView {
        try writer.finish()
    }

    private mutating func separate() {
        if pairCount > 0 { writer.append(UInt8(ascii: "&")) }
        pairCount += 1
    }
}
