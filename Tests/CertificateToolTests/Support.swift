import Foundation
import TestSupport
import Testing

/// A temporary directory for one test, removed when the value is released.
final class Workspace {
    let directory: String

    init() throws {
        directory = NSTemporaryDirectory() + "certificate-tool-tests-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func path(_ name: String) -> String { directory + "/" + name }

    func read(_ name: String) throws -> String { try String(contentsOfFile: path(name), encoding: .utf8) }

    /// The file's permission bits.
    func mode(_ name: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path(name))
        return (attributes[.posixPermissions] as! NSNumber).intValue
    }

    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }

    /// Runs the openssl command line in the workspace; returns its status and combined output.
    @discardableResult
    func openssl(_ arguments: String...) throws -> (status: Int32, output: String) {
        guard let tool = Tools.find("openssl") else {
            throw FixtureError(description: "openssl is not installed (the tests check the files with it): apt-get install openssl")
        }
        return try Tools.run(tool, arguments, in: directory)
    }

    /// Runs openssl and fails the test unless it exits 0; returns the output.
    @discardableResult
    func opensslOK(_ arguments: String..., sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        guard let tool = Tools.find("openssl") else {
            throw FixtureError(description: "openssl is not installed (the tests check the files with it): apt-get install openssl")
        }
        let result = try Tools.run(tool, arguments, in: directory)
        #expect(result.status == 0, "openssl \(arguments.joined(separator: " ")) failed:\n\(result.output)", sourceLocation: sourceLocation)
        return result.output
    }

    /// Runs the built `dps-device` (next to the test bundle) in the workspace.
    func dpsDevice(_ arguments: [String]) throws -> (status: Int32, output: String) {
        guard let binary = Tools.dpsDevice() else {
            throw FixtureError(description: "the dps-device executable was not found next to the test bundle (\(CommandLine.arguments[0])); build it with `swift build`")
        }
        return try Tools.run(binary, arguments, in: directory)
    }
}

extension Tools {
    /// `dps-device` in the build directory the tests run from.
    static func dpsDevice() -> String? {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("dps-device").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        return nil
    }
}
