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
    /// The body lacks a field the response needs (e.g. `operationId` while assigning).
    case missingField(StaticString)
    /// `assignedHub` and `deviceId` must come together.
    case assignmentWithoutHubOrDevice
    /// The response holds more text than the results buffer has room for.
    case resultsBufferTooSmall(needed: Int, available: Int)

    public static func == (lhs: DPSProtocolError, rhs: DPSProtocolError) -> Bool {
        switch (lhs, rhs) {
        case (.malformedResponseTopic(let a), .malformedResponseTopic(let b)): return a == b
        case (.malformedJSON(let a), .malformedJSON(let b)): return a == b
        case (.unknownStatus, .unknownStatus), (.assignmentWithoutHubOrDevice, .assignmentWithoutHubOrDevice),
            (.bodyNotAnObject, .bodyNotAnObject):
            return true
        case (.missingField(let a), .missingField(let b)): return ByteView(a) == ByteView(b)
        case (.resultsBufferTooSmall(let a, let b), .resultsBufferTooSmall(let c, let d)): return a == c && b == d
        default: return false
        }
    }
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
    /// `registrationState.errorCode` or the top-level `errorCode` of an error body.
    public var errorCode: Int64?
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
        let first: JSONToken?
        do throws(JSONError) { first = try reader.next() } catch { throw .malformedJSON(error) }
        guard case .beginObject? = first else { throw .bodyNotAnObject }
        do throws(JSONError) {
            try readObject(&reader, arena: &arena, nested: false, unknownStatus: &unknownStatus)
            while try reader.next() != nil {}  // validates the end of the document
        } catch {
            if case .bufferTooSmall(let needed) = error.kind {
                throw .resultsBufferTooSmall(needed: needed, available: arena.available)
            }
            throw .malformedJSON(error)
        }
        if unknownStatus { throw .unknownStatus }
    }

    /// Reads the members of an object whose `{` was just read, up to and including its `}`.
    /// `nested` is true inside `registrationState`.
    private mutating func readObject(
        _ reader: inout JSONReader, arena: inout ByteArena, nested: Bool, unknownStatus: inout Bool
    ) throws(JSONError) {
        while let token = try reader.next() {
            guard case .key(let key) = token else { return }  // `}`: the grammar allows nothing else here
            if key.equals("registrationState") && !nested {
                let value = try reader.next()
                if case .beginObject = value {
                    try readObject(&reader, arena: &arena, nested: true, unknownStatus: &unknownStatus)
                } else {
                    try skipRest(of: value, &reader)
                }
            } else if key.equals("operationId") && !nested {
                if let text = try string(&reader, &arena) { operationID = text }
            } else if key.equals("status") {
                let text = try reader.next()
                if case .string(let s) = text {
                    // The top-level status decides; registrationState's only fills a gap.
                    let parsed = Self.status(s)
                    if parsed == nil { unknownStatus = true }
                    if !nested || status == nil { status = parsed }
                } else {
                    try skipRest(of: text, &reader)
                }
            } else if nested && key.equals("assignedHub") {
                if let text = try string(&reader, &arena) { assignedHub = text }
            } else if nested && key.equals("deviceId") {
                if let text = try string(&reader, &arena) { deviceID = text }
            } else if nested && key.equals("substatus") {
                if let text = try string(&reader, &arena) { substatus = text }
            } else if nested && key.equals("payload") {
                let raw = try reader.captureValue()
                if raw == ByteView("null") { continue }
                guard let copy = arena.copy(raw) else { throw JSONError(kind: .bufferTooSmall(needed: raw.count), offset: 0) }
                payload = copy
            } else if key.equals("errorCode") {
                let value = try reader.next()
                if case .number(let n) = value {
                    if let code = n.int64() { errorCode = code }
                } else {
                    try skipRest(of: value, &reader)
                }
            } else if (nested && key.equals("errorMessage")) || (!nested && key.equals("message")) {
                if let text = try string(&reader, &arena) { errorMessage = text }
            } else if !nested && key.equals("trackingId") {
                if let text = try string(&reader, &arena) { trackingID = text }
            } else {
                try reader.skipValue()
            }
        }
    }

    /// Skips the remainder of a value whose first token has been read.
    @inline(never)
    private func skipRest(of token: JSONToken?, _ reader: inout JSONReader) throws(JSONError) {
        guard let token else { return }
        switch token {
        case .beginObject, .beginArray:
            var depth = 1
            while depth > 0, let next = try reader.next() {
                switch next {
                case .beginObject, .beginArray: depth += 1
                case .endObject, .endArray: depth -= 1
                default: break
                }
            }
        default:
            return
        }
    }

    /// The next value as a decoded string copied into `arena`; `nil` (the member counts as
    /// absent) for JSON null or a non-string, which is skipped.
    @inline(never)
    private func string(_ reader: inout JSONReader, _ arena: inout ByteArena) throws(JSONError) -> ByteView? {
        let token = try reader.next()
        guard case .string(let s) = token else {
            try skipRest(of: token, &reader)
            return nil
        }
        let decoded = try s.decode(into: arena.freeSpace)
        return arena.commit(decoded.count)
    }

    private static func status(_ s: JSONString) -> DPSRegistrationStatus? {
        if s.equals("assigned") { return .assigned }
        if s.equals("assigning") { return .assigning }
        if s.equals("unassigned") { return .unassigned }
        if s.equals("failed") { return .failed }
        if s.equals("disabled") { return .disabled }
        return nil
    }
}
