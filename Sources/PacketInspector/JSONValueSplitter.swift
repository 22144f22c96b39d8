import HostJSON

/// Finds where each top-level JSON value of a stream ends, without parsing it (`JSONParser`
/// parses it once it is whole), so that `encode` holds one value at a time.
///
/// It follows strings, brackets and, in a top-level object, the grammar of the members, so
/// as to know when the value being held is a member's string (the candidate for streaming a
/// `payload_hex`). At the first byte that cannot be JSON there it ends the value, so that
/// `JSONParser` reports the error, with its own words and offset.
struct JSONValueSplitter {
    /// What `scan` stopped at.
    enum Event: Equatable {
        /// Every byte was taken; the value (if one has begun) goes on.
        case needMore
        /// The held value is complete (or broken at its last byte): take it with `take()`.
        case valueEnded
        /// The held value has grown past the limit.
        case overLimit
    }

    /// Where a top-level object is in the grammar of its members.
    private enum Member {
        case keyOrEnd, key, inKey, colon, value, stringValue, nestedValue, scalarValue, afterValue
    }

    /// The value begun and not yet taken.
    private(set) var held: [UInt8] = []
    /// Line and column (1-based, counting bytes, as `JSONSyntaxError.lineAndColumn`) of the next
    /// byte, and of the held value's first byte.
    private(set) var line = 1
    private(set) var column = 1
    private(set) var valueLine = 1
    private(set) var valueColumn = 1
    /// Offset in `held` just after the last `{ } [ ] , :` outside strings: a prefix cut there
    /// cuts no token in two.
    private(set) var safeCut = 0
    /// In a top-level object: where the current member begins in `held` (its `,`, or just after
    /// the `{`), its key's quotes and its value's first byte.
    private(set) var memberStart = 0
    private(set) var keyRange = 0..<0
    private(set) var valueStart = 0

    private var brackets: [UInt8] = []
    private var inString = false
    private var escaped = false
    private var scalar = false
    private var member = Member.keyOrEnd

    /// Whether the held value is a top-level object now inside one of its members' string
    /// values.
    var isInMemberString: Bool { inString && brackets == [UInt8(ascii: "{")] && member == .stringValue }

    /// Reads `bytes` from `start` until an event, and returns it with the offset of the first
    /// byte not taken.
    mutating func scan(_ bytes: UnsafeRawBufferPointer, from start: Int, limit: Int) -> (next: Int, event: Event) {
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            if held.isEmpty && !scalar {
                advance(byte)
                index += 1
                if Self.isSpace(byte) { continue }
                if begin(byte) { return (index, .valueEnded) }
            } else if scalar {
                // A top-level number, literal or stray word ends before space or punctuation.
                if Self.isSpace(byte) || Self.isPunctuation(byte) {
                    scalar = false
                    return (index, .valueEnded)
                }
                held.append(byte)
                advance(byte)
                index += 1
            } else {
                held.append(byte)
                advance(byte)
                index += 1
                if step(byte, at: held.count - 1) { return (index, .valueEnded) }
            }
            if held.count > limit { return (index, .overLimit) }
        }
        return (index, .needMore)
    }

    /// The held value; the splitter is then between values.
    mutating func take() -> [UInt8] {
        defer { reset() }
        return held
    }

    /// Forgets the held value (handed elsewhere) and goes on between values at `line`/`column`.
    mutating func resume(line: Int, column: Int) {
        reset()
        self.line = line
        self.column = column
    }

    /// Line and column of `offset` in the held value.
    func position(of offset: Int) -> (line: Int, column: Int) {
        let position = TextPosition(line: valueLine, column: valueColumn).advanced(over: held.prefix(offset))
        return (position.line, position.column)
    }

    /// The first byte of a value; `true` when that byte is the whole of it.
    private mutating func begin(_ byte: UInt8) -> Bool {
        valueLine = line
        valueColumn = column - 1
        held.append(byte)
        switch byte {
        case UInt8(ascii: "{"):
            brackets = [byte]
            member = .keyOrEnd
            memberStart = 1
            safeCut = 1
        case UInt8(ascii: "["):
            brackets = [byte]
            safeCut = 1
        case UInt8(ascii: "\""):
            inString = true
        case UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: ","), UInt8(ascii: ":"):
            return true  // never a value: JSONParser says so
        default:
            scalar = true
        }
        return false
    }

    /// One byte inside a string, array or object at `offset`; `true` when the value ends there.
    private mutating func step(_ byte: UInt8, at offset: Int) -> Bool {
        if inString {
            if escaped {
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                inString = false
                if brackets.isEmpty { return true }  // a top-level string
                if atMemberLevel {
                    if member == .inKey {
                        keyRange = keyRange.lowerBound..<(offset + 1)
                        member = .colon
                    } else if member == .stringValue {
                        member = .afterValue
                    }
                }
            }
            return false
        }
        let atMembers = atMemberLevel
        switch byte {
        case 0x20, 0x09, 0x0A, 0x0D:
            if atMembers && member == .scalarValue { member = .afterValue }
        case UInt8(ascii: "\""):
            inString = true
            if atMembers {
                switch member {
                case .keyOrEnd, .key:
                    member = .inKey
                    keyRange = offset..<offset
                case .value:
                    member = .stringValue
                    valueStart = offset
                default:
                    return true
                }
            }
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            if atMembers {
                guard member == .value else { return true }
                member = .nestedValue
            }
            brackets.append(byte)
            safeCut = offset + 1
            if brackets.count > 66 { return true }  // deeper than JSONParser goes
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            let open = brackets[brackets.count - 1]
            guard byte == (open == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")) else { return true }
            if atMembers && member != .keyOrEnd && member != .afterValue && member != .scalarValue { return true }
            brackets.removeLast()
            safeCut = offset + 1
            if brackets.isEmpty { return true }
            if atMemberLevel { member = .afterValue }  // a member's array or object has closed
        case UInt8(ascii: ","):
            safeCut = offset + 1
            if atMembers {
                guard member == .afterValue || member == .scalarValue else { return true }
                member = .key
                memberStart = offset
            }
        case UInt8(ascii: ":"):
            safeCut = offset + 1
            if atMembers {
                guard member == .colon else { return true }
                member = .value
            }
        default:
            if atMembers {
                switch member {
                case .value: member = .scalarValue
                case .scalarValue: break
                default: return true
                }
            }
        }
        return false
    }

    /// Directly inside a top-level object, where its members are.
    private var atMemberLevel: Bool { brackets.count == 1 && brackets[0] == UInt8(ascii: "{") }

    private mutating func advance(_ byte: UInt8) {
        if byte == 0x0A {
            line += 1
            column = 1
        } else {
            column += 1
        }
    }

    private mutating func reset() {
        held = []
        brackets = []
        inString = false
        escaped = false
        scalar = false
        member = .keyOrEnd
        safeCut = 0
    }

    /// JSON's whitespace.
    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    private static func isPunctuation(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "{"), UInt8(ascii: "}"), UInt8(ascii: "["), UInt8(ascii: "]"),
             UInt8(ascii: ","), UInt8(ascii: ":"), UInt8(ascii: "\""):
            return true
        default:
            return false
        }
    }
}
