import ArgumentParser
import DeviceCore
import DeviceCommandLine
#if canImport(Glibc)
import Glibc
#endif
import LinuxBoard

/// `dps-device modem`: the host side of the firmware's modem protocol (docs/modem-protocol.md).
/// It plays a network module with TLS offload on a serial line: the firmware asks it to open
/// TLS connections and to move bytes, and it does so with the device certificate and key that
/// it holds, the way a module with a secure element would.
struct ModemCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "modem",
        abstract: "Act as the firmware's network modem: TLS sockets over a framed serial protocol.",
        discussion: """
            The firmware (board/modem-demo) runs MQTT, DPS and telemetry itself; this command only \
            opens the TCP/TLS connections it asks for, with the device's certificate and key, and \
            carries the bytes. --serial is a tty (e.g. /dev/ttyUSB0) or the Unix socket QEMU serves \
            an emulated UART on (-serial unix:PATH,server). It runs until the other end closes the \
            line (QEMU exits) or SIGINT/SIGTERM.
            """)

    @Option(name: .long, help: "The serial line: a tty device, or a Unix socket (QEMU's -serial unix:PATH,server).")
    var serial: String

    @Option(name: .long, help: "Baud rate when --serial is a tty.")
    var baud: Int = 115_200

    @OptionGroup var identity: IdentityOptions

    @Option(name: .long, help: "Largest frame payload the modem accepts and sends (64-65535).")
    var maxFrame: Int = 2048

    @Option(name: .long, help: "Seconds to wait for the serial line to appear (QEMU starting).")
    var wait: Int = 10

    @Flag(name: .long, help: "Log every SEND and RECV, not only connections and errors.")
    var verbose = false

    func validate() throws {
        guard (64...65535).contains(maxFrame) else { throw ValidationError("--max-frame must be 64...65535, not \(maxFrame)") }
        guard wait >= 0 else { throw ValidationError("--wait must be 0 or more seconds") }
        let problems = identity.missing()
        guard problems.isEmpty else { throw ValidationError("the modem holds the device's identity: " + problems.joined(separator: "; ")) }
    }

    func run() throws {
        guard let certificate = identity.certificateFile, let keyFile = identity.keyFile else { return }  // validate() checked
        StopSignals.install()
        try exitingOnError {
            let tlsIdentity: TLSIdentity
            do throws(TLSFailure) {
                tlsIdentity = try TLSIdentity(caFile: identity.ca, certificateFile: certificate, keyFile: keyFile,
                                              passphrase: identity.passphrase)
            } catch {
                throw CLIError(error.description)
            }
            var port = try openSerial()
            defer { port.close() }
            var service = ModemService(identity: tlsIdentity, maximumPayload: maxFrame) { line in Output.line(line) }
            service.logLevel = verbose ? .requests : .connections
            Output.line("modem: ready on \(serial) as \(tlsIdentity.subjectCommonName ?? "(no CN)")")
            do throws(SerialPort.Failure) {
                try service.serve(on: &port) { StopSignals.isRequested }
            } catch {
                throw CLIError(error.description, status: .connectionFailed)
            }
            let s = service.statistics
            Output.line("modem: line closed after \(s.requests) requests, \(s.connections) connections, \(s.bytesSent) bytes sent, \(s.bytesReceived) received, \(s.damagedFrames) damaged frames")
        }
    }

    /// Opens the serial line, waiting up to --wait seconds for it to appear.
    private func openSerial() throws -> SerialPort {
        let clock = MonotonicClock()
        let deadline = clock.now() + .seconds(Int32(clamping: wait))
        while true {
            do throws(SerialPort.Failure) {
                return try SerialPort(path: serial, baud: baud)
            } catch {
                if clock.now() >= deadline || StopSignals.isRequested {
                    throw CLIError(error.description, status: .connectionFailed)
                }
                usleep(100_000)
            }
        }
    }
}
