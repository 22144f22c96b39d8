/// A 1-based line and column (in bytes) in a text, for error messages that point at a place.
public struct TextPosition: Equatable, Sendable {
    public var line: Int
    public var column: Int

    public init(line: Int = 1, column: Int = 1) {
        self.line = line
        self.column = column
    }

    /// The position after `bytes`, read from this one: a newline starts the next line.
    public func advanced<Bytes: Sequence<UInt8>>(over bytes: Bytes) -> TextPosition {
        var position = self
        for byte in bytes {
            if byte == 0x0A {
                position.line += 1
                position.column = 1
            } else {
                position.column += 1
            }
        }
        return position
    }
}
