import DeviceCore
import DeviceCoreWords
@testable import DeviceCommandLine
import Testing

/// Every core value a user reads is put in words by `Describe`, never by Swift's reflection.
@Suite("Words for core values")
struct DescribeTests {
    @Test("A DPS response the device cannot read says what is wrong", arguments: [
        (DPSProtocolError.malformedResponseTopic(offset: 26), "the response topic's status or query is malformed at byte 26"),
        (.malformedJSON(JSONError(kind: .unexpectedEnd, offset: 7)), "the body is not JSON: \(JSONError.Kind.unexpectedEnd.summary) at byte 7"),
        (.bodyNotAnObject, "the body is JSON but not an object"),
        (.unknownStatus, "the body's status is not one DPS defines (unassigned, assigning, assigned, failed, disabled)"),
        (.missingStatus, "the body lacks \"status\""),
        (.missingOperationID, "the body lacks \"operationId\""),
        (.assignmentWithoutHubOrDevice, "the body has assignedHub without deviceId, or deviceId without assignedHub"),
        (.bufferTooSmall(BufferTooSmall(needed: 300, capacity: 256)), "the results buffer holds 256 bytes; it needs 300"),
    ])
    func dpsProtocol(_ error: DPSProtocolError, _ words: String) {
        #expect(Describe.dpsProtocol(error) == words)
    }

    @Test("DPS registration statuses are DPS's own words")
    func registrationStatuses() {
        let all: [DPSRegistrationStatus] = [.unassigned, .assigning, .assigned, .failed, .disabled]
        #expect(all.map(Describe.registrationStatus) == ["unassigned", "assigning", "assigned", "failed", "disabled"])
    }
}
