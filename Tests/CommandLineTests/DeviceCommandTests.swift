import Foundation
import HostJSON
import Testing

/// A device certificate and key made with the openssl command line, as the walkthrough does.
final class TestDeviceCertificate {
    let directory: URL
    var certificate: String { directory.appendingPathComponent("device1.pem").path }
    var key: String { directory.appendingPathComponent("device1.key").path }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dps-device-certs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                             "-keyout", key, "-out", certificate, "-subj", "/CN=device1", "-days", "1"]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try #require(openssl.terminationStatus == 0, "openssl is needed (make setup installs it)")
    }

    deinit { try? FileManager.default.removeItem(at: directory) }
}

/// `dps-device provision` / `run`: arguments, environment and configuration errors, each with
/// its exit status (docs/dps-device.md) and a message that says what to fix.
@Suite("dps-device provision and run: configuration")
struct DeviceCommandTests {
    @Test func nothingGivenNamesEverySettingAndItsVariable() throws {
        let output = try DPSDeviceBinary.run(["provision"], environment: [:])
        #expect(output.status == 64)
        #expect(output.stderr.contains("the ID scope is missing: pass --id-scope or set PROVISIONING_IDSCOPE"))
        #expect(output.stderr.contains("the device certificate is missing: pass --cert FILE or set X509_CERT_FILE"))
        #expect(output.stderr.contains("the device key is missing: pass --key FILE or set X509_KEY_FILE"))
        #expect(output.stdout == "")
    }

    @Test func environmentSuppliesTheSettings() throws {
        let output = try DPSDeviceBinary.run(["provision"], environment: [
            "PROVISIONING_IDSCOPE": "0ne00000A0A", "X509_CERT_FILE": "/nonexistent/device1.pem", "X509_KEY_FILE": "/nonexistent/device1.key",
        ])
        #expect(output.status == 4)
        #expect(output.stderr.hasPrefix("error: the device certificate file \"/nonexistent/device1.pem\" does not exist"))
    }

    @Test(arguments: [
        (["--provisioning-host", "dps.example:99999"], "--provisioning-host \"dps.example:99999\" is not HOST or HOST:PORT"),
        (["--provisioning-host", ":8883"], "--provisioning-host \":8883\" is not HOST or HOST:PORT"),
        (["--payload", "{\"a\":}"], "--payload is not valid JSON"),
        (["--timeout", "0"], "--timeout must be 1 to 86400 seconds, got 0"),
        (["--timeout", "-5"], "--timeout must be 1 to 86400 seconds, got -5"),
        (["--timeout", "86401"], "--timeout must be 1 to 86400 seconds, got 86401"),
        (["--keep-alive", "-1"], "--keep-alive must be 1 to 1177 seconds"),
        (["--log-format", "xml"], "The value 'xml' is invalid for '--log-format': expected text or json"),
        (["--json", "--log-format", "text"], "--json and --log-format text contradict each other"),
        (["--provisioning-host", ""], "--provisioning-host is empty: give a value, or leave the option out"),
        (["--ca="], "--ca is empty: give a value, or leave the option out"),
        (["--state", ""], "--state is empty"),
        (["--keep-alive", "0"], "--keep-alive must be 1 to 1177 seconds"),
        (["--keep-alive", "5000"], "--keep-alive must be 1 to 1177 seconds"),
        // Found by the fuzz target `options` (docs/fuzzing.md): an empty IPv6 host was accepted.
        (["--provisioning-host", "[]"], "--provisioning-host \"[]\" is not HOST or HOST:PORT with a port from 1 to 65535"),
        (["--dps-host=[]:8883"], "--provisioning-host \"[]:8883\" is not HOST or HOST:PORT with a port from 1 to 65535"),
    ])
    func badValuesAreUsageErrors(arguments: [String], message: String) throws {
        let output = try DPSDeviceBinary.run(["provision", "--id-scope", "s", "--cert", "c.pem", "--key", "k.key"] + arguments, environment: [:])
        #expect(output.status == 64)
        #expect(output.stderr.contains(message), "stderr: \(output.stderr)")
    }

    @Test(arguments: [
        (["--messages=-1"], "Error: --messages must be 0 to 1000000000, or forever; got -1"),
        (["--messages", "-1"], "Error: --messages must be 0 to 1000000000, or forever; got -1"),
        (["--messages", "lots"], "Error: The value 'lots' is invalid for '--messages': expected a whole number or forever"),
        (["--interval=-0.5"], "Error: --interval must be 0 to 86400 seconds, got -0.5"),
        (["--duration", "2147484"], "Error: --duration must be 0 to 2147483 seconds (24 days), or forever; got 2147484"),
        (["--hub-port", "0"], "Error: The value '0' is invalid for '--hub-port': expected a port from 1 to 65535"),
        (["--body", "{\"t\":1"], "Error: --body is not valid JSON"),
        (["--body", "{}", "--body-command", "true"], "Error: --body and --body-command both give the message body: pass one"),
        (["--body-command="], "Error: --body-command is empty: pass the command that prints the body"),
        (["--nope"], "Error: Unknown option '--nope'"),
        (["--messages"], "Error: Missing value for '--messages <messages>'"),
        (["--reprovision=yes"], "Error: The flag '--reprovision' takes no value"),
        (["stray"], "Error: Unexpected argument 'stray'"),
    ])
    func badRunValuesAreUsageErrors(arguments: [String], message: String) throws {
        let output = try DPSDeviceBinary.run(["run", "--id-scope", "s", "--cert", "c.pem", "--key", "k.key"] + arguments, environment: [:])
        #expect(output.status == 64)
        #expect(output.stderr.contains(message), "stderr: \(output.stderr)")
    }

    @Test func registrationIDOtherThanTheCNIsRefusedBeforeAnyTraffic() throws {
        let device = try TestDeviceCertificate()
        let output = try DPSDeviceBinary.run(
            ["provision", "--id-scope", "0ne00000A0A", "--cert", device.certificate, "--key", device.key,
             "--registration-id", "device2", "--provisioning-host", "127.0.0.1:1", "--ca", device.certificate],
            environment: [:])
        #expect(output.status == 4)
        #expect(output.stderr == "error: the registration id \"device2\" is not the certificate's CN \"device1\" (\(device.certificate)); DPS requires them to be equal for X.509\n")
        #expect(output.stdout == "")
    }

    /// The first backoff wait is 1 s plus up to 5 s of jitter, so one retry fits in 8 s; the
    /// flow never sleeps past the deadline, it reports the last failure instead.
    @Test func unreachableDPSIsAConnectionFailureAfterRetries() throws {
        let device = try TestDeviceCertificate()
        let output = try DPSDeviceBinary.run(
            ["provision", "--id-scope", "0ne00000A0A", "--cert", device.certificate, "--key", device.key,
             "--provisioning-host", "127.0.0.1:1", "--ca", device.certificate, "--timeout", "8"],
            environment: [:])
        #expect(output.status == 2)
        #expect(output.stdout.contains("Connecting to DPS 127.0.0.1:1..."))
        #expect(output.stdout.contains("Retrying in"))
        // It says how long it tried, how far it got and what the last attempt met.
        #expect(output.stderr.hasPrefix("error: registration with DPS 127.0.0.1:1 "), "\(output.stderr)")
        #expect(output.stderr.contains(" (--timeout 8)") || output.stderr.contains("as another attempt would end after --timeout 8"), "\(output.stderr)")
        // Two or three attempts, by the jitter.
        #expect(output.stderr.contains(": no connection to DPS 127.0.0.1:1 succeeded in 2 attempts; ") || output.stderr.contains(": no connection to DPS 127.0.0.1:1 succeeded in 3 attempts; "), "\(output.stderr)")
        #expect(output.stderr.contains("; the last attempt: 127.0.0.1:1 refused the connection: nothing is listening on port 1."), "\(output.stderr)")
    }

    /// Only a regular file of bounded size is read as a certificate, key or CA: a FIFO would
    /// block, `/dev/zero` would never end.
    @Test func certificateFilesMustBeRegularFilesOfBoundedSize() throws {
        let device = try TestDeviceCertificate()
        let fifo = device.directory.appendingPathComponent("fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let huge = device.directory.appendingPathComponent("huge.pem").path
        #expect(FileManager.default.createFile(atPath: huge, contents: Data(count: 4 * 1024 * 1024 + 1)))
        let cases: [(String, String)] = [
            ("--cert=/dev/zero", "error: cannot read the device certificate file \"/dev/zero\": it is a device, not a regular file."),
            ("--cert=\(device.directory.path)", "error: cannot read the device certificate file \"\(device.directory.path)\": it is a directory, not a file."),
            ("--key=\(fifo)", "error: cannot read the private key file \"\(fifo)\": it is a FIFO (named pipe), not a regular file."),
            ("--ca=\(huge)", "error: cannot read the trusted CA certificates file \"\(huge)\": it is 4194305 bytes; PEM certificates and keys are at most 4194304."),
        ]
        for (option, message) in cases {
            var arguments = ["provision", "--id-scope", "0ne00000A0A", "--cert", device.certificate, "--key", device.key,
                             "--provisioning-host", "127.0.0.1:1", "--timeout", "1"]
            arguments.append(option)
            let output = try DPSDeviceBinary.run(arguments, environment: [:])
            #expect(output.status == 4, "\(option): \(output.stderr)")
            #expect(output.stderr.hasPrefix(message), "\(option): \(output.stderr)")
        }
    }

    @Test func swappedCertificateAndKeyAreNamed() throws {
        let device = try TestDeviceCertificate()
        let base = ["provision", "--id-scope", "0ne00000A0A", "--provisioning-host", "127.0.0.1:1", "--timeout", "1"]
        let swapped = try DPSDeviceBinary.run(base + ["--cert", device.key, "--key", device.certificate], environment: [:])
        #expect(swapped.status == 4)
        #expect(swapped.stderr == "error: the device certificate file \"\(device.key)\" holds a PRIVATE KEY, not a certificate: are --cert and --key swapped?\n")
        let keyAsCA = try DPSDeviceBinary.run(base + ["--cert", device.certificate, "--key", device.key, "--ca", device.key], environment: [:])
        #expect(keyAsCA.status == 4)
        #expect(keyAsCA.stderr == "error: the trusted CA certificates file \"\(device.key)\" holds a PRIVATE KEY, not CA certificates: --ca takes the CA's certificate, never a key\n")
    }

    /// Found by the fuzz target `options`: a bad host from the environment was blamed on the
    /// option, which was not given.
    @Test func aBadHostFromTheEnvironmentNamesTheVariable() throws {
        let output = try DPSDeviceBinary.run(["provision", "--id-scope", "s", "--cert", "c.pem", "--key", "k.key"],
                                             environment: ["PROVISIONING_HOST": "[]:8883"])
        #expect(output.status == 64)
        #expect(output.stderr == "Error: PROVISIONING_HOST \"[]:8883\" is not HOST or HOST:PORT with a port from 1 to 65535\nUsage: dps-device provision [<options>]\n  See 'dps-device help provision' for more information.\n")
    }

    /// The same rule for the ID scope and the registration id: a bad value from a variable
    /// names the variable; the same value from the option names the option.
    @Test func aBadScopeOrRegistrationIDNamesWhereItCameFrom() throws {
        let fromVariables = try DPSDeviceBinary.run(["provision", "--cert", "c.pem", "--key", "k.key"],
                                                    environment: ["PROVISIONING_IDSCOPE": "a b", "PROVISIONING_REGISTRATION_ID": "dev ice"])
        #expect(fromVariables.status == 64)
        #expect(fromVariables.stderr == "Error: PROVISIONING_IDSCOPE: the ID scope \"a b\" is not one: it is letters and digits (DPS shows it as 0ne followed by 8 hex digits, e.g. 0ne00012345), at most 64; copy it from the DPS instance's overview page\nPROVISIONING_REGISTRATION_ID: the registration id \"dev ice\" has \" \" at offset 3; DPS allows letters, digits and - . _ : only\nUsage: dps-device provision [<options>]\n  See 'dps-device help provision' for more information.\n")
        let fromOptions = try DPSDeviceBinary.run(["provision", "--id-scope", "a b", "--registration-id", "dev ice", "--cert", "c.pem", "--key", "k.key"],
                                                  environment: [:])
        #expect(fromOptions.stderr.hasPrefix("Error: --id-scope: the ID scope \"a b\" is not one"))
        #expect(fromOptions.stderr.contains("\n--registration-id: the registration id \"dev ice\" has"))
    }

    @Test func anEmptyIDScopeIsNotTakenFromTheEnvironment() throws {
        let output = try DPSDeviceBinary.run(["provision", "--id-scope", "", "--cert", "c.pem", "--key", "k.key"],
                                             environment: ["PROVISIONING_IDSCOPE": "0ne00000A0A"])
        #expect(output.status == 64)
        #expect(output.stderr.hasPrefix("Error: --id-scope is empty: give a value, or leave the option out\nUsage: dps-device provision [<options>]\n"))
    }

    @Test(arguments: [["help", "run"], ["run", "--help"], ["run", "-h"]])
    func runHelpListsEveryOption(arguments: [String]) throws {
        let output = try DPSDeviceBinary.run(arguments, environment: [:])
        #expect(output.status == 0)
        #expect(output.stdout.hasPrefix("OVERVIEW: Provision through DPS, then send telemetry to the assigned IoT Hub.\n"))
        for option in ["--id-scope <id-scope>", "--ca, --ca-file <ca>", "--state <state>", "--log-format <log-format>",
                       "--messages <messages>", "--duration <duration>", "--body-command <body-command>", "--reprovision", "-h, --help"] {
            #expect(output.stdout.contains("\n  \(option)\n"), "\(option) in \(output.stdout)")
        }
    }

    @Test func jsonModeReportsStepsAsJSONLines() throws {
        let device = try TestDeviceCertificate()
        let output = try DPSDeviceBinary.run(
            ["provision", "--log-format", "json", "--id-scope", "0ne00000A0A", "--cert", device.certificate, "--key", device.key,
             "--provisioning-host", "127.0.0.1:1", "--ca", device.certificate, "--timeout", "1"],
            environment: [:])
        // Every line is an object with a `time`; without it, the fields are exact.
        let lines = try output.stdout.split(separator: "\n").map { line -> JSONValue in
            let value = try JSONParser.parse(String(line))
            guard case .string(let time)? = value["time"], case .object(let members) = value else {
                Issue.record("no time in \(line)")
                return value
            }
            #expect(time.count == 24 && time.hasSuffix("Z"), "time \(time)")
            return .object(members.filter { $0.key != "time" })
        }
        #expect(lines.first?.compactText == #"{"endpoint":"DPS 127.0.0.1:1","id_scope":"0ne00000A0A","registration_id":"device1","step":"registering"}"#)
        #expect(lines.dropFirst().first?.compactText == #"{"attempt":1,"endpoint":"DPS 127.0.0.1:1","step":"connecting"}"#)
        #expect(output.status == 2)
    }
}

/// `dps-device modem`: what it needs before it opens the serial line, and what it says when the
/// line is not there.
@Suite("dps-device modem: configuration")
struct ModemCommandTests {
    @Test func withoutTheDeviceIdentityItIsAUsageError() throws {
        let output = try DPSDeviceBinary.run(["modem", "--serial", "/nonexistent/modem.sock"], environment: [:])
        #expect(output.status == 64)
        #expect(output.stderr.contains("the modem holds the device's identity: the device certificate is missing: pass --cert FILE or set X509_CERT_FILE; the device key is missing: pass --key FILE or set X509_KEY_FILE"))
        #expect(output.stdout == "")
    }

    @Test(arguments: [
        (["--max-frame", "63"], "--max-frame must be 64...65535, not 63"),
        (["--wait=-1"], "--wait must be 0 or more seconds"),
    ])
    func badValuesAreUsageErrors(arguments: [String], message: String) throws {
        let output = try DPSDeviceBinary.run(["modem", "--serial", "s", "--cert", "c.pem", "--key", "k.key"] + arguments, environment: [:])
        #expect(output.status == 64)
        #expect(output.stderr.contains(message), "stderr: \(output.stderr)")
    }

    @Test func aMissingSerialLineIsAConnectionFailureNamingIt() throws {
        let device = try TestDeviceCertificate()
        let output = try DPSDeviceBinary.run(
            ["modem", "--serial", "/nonexistent/modem.sock", "--wait", "0"],
            environment: ["X509_CERT_FILE": device.certificate, "X509_KEY_FILE": device.key])
        #expect(output.status == 2)
        #expect(output.stderr == "error: cannot open the serial line /nonexistent/modem.sock: No such file or directory. Check the path (a tty such as /dev/ttyUSB0, or the Unix socket QEMU listens on) and its permissions.\n")
    }

    @Test func aRegularFileIsNotASerialLine() throws {
        let device = try TestDeviceCertificate()
        let output = try DPSDeviceBinary.run(
            ["modem", "--serial", device.certificate, "--cert", device.certificate, "--key", device.key, "--wait", "0"], environment: [:])
        #expect(output.status == 2)
        #expect(output.stderr == "error: \(device.certificate) is neither a terminal device nor a Unix socket.\n")
    }
}
