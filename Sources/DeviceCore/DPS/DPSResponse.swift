/// The registration status DPS reports (`status` in a response body).
public enum DPSRegistrationStatus: Equatable, Sendable {
    case unassigned
    case assigning
    case assigned
    case failed
    case disabled

    /// Whether the operation is over: only `assigned`, `failed` and `disabled` end it.
    public var isFinal: Bool {
        switch self {
        case .assigned, .failed, .disabled: return true
        case .unassigned, .assigning: return false
        }
    }
}

/// A DPS response the device could not make sense of. The registration cannot go on with it.
public enum DPSProtocolError: Error, Equatable, Sendable {
    /// The topic starts like a DPS response but its status or query is malformed.
    case malformedResponseTopic(offset: Int)
    /// The body is not valid JSON.
    case malformedJSON(JSONError)
    /// The body is JSON but not an object.
    case bodyNotAnObject
    /// `status` holds a value DPS does not define.
    case unknownStatus
    /// A 200 or 202 body without `status`.
    case missingStatus
    /// An `assigning` or `unassigned` body without `operationId`, and none known from before.
    case missingOperationID
    /// `assignedHub` and `deviceId` must come together.
    case assignmentWithoutHubOrDevice
    /// The response holds more text than the results buffer (or the operation id's 128 bytes)
    /// has room for: `needed` is all the text the response would keep there.
    case bufferTooSmall(BufferTooSmall)
}

/// The fields of a DPS response body that the device uses; unknown keys are skipped. Text is
/// decoded (JSON escapes undone) into a `ByteArena`; `payload` is the raw JSON, passed through.
/// A member whose value is `null` (or of the wrong type) counts as absent, as in Azure's SDKs:
/// `"payload": null` is no payload, and it does not undo an earlier member of the same name.
public struct DPSResponseBody: Equatable {
    public var operationID: ByteView?
    public var status: DPSRegistrationStatus?
    public var assignedHub: ByteView?
    public var deviceID: ByteView?
    public var substatus: ByteView?
    public var payload: ByteView?
    /// `registrationState.errorCode` or the top-level `errorCode` of an error body. DPS's codes
    /// have six digits; one that is not an integer within Int32 counts as absent, like any value
    /// of the wrong type (32 bits: no 64-bit arithmetic for it on a Cortex-M0).
    public var errorCode: Int32?
    /// `registrationState.errorMessage` or the top-level `message` of an error body.
    public var errorMessage: ByteView?
    public var trackingID: ByteView?

    /// No fields. Out of line: nine absent fields are many stores, once here.
    @inline(never)
    public init() {}

    /// Parses `body`; an empty body gives no fields.
    public static func parse(_ body: ByteView, into arena: inout ByteArena) throws(DPSProtocolError) -> DPSResponseBody {
        var result = DPSResponseBody()
        try result.read(body, arena: &arena)
        return result
    }

    /// `parse` into `self` (as from `init()`), for a caller that keeps the fields in its own
    /// frame: a returned body was built in this frame and copied out, twice.
    @inline(never)
    mutating func read(_ body: ByteView, arena: inout ByteArena) throws(DPSProtocolError) {
        if body.isEmpty { return }
        var reader = JSONReader(body)
        var unknownStatus = false
        // The text the arena would need, once a string did not fit; reading goes on to count the
        // rest (and to check the document), so that the error gives the whole size.
        var needed = 0
        let first: JSONToken?
        do throws(JSONError) { first = try reader.next() } catch { throw .malformedJSON(error) }
        guard case .beginObject? = first else { throw .bodyNotAnObject }
        do throws(JSONError) {
            try readObject(&reader, arena: &arena, nested: false, unknownStatus: &unknownStatus, needed: &needed)
            while try reader.next() != nil {}  // validates the end of the document
        } catch {
            throw .malformedJSON(error)
        }
        if needed > 0 { throw .bufferTooSmall(BufferTooSmall(needed: needed, capacity: arena.storage.count)) }
        if unknownStatus { throw .unknownStatus }
    }

    /// The member names the reader knows, each followed by a byte saying where it counts (bit 0:
    /// the top level, bit 1: inside `registrationState`); a name's place is its `Member`. One
    /// literal and one lookup instead of a comparison (and its code) per name.
    static let memberNames: StaticString =
        "registrationState\u{1}operationId\u{1}status\u{3}errorCode\u{3}assignedHub\u{2}deviceId\u{2}substatus\u{2}payload\u{2}errorMessage\u{2}message\u{1}trackingId\u{1}"
    /// The registration statuses, in `DPSRegistrationStatus`'s order.
    static let statusNames: StaticString = "unassigned\u{1}assigning\u{1}assigned\u{1}failed\u{1}disabled\u{1}"

    /// The place in `names` (see `memberNames`) of the name equal to `key` whose scope byte has
    /// a bit of `scope`, or the number of names when there is none.
    @inline(never)
    static func index(of key: JSONString, in names: StaticString, scope: UInt8) -> Int {
        let names = ByteView(names)
        var index = 0
        var start = 0
        var i = 0
        while i < names.count {
            let byte = names[i]
            if byte < 0x20 {
                if byte & scope != 0 && key.equals(names.slice(from: start, count: i - start)) { return index }
                index += 1
                start = i + 1
            }
            i += 1
        }
        return index
    }

    /// Reads the members of an object whose `{` was just read, up to and including its `}`.
    /// `nested` is true inside `registrationState`.
    private mutating func readObject(
        _ reader: inout JSONReader, arena: inout ByteArena, nested: Bool, unknownStatus: inout Bool, needed: inout Int
    ) throws(JSONError) {
        while let token = try reader.next() {
            guard case .key(let key) = token else { return }  // `}`: the grammar allows nothing else here
            // 0 registrationState, 1 operationId, 2 status, 3 errorCode, 4 assignedHub,
            // 5 deviceId, 6 substatus, 7 payload, 8 errorMessage, 9 message, 10 trackingId.
            let member = Self.index(of: key, in: Self.memberNames, scope: nested ? 2 : 1)
            // The text kept in the arena: a string's decoded value, or the payload's raw JSON (a
            // string without escapes decodes to itself), through one copy into the arena.
            let text: JSONString
            if member == 7 {
                let raw = try reader.captureValue()
                if raw == ByteView("null") { continue }
                text = JSONString(raw: raw, offset: 0, hasEscapes: false)
            } else {
                let value = try reader.next()
                switch value {
                case .beginObject? where member == 0:
                    try readObject(&reader, arena: &arena, nested: true, unknownStatus: &unknownStatus, needed: &needed)
                    continue
                case .number(let n)? where member == 3:
                    if let code = n.int64(), code >= -0x8000_0000, code <= 0x7FFF_FFFF { errorCode = Int32(truncatingIfNeeded: code) }
                    continue
                case .string(let s)? where member == 2:
                    // The top-level status decides; registrationState's only fills a gap.
                    let found = Self.index(of: s, in: Self.statusNames, scope: 1)
                    var parsed: DPSRegistrationStatus?
                    switch found {
                    case 0: parsed = .unassigned
                    case 1: parsed = .assigning
                    case 2: parsed = .assigned
                    case 3: parsed = .failed
                    case 4: parsed = .disabled
                    default: unknownStatus = true
                    }
                    if !nested || status == nil { status = parsed }
                    continue
                case .string(let s)? where member == 1 || (member >= 4 && member < 11):
                    text = s
                default:
                    // Another member, or a known one whose value is null or of the wrong type.
                    try skipRest(of: value, &reader)
                    continue
                }
            }
            if needed > 0 {
                needed += text.decodedCount
                continue
            }
            let decoded: ByteView
            do throws(BufferTooSmall) { decoded = try text.decode(into: arena.freeSpace) } catch {
                needed = arena.used + error.needed
                continue
            }
            let kept = arena.commit(decoded.count)
            switch member {
            case 1: operationID = kept
            case 4: assignedHub = kept
            case 5: deviceID = kept
            case 6: substatus = kept
            case 7: payload = kept
            case 10: trackingID = kept
            default: errorMessage = kept  // 8, 9
            }
        }
    }

    /// Skips the remainder of a value whose first token has been read.
    @inline(never)
    private func skipRest(of token: JSONToken?, _ reader: inout JSONReader) throws(JSONError) {
        switch token {
        case .beginObject?, .beginArray?:
            // Up to the bracket that closes this container, which takes the depth below it.
            let level = reader.depth
            while reader.depth >= level { _ = try reader.next() }
        default:
            return
        }
    }
}
