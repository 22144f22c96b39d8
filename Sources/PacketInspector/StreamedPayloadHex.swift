/// The rest of a PUBLISH object whose `payload_hex` is too long to hold, once its head has been
/// encoded and written: the string's hex, checked and written out as it is read, then the
/// object's closing `}` (`payload_hex` must be its last member), then the line's end.
struct StreamedPayloadHex {
    /// `object N (publish)`, for errors.
    let objectName: String
    /// The payload's length, from `payload_len`.
    let payloadLength: Int
    /// Payload bytes read so far (those past `payloadLength` are counted, not written).
    private(set) var received = 0
    private var string: JSONHexStringReader?
    /// After the string: the line and column of the next byte.
    private(set) var line: Int
    private(set) var column: Int
    private(set) var isDone = false

    /// The payload's string from its first character, at `line` and `column`.
    init(objectName: String, payloadLength: Int, line: Int, column: Int) {
        self.objectName = objectName
        self.payloadLength = payloadLength
        self.line = line
        self.column = column
        string = JSONHexStringReader(line: line, column: column)
    }

    /// Reads the object's next bytes from the start of `bytes` and returns how many it took (all,
    /// unless the object has ended).
    mutating func feed(_ bytes: UnsafeRawBufferPointer, to output: OutputBuffer) throws(InspectorError) -> Int {
        var index = 0
        if var reader = string {
            let payloadLength = payloadLength
            var received = received
            let read: (taken: Int, ended: Bool)
            do throws(JSONHexStringReader.Failure) {
                read = try reader.read(bytes) { payload in
                    let room = max(0, min(payload.count, payloadLength - received))
                    output.appendHex(UnsafeRawBufferPointer(rebasing: payload[..<room]))
                    received += payload.count
                }
            } catch {
                self.received = received
                throw failure(error)
            }
            self.received = received
            string = reader
            index = read.taken
            guard read.ended else { return index }
            string = nil
            column = reader.column
        }
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case 0x20, 0x09, 0x0D:
                column += 1
            case 0x0A:
                line += 1
                column = 1
            case UInt8(ascii: "}"):
                column += 1
                guard received == payloadLength else {
                    throw InspectorError("\(objectName): field \"payload_len\": is \(payloadLength) but the payload has \(received) bytes")
                }
                output.append("\n")
                isDone = true
                return index
            case UInt8(ascii: ","):
                throw InspectorError(
                    "\(objectName): field \"payload_hex\": must be the object's last member when it is longer than "
                        + "\(InspectorLimits.heldJSONSize) characters (it is written out as it is read)")
            default:
                throw InspectorError("invalid JSON at line \(line), column \(column): expected ',' or '}', found \(JSONHexStringReader.describe(byte))")
            }
        }
        return index
    }

    /// What is wrong when the input ends inside the object.
    func cutOff() -> InspectorError {
        if let string { return failure(string.cutOff()) }
        return InspectorError("invalid JSON at line \(line), column \(column): expected ',' or '}', found end of input")
    }

    private func failure(_ failure: JSONHexStringReader.Failure) -> InspectorError {
        switch failure {
        case .json(let line, let column, let message): return InspectorError("invalid JSON at line \(line), column \(column): \(message)")
        case .hex(let error): return InspectorError("\(objectName): field \"payload_hex\": \(error.message)")
        }
    }
}
