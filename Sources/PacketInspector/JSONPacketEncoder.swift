import HostJSON

/// `encode`'s pipeline: JSON values, one after another and fed in pieces of any size (or
/// given whole, from arguments), to one hex line per packet on `output`.
///
/// Each top-level value is held until it is complete (`JSONValueSplitter`), up to
/// `heldJSONSize` bytes, then parsed by `JSONParser` and encoded; top-level arrays hold
/// packets too. A PUBLISH object whose `payload_hex` runs past that size is streamed instead
/// (`StreamedPayloadHex`), when `payload_len` and its other members come before it. Objects
/// are counted from 1, arrays flattened; errors come in input order, after the lines before.
public final class JSONPacketEncoder {
    private let output: OutputBuffer
    private let heldJSONSize: Int
    private var splitter = JSONValueSplitter()
    private var streamed: StreamedPayloadHex?
    /// Objects encoded so far.
    private var objectCount = 0

    public convenience init(output: OutputBuffer) {
        self.init(output: output, heldJSONSize: InspectorLimits.heldJSONSize)
    }

    init(output: OutputBuffer, heldJSONSize: Int) {
        self.output = output
        self.heldJSONSize = heldJSONSize
    }

    /// Reads the next piece of standard input.
    public func feed(_ bytes: UnsafeRawBufferPointer) throws(InspectorError) {
        var index = 0
        while index < bytes.count {
            if streamed != nil {
                do throws(InspectorError) {
                    index += try streamed!.feed(UnsafeRawBufferPointer(rebasing: bytes[index...]), to: output)
                } catch {
                    output.append("\n")  // the packet's line was begun: it ends unfinished
                    throw error
                }
                if streamed!.isDone {
                    splitter.resume(line: streamed!.line, column: streamed!.column)
                    streamed = nil
                }
                continue
            }
            let (next, event) = splitter.scan(bytes, from: index, limit: heldJSONSize)
            index = next
            switch event {
            case .needMore: break
            case .valueEnded: try encodeHeldValue()
            case .overLimit: try streamOrRefuse()
            }
        }
    }

    /// Ends standard input: a value or streamed object cut off is an error.
    public func finish() throws(InspectorError) {
        if let streamed {
            output.append("\n")
            throw streamed.cutOff()
        }
        if !splitter.held.isEmpty { try encodeHeldValue() }
    }

    /// Encodes the packets of one whole JSON value (a packet object or an array of them).
    public func encode(_ value: JSONValue) throws(InspectorError) {
        let objects: [JSONValue]
        if case .array(let elements) = value { objects = elements } else { objects = [value] }
        for object in objects {
            objectCount += 1
            do throws(InspectorError) {
                output.append(Hex.string(try PacketInspector.encode(object)) + "\n")
            } catch {
                throw InspectorError("\(objectName(object)): \(error.message)")
            }
        }
    }

    /// `object N (type)`, or `object N` when the type cannot be read.
    private func objectName(_ object: JSONValue) -> String {
        if case .string(let type)? = object["type"] { return "object \(objectCount) (\(type))" }
        return "object \(objectCount)"
    }

    /// Parses the value the splitter holds and encodes it.
    private func encodeHeldValue() throws(InspectorError) {
        let values = try parseHeld(splitter.held.count)
        _ = splitter.take()
        for value in values { try encode(value) }
    }

    /// The values in the first `count` held bytes followed by `closing`; the error in them as
    /// `JSONParser` words it, at its line and column in the input.
    private func parseHeld(_ count: Int, closedWith closing: String = "") throws(InspectorError) -> [JSONValue] {
        do throws(JSONSyntaxError) {
            return try heldValues(count, closedWith: closing)
        } catch {
            throw syntaxError(at: error.offset, error.message)
        }
    }

    /// The values in the first `count` held bytes followed by `closing`, by `JSONParser`; text
    /// that is not UTF-8 is an error too.
    private func heldValues(_ count: Int, closedWith closing: String = "") throws(JSONSyntaxError) -> [JSONValue] {
        let bytes = splitter.held[..<count]
        guard let text = String(validating: bytes, as: UTF8.self) else {
            let offset = Self.firstInvalidUTF8(bytes)
            throw JSONSyntaxError(offset: offset, message: "not UTF-8 text (byte 0x\(Hex.string([bytes[offset]])))")
        }
        return try JSONParser.parseSequence(text + closing)
    }

    /// The held value has grown past `heldJSONSize`: a PUBLISH's `payload_hex` is streamed;
    /// anything else is refused, after the syntax error in it, if there is one.
    private func streamOrRefuse() throws(InspectorError) {
        let held = splitter.held
        if splitter.isInMemberString, let key = try? JSONParser.parse(String(decoding: held[splitter.keyRange], as: UTF8.self)),
           key == .string("payload_hex") {
            try startStreaming()
            return
        }
        // An error before the last cut between tokens is the value's own (JSONParser reads
        // left to right); one at the cut only says that the value goes on.
        do throws(JSONSyntaxError) {
            if splitter.safeCut > 0 { _ = try heldValues(splitter.safeCut) }
        } catch {
            if error.offset < splitter.safeCut { throw syntaxError(at: error.offset, error.message) }
        }
        let (line, column) = splitter.position(of: 0)
        throw InspectorError(
            "line \(line), column \(column): JSON value longer than \(heldJSONSize) bytes: encode holds each value whole, "
                + "but for the \"payload_hex\" of a PUBLISH object, which it streams when it comes last, after \"payload_len\"")
    }

    /// Encodes and writes the head of the PUBLISH whose `payload_hex` the splitter is in, then
    /// streams the rest of the object.
    private func startStreaming() throws(InspectorError) {
        let held = splitter.held
        // The members before `payload_hex`, as an object of their own.
        let head = try parseHeld(splitter.memberStart, closedWith: "}")[0]
        if head["payload_hex"] != nil { throw syntaxError(at: splitter.keyRange.lowerBound, "duplicate key \"payload_hex\"") }
        objectCount += 1
        let name = objectName(head)
        let encodedHead: (head: [UInt8], payloadLength: Int)
        do throws(InspectorError) {
            guard head["type"] == .string("publish") else {
                // Not a PUBLISH: the error the held object would have had (`payload_hex` is
                // unknown to every other type).
                _ = try PacketInspector.encode(setting(head, "payload_hex", .string("")))
                throw InspectorError("unknown field \"payload_hex\"")
            }
            encodedHead = try PacketInspector.encodeStreamedPublishHead(head)
        } catch {
            throw InspectorError("\(name): \(error.message)")
        }
        output.append(Hex.string(encodedHead.head))
        let contentStart = splitter.valueStart + 1
        let (line, column) = splitter.position(of: contentStart)
        var rest = StreamedPayloadHex(objectName: name, payloadLength: encodedHead.payloadLength, line: line, column: column)
        splitter.resume(line: 0, column: 0)  // until the object ends: the position is `rest`'s
        do throws(InspectorError) {
            let taken = try held[contentStart...].withUnsafeBytes { raw in
                Result { () throws(InspectorError) in try rest.feed(raw, to: output) }
            }.get()
            precondition(taken == held.count - contentStart, "the held object ended inside its own string")
        } catch {
            output.append("\n")
            throw error
        }
        streamed = rest
    }

    /// `invalid JSON at line L, column C: message`, for an offset in the held value.
    private func syntaxError(at offset: Int, _ message: String) -> InspectorError {
        let (line, column) = splitter.position(of: offset)
        return InspectorError("invalid JSON at line \(line), column \(column): \(message)")
    }

    private func setting(_ object: JSONValue, _ key: String, _ value: JSONValue) -> JSONValue {
        guard case .object(let members) = object else { return object }
        return .object(members + [JSONMember(key, value)])
    }

    private static func firstInvalidUTF8(_ bytes: ArraySlice<UInt8>) -> Int {
        var decoder = UTF8ScalarDecoder()
        var start = 0
        for (offset, byte) in bytes.enumerated() {
            switch decoder.step(byte) {
            case .scalar: start = offset + 1
            case .pending: break
            case .invalid: return offset
            }
        }
        return start  // the text ends inside a character
    }
}
