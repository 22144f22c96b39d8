import DeviceAgent
import Foundation
import Testing

@Suite("AssignmentState: the saved DPS assignment")
struct AssignmentStateTests {
    let state = AssignmentState(
        idScope: "0ne00000DEMO", registrationID: "device1", provisioningHost: "127.0.0.1:8883",
        assignedHub: "hub.example.net", deviceID: "device1", savedAt: "2026-12-02T16:05:09.123Z")

    /// A fresh directory for one test's files.
    static func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("assignment-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func fileTextIsOneLineOfJSONInAFixedOrder() {
        #expect(state.fileText == """
            {"format":1,"idScope":"0ne00000DEMO","registrationId":"device1","provisioningHost":"127.0.0.1:8883",\
            "assignedHub":"hub.example.net","deviceId":"device1","savedAt":"2026-12-02T16:05:09.123Z"}

            """)
    }

    @Test func savedStateLoadsBackAndLeavesNoTemporaryFile() throws {
        let directory = try Self.directory()
        let path = directory + "/state.json"
        try state.save(to: path)
        #expect(try AssignmentState.load(from: path) == state)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["state.json"])
        var other = state
        other.assignedHub = "hub2.example.net"
        try other.save(to: path)
        #expect(try AssignmentState.load(from: path) == other)
    }

    @Test func aMissingFileIsAFirstStart() throws {
        #expect(try AssignmentState.load(from: try Self.directory() + "/none.json") == nil)
    }

    @Test(arguments: [
        ("", "is not a state file: it is not JSON (no JSON value at byte 0)"),
        ("{\"format\":1,", "is not a state file: it is not JSON (expected a string key, found end of input at byte 12)"),
        ("[1]", "is not a state file: it holds an array, not an object"),
        ("{}", "is not a state file: it has no \"format\" number"),
        ("{\"format\":2}", "is not a state file: it is format 2; this version reads format 1"),
        ("{\"format\":1,\"idScope\":\"s\"}", "is not a state file: \"registrationId\" is missing or not a non-empty string"),
        ("{\"format\":1,\"idScope\":\"\"}", "is not a state file: \"idScope\" is missing or not a non-empty string"),
    ])
    func corruptFilesSayWhatIsWrong(text: String, summary: String) throws {
        let path = try Self.directory() + "/state.json"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: AssignmentStateError.self) { try AssignmentState.load(from: path) }
        #expect(error?.summary == summary)
    }

    @Test func bytesThatAreNotUTF8AreCorrupt() throws {
        let path = try Self.directory() + "/state.json"
        try Data([0x7B, 0xFF, 0x7D]).write(to: URL(fileURLWithPath: path))
        #expect(throws: AssignmentStateError.corrupt("it is not UTF-8 text")) { try AssignmentState.load(from: path) }
    }

    @Test func aHugeFileIsNotRead() throws {
        let path = try Self.directory() + "/state.json"
        try Data(repeating: 0x20, count: 16 * 1024 + 1).write(to: URL(fileURLWithPath: path))
        #expect(throws: AssignmentStateError.corrupt("it is 16385 bytes; a state file is at most 16384")) { try AssignmentState.load(from: path) }
    }

    @Test func aDirectoryOrAFIFOIsUnreadable() throws {
        let directory = try Self.directory()
        #expect(throws: AssignmentStateError.unreadable("it is not a regular file")) { try AssignmentState.load(from: directory) }
        let fifo = directory + "/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(throws: AssignmentStateError.unreadable("it is not a regular file")) { try AssignmentState.load(from: fifo) }
    }

    @Test func writingIntoAMissingDirectoryFails() {
        #expect(throws: AssignmentStateError.unwritable("No such file or directory")) {
            try state.save(to: "/nonexistent-dir-for-state/state.json")
        }
    }

    @Test func anAssignmentBelongsOnlyToItsIdentity() {
        #expect(state.belongs(toScope: "0ne00000DEMO", registrationID: "DEVICE1", provisioningHost: "127.0.0.1:8883"))
        #expect(!state.belongs(toScope: "0ne00000OTHR", registrationID: "device1", provisioningHost: "127.0.0.1:8883"))
        #expect(!state.belongs(toScope: "0ne00000DEMO", registrationID: "device2", provisioningHost: "127.0.0.1:8883"))
        #expect(!state.belongs(toScope: "0ne00000DEMO", registrationID: "device1", provisioningHost: "127.0.0.1:9999"))
    }
}
