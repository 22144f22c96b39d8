import DeviceCore

/// The query of a DPS or IoT Hub topic (`$rid=1&$version=4` after the `?`), read pair by pair
/// with each pair's offset in the whole topic, so that an error can say where it is.
struct TopicQuery {
    /// A pair, or a value, is malformed at `offset` in the topic.
    struct Malformed: Error {
        let offset: Int
    }

    struct Pair {
        let key: ByteView
        let value: ByteView
        /// Where the pair starts in the topic.
        let offset: Int

        /// The value as a decimal number of at most `maximum`.
        func decimal(maximum: UInt64) throws(Malformed) -> UInt64 {
            guard let number = DecimalText.parse(value, maximum: maximum) else { throw Malformed(offset: offset) }
            return number
        }
    }

    private var bag: PropertyBagReader
    private let start: Int

    /// The query that ends `topic`, starting at `start` (just after the `?`).
    init(_ topic: ByteView, from start: Int) {
        bag = PropertyBagReader(topic.slice(from: start, count: topic.count - start))
        self.start = start
    }

    /// The next pair, `nil` after the last.
    mutating func next() throws(Malformed) -> Pair? {
        do throws(PropertyBagError) {
            guard let pair = try bag.next() else { return nil }
            // Keys are never empty (`=v` is an error), so the key's address says where the pair starts.
            let offset = start + (pair.key.baseAddress.unsafelyUnwrapped - bag.bytes.baseAddress.unsafelyUnwrapped)
            return Pair(key: pair.key, value: pair.value, offset: offset)
        } catch {
            throw Malformed(offset: start + error.offset)
        }
    }
}
