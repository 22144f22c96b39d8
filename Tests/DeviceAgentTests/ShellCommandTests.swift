import DeviceAgent
import Testing

@Suite("ShellCommand: the user's commands, bounded")
struct ShellCommandTests {
    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func standardOutputAndExitStatus() {
        let outcome = ShellCommand("printf '{\"t\":1}'; exit 0", timeoutMilliseconds: 5000, outputLimit: 1024).run()
        #expect(outcome.ending == .exited(0))
        #expect(Self.text(outcome.standardOutput) == "{\"t\":1}")
        #expect(outcome.standardError == [])
        #expect(!outcome.outputTruncated)
    }

    @Test func inputAndEnvironmentReachTheCommand() {
        let command = ShellCommand("read line; echo \"$MESSAGE_INDEX:$line\"", environment: [("MESSAGE_INDEX", "7")],
                                   timeoutMilliseconds: 5000, outputLimit: 1024)
        let outcome = command.run(input: Array("hello\n".utf8))
        #expect(outcome.ending == .exited(0))
        #expect(Self.text(outcome.standardOutput) == "7:hello\n")
    }

    @Test func aFailingCommandKeepsItsStatusAndStandardError() {
        let outcome = ShellCommand("echo 'sensor offline' >&2; echo 'retry later' >&2; exit 3", timeoutMilliseconds: 5000, outputLimit: 1024).run()
        #expect(outcome.ending == .exited(3))
        #expect(outcome.errorText == "sensor offline / retry later")
    }

    @Test func aCommandPastItsTimeIsKilled() {
        let outcome = ShellCommand("sleep 30 & sleep 30", timeoutMilliseconds: 200, outputLimit: 1024).run()
        #expect(outcome.ending == .timedOut)
    }

    @Test func aCommandThatClosesItsOutputAndRunsOnIsStillKilledInTime() {
        let outcome = ShellCommand("exec >&- 2>&-; sleep 30", timeoutMilliseconds: 300, outputLimit: 100).run()
        #expect(outcome.ending == .timedOut)
    }

    @Test func outputPastTheLimitIsCutAndMarked() {
        let outcome = ShellCommand("head -c 5000 /dev/zero | tr '\\0' a", timeoutMilliseconds: 5000, outputLimit: 100).run()
        #expect(outcome.outputTruncated)
        #expect(outcome.standardOutput == [UInt8](repeating: 0x61, count: 100))
    }

    @Test func aCommandEndedByASignalSaysWhich() {
        let outcome = ShellCommand("kill -KILL $$", timeoutMilliseconds: 5000, outputLimit: 100).run()
        #expect(outcome.ending == .signaled(9))
    }

    @Test func aCommandThatIgnoresItsInputDoesNotHang() {
        let outcome = ShellCommand("exit 0", timeoutMilliseconds: 5000, outputLimit: 100).run(input: [UInt8](repeating: 0x41, count: 1 << 20))
        #expect(outcome.ending == .exited(0))
    }
}
