import DeviceCore
import HostJSON
import Foundation
import PacketInspector
import Testing

/// One vector of `Tests/MQTTCodecTests/Fixtures/mqtt311_paho.json` (shared with the codec tests,
/// read in place).
struct PahoVector: Sendable, CustomTestStringConvertible {
    let name: String
    let direction: String
    let fields: JSONValue
    let hex: String?

    var testDescription: String { name }

    /// The packet type: the vector name up to the first `_`.
    var type: String { String(name.prefix { $0 != "_" }) }

    static let fixture = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("MQTTCodecTests/Fixtures/mqtt311_paho.json")

    static func load() throws -> [PahoVector] {
        let text = try String(contentsOf: fixture, encoding: .utf8)
        guard case .array(let vectors)? = try JSONParser.parse(text)["vectors"] else { return [] }
        return vectors.map { vector in
            var hex: String?
            var name = ""
            var direction = ""
            if case .string(let value)? = vector["hex"] { hex = value }
            if case .string(let value)? = vector["name"] { name = value }
            if case .string(let value)? = vector["direction"] { direction = value }
            return PahoVector(name: name, direction: direction, fields: vector["fields"] ?? .null, hex: hex)
        }
    }

    /// Client-to-server vectors that carry their whole packet as hex.
    static let clientPackets: [PahoVector] = {
        ((try? load()) ?? []).filter { $0.hex != nil && $0.direction == "client->server" }
    }()
}

/// Bytes from hex (whitespace allowed); traps on bad hex.
func bytes(_ hex: String) -> [UInt8] {
    try! Hex.bytes(segments: [hex], segmentName: "argument")
}

/// The JSON object with `members` added or replaced, keeping order.
func setting(_ object: JSONValue, _ members: [JSONMember]) -> JSONValue {
    guard case .object(var list) = object else { return object }
    for member in members {
        if let index = list.firstIndex(where: { $0.key == member.key }) {
            list[index].value = member.value
        } else {
            list.append(member)
        }
    }
    return .object(list)
}

/// The value with every object's members sorted by key, to compare without regard to order.
func sortedKeys(_ value: JSONValue) -> JSONValue {
    switch value {
    case .object(let members):
        return .object(members.map { JSONMember($0.key, sortedKeys($0.value)) }.sorted { $0.key < $1.key })
    case .array(let elements):
        return .array(elements.map(sortedKeys))
    default:
        return value
    }
}

/// The message of the error `body` throws, or `nil` if it throws none.
func errorMessage(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch let error as InspectorError {
        return error.message
    } catch {
        return "unexpected error: \(error)"
    }
}

/// The JSON lines of the packets decoded before an error, and the error message.
func decodeLines(_ hex: String) -> (lines: [String], error: String?) {
    var lines: [String] = []
    let error = errorMessage {
        let input = try Hex.bytes(segments: [hex], segmentName: "argument")
        try PacketInspector.decodeStream(input) { lines.append($0.compactText) }
    }
    return (lines, error)
}

/// Runs the built `dps-device` binary.
enum DPSDeviceBinary {
    /// The `dps-device` built alongside this test bundle, whatever the scratch path:
    /// `$DPS_DEVICE_BINARY` if set, else the directory of the running test executable (Linux:
    /// `<scratch>/<triple>/debug/`) or one of its ancestors (macOS: `X.xctest/Contents/MacOS/`).
    static let url: URL? = {
        let fileManager = FileManager.default
        if let path = ProcessInfo.processInfo.environment["DPS_DEVICE_BINARY"] {
            return URL(fileURLWithPath: path)
        }
        var starts: [URL] = []
        if let executable = Bundle.main.executableURL { starts.append(executable.deletingLastPathComponent()) }
        starts.append(Bundle.main.bundleURL)
        starts.append(contentsOf: Bundle.allBundles.map(\.bundleURL))
        if let argument0 = CommandLine.arguments.first {
            starts.append(URL(fileURLWithPath: argument0).deletingLastPathComponent())
        }
        for start in starts {
            var directory = start
            for _ in 0..<4 {
                let candidate = directory.appendingPathComponent("dps-device")
                if fileManager.isExecutableFile(atPath: candidate.path) { return candidate }
                directory.deleteLastPathComponent()
            }
        }
        return nil
    }()

    struct Output {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// Runs the binary. With `environment`, the child gets exactly PATH, HOME and those
    /// variables (so settings from the developer's shell cannot leak in).
    static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String]? = nil) throws -> Output {
        let binary = try #require(url, "dps-device not found next to the test bundle; set DPS_DEVICE_BINARY")
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("dps-device-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let inURL = directory.appendingPathComponent("in")
        let outURL = directory.appendingPathComponent("out")
        let errURL = directory.appendingPathComponent("err")
        try Data((stdin ?? "").utf8).write(to: inURL)
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)

        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        if let environment {
            let inherited = ProcessInfo.processInfo.environment
            process.environment = environment.merging(["PATH": inherited["PATH"] ?? "/usr/bin:/bin", "HOME": inherited["HOME"] ?? "/"]) { mine, _ in mine }
        }
        process.standardInput = try FileHandle(forReadingFrom: inURL)
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus,
            stdout: try String(contentsOf: outURL, encoding: .utf8),
            stderr: try String(contentsOf: errURL, encoding: .utf8))
    }
}
