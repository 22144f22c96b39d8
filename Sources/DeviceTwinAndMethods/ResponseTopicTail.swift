import DeviceCore

/// The tail that DPS's and IoT Hub's response topics share after their prefix:
/// `{status}/?{query}`, a three-digit status, then an optional `/`, then optionally `?` and a
/// property bag (`$rid=1&$version=4`, keys in any order).
struct ResponseTopicTail {
    var status: UInt16
    /// The pairs after `?`; none when the topic has no query.
    var query: TopicQuery

    /// The tail of `topic` from `start`, or the offset of the first byte that does not fit.
    static func parse(_ topic: ByteView, from start: Int) -> (tail: ResponseTopicTail?, errorOffset: Int) {
        var position = start
        var status: UInt16 = 0
        while position < topic.count, position - start < 3, let digit = DecimalText.digit(topic[position]) {
            status = status * 10 + UInt16(truncatingIfNeeded: digit)
            position += 1
        }
        guard position - start == 3 else { return (nil, position) }
        if position < topic.count && topic[position] == UInt8(ascii: "/") { position += 1 }
        if position == topic.count { return (ResponseTopicTail(status: status, query: TopicQuery(topic, from: position)), 0) }
        guard topic[position] == UInt8(ascii: "?") else { return (nil, position) }
        position += 1
        return (ResponseTopicTail(status: status, query: TopicQuery(topic, from: position)), 0)
    }
}
