// The local IoT Hub: `dps-device standin hub`.
import ArgumentParser
import DeviceCommandLine
#if canImport(Glibc)
import Glibc
#endif
import LinuxBoard
import StandIn

extension StandInCommand {
    /// `dps-device standin hub`: serve IoT Hub's device API (telemetry, C2D, twin, methods) and
    /// the service side the `hub` commands use, until SIGINT/SIGTERM.
    struct Hub: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the IoT Hub stand-in (MQTT over TLS 1.2: telemetry, C2D, device twin, direct methods).",
            discussion: """
                Devices are known by their client certificate (CN = device id, chained to a \
                --client-ca); the certificate with CN=monitor (--service-cn) is the service \
                identity that `dps-device monitor` and `dps-device hub …` use. Twins are kept \
                in --twins across restarts. Logs one line per event on standard output. See \
                docs/twin-and-methods.md.
                """)

        @Option(name: .long, parsing: .unconditional, help: "Address and port to listen on (port 1-65535).")
        var listen: String = "127.0.0.2:8883"

        @Option(name: .long, parsing: .unconditional, help: "Server certificate PEM (with an IP SAN for the listen address).")
        var cert: String

        @Option(name: .long, parsing: .unconditional, help: "Server private key PEM.")
        var key: String

        @Option(name: .long, parsing: .unconditionalSingleValue, help: "CA whose device certificates the hub accepts (repeatable).")
        var clientCa: [String]

        @Option(name: .long, parsing: .unconditional, help: "Twin store JSON, created when missing (default: twins in memory only).")
        var twins: String?

        @Option(name: .long, parsing: .unconditional, help: "CN of the service identity (default monitor).")
        var serviceCn: String = "monitor"

        func validate() throws {
            var problems: [String] = []
            if ListenAddress.parse(listen) == nil {
                problems.append("--listen must be HOST:PORT with a port from 1 to 65535, e.g. 127.0.0.2:8883; got \"\(listen)\"")
            }
            for (name, value) in [("--cert", cert), ("--key", key), ("--service-cn", serviceCn)] + clientCa.map({ ("--client-ca", $0) }) + (twins.map { [("--twins", $0)] } ?? [])
            where value.isEmpty {
                problems.append("\(name) is empty: pass a value")
            }
            if clientCa.isEmpty { problems.append("--client-ca is missing: pass the CA (or CAs) that sign the device certificates") }
            if !problems.isEmpty { throw ValidationError(problems.joined(separator: "\n")) }
        }

        func run() throws {
            do {
                guard let (host, port) = ListenAddress.parse(listen) else { throw StandInError("--listen \"\(listen)\" is not HOST:PORT") }
                let clientCAs = try X509Chain(files: clientCa)
                let emulator = try IoTHubEmulator(settings: .init(clientCAs: clientCAs, serviceName: serviceCn, twinStorePath: twins)) { Self.log($0) }
                let server = try TLSServer(host: host, port: port, certificateFile: cert, keyFile: key, clientCAs: clientCAs)
                StopSignals.install()
                signal(SIGPIPE, SIG_IGN)
                Self.log("IoT Hub stand-in listening on \(host):\(port); device CAs: \(clientCa.joined(separator: ", ")); service identity CN=\(serviceCn); twins: \(twins.map { "\($0) (\(emulator.twinCount) devices)" } ?? "in memory")")
                server.run(emulator) {
                    emulator.tick()
                    return StopSignals.isRequested
                }
                Self.log("IoT Hub stand-in stopped")
            } catch let error as StandInError {
                Output.error(error.description)
                throw ExitCode(1)
            }
        }

        static func log(_ line: String) {
            Output.line("\(WallClock.timestamp()) hub \(line)")
        }
    }
}
