// Local stand-ins for Azure: the DPS emulator and the IoT Hub monitor.
import ArgumentParser
import DeviceCore
import DeviceCommandLine
#if canImport(Glibc)
import Glibc
#endif
import HostJSON
import LinuxBoard
import StandIn

/// `dps-device standin …`: the local DPS emulator and its proof-of-possession step.
struct StandInCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "standin",
        abstract: "Run local stand-ins for Azure DPS.",
        discussion: "See docs/local-standins.md. The IoT Hub stand-in is mosquitto, started by scripts/standins.sh.",
        subcommands: [DPS.self, Verify.self])
}

extension StandInCommand {
    /// `dps-device standin dps`: serve the DPS device API over MQTT/TLS until SIGINT/SIGTERM.
    struct DPS: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the DPS emulator (MQTT over TLS 1.2, X.509 enrollment groups).",
            discussion: """
                Logs one line per request on standard output. Registrations are remembered in \
                <config>.state.json beside the configuration. Fault flags override the \
                configuration's "faults".
                """)

        @Option(name: .long, help: "Address and port to listen on.")
        var listen: String = "127.0.0.1:8883"

        @Option(name: .long, help: "Stand-in configuration JSON (ID scope, enrollment groups, faults).")
        var config: String

        @Option(name: .long, help: "Server certificate PEM (with IP SANs for the loopback address).")
        var cert: String

        @Option(name: .long, help: "Server private key PEM.")
        var key: String

        @Option(name: .long, help: "retry-after seconds sent with 202 (DPS sends 3).")
        var retryAfter: Int?

        @Flag(name: .long, help: "Answer the register request with the assignment (200) at once, with no 202 and poll.")
        var assignAtOnce = false

        @Option(name: .long, help: "Fault: answer the first N requests with 429 throttled.")
        var throttle: Int?

        @Option(name: .long, help: "retry-after seconds sent with the 429s.")
        var throttleRetryAfter: Int?

        @Option(name: .long, help: "Fault: answer the first N requests with 500.")
        var fail: Int?

        @Option(name: .long, help: "Fault: drop the connection right after its Nth packet (CONNECT is 1, SUBSCRIBE 2, register 3).")
        var dropAfter: Int?

        @Option(name: .long, help: "How many connections --drop-after drops.")
        var dropTimes: Int = 1

        @Option(name: .long, help: "Fault: refuse CONNECT with this CONNACK code (1-5).")
        var refuseConnect: Int?

        @Option(name: .long, help: "How many CONNECTs --refuse-connect refuses (default: all).")
        var refuseTimes: Int?

        @Option(name: .long, help: "Fault: delay every response by this many milliseconds.")
        var delay: Int?

        func run() throws {
            do {
                var settings = try StandInConfig.load(config)
                var faults = settings.faults ?? StandInConfig.Faults()
                if let throttle { faults.throttle = .init(times: throttle, retryAfter: throttleRetryAfter) }
                if let fail { faults.fail = .init(times: fail) }
                if let dropAfter { faults.drop = .init(afterPackets: dropAfter, times: dropTimes) }
                if let refuseConnect {
                    guard (1...5).contains(refuseConnect) else { throw StandInError("--refuse-connect must be 1…5, got \(refuseConnect)") }
                    faults.refuseConnect = .init(code: refuseConnect, times: refuseTimes)
                }
                if let delay { faults.delayMilliseconds = delay }
                settings.faults = faults
                if let retryAfter {
                    guard (0...3600).contains(retryAfter) else { throw StandInError("--retry-after must be 0…3600 seconds, got \(retryAfter)") }
                    settings.retryAfterSeconds = retryAfter
                }
                if assignAtOnce { settings.assignAtOnce = true }

                let (host, port) = try Self.parseListen(listen)
                let emulator = try DPSEmulator(config: settings, configPath: config) { Self.log($0) }
                let server = try TLSServer(host: host, port: port, certificateFile: cert, keyFile: key, clientCAs: try emulator.clientCAs())
                StopSignals.install()
                signal(SIGPIPE, SIG_IGN)
                let groups = emulator.groups.map {
                    "\($0.settings.name) (CA \"\($0.ca.subject)\", \($0.settings.enabled ? "enabled" : "disabled"), \($0.settings.verified ? "verified" : "NOT verified"), hub \($0.settings.iotHub))"
                }
                Self.log("DPS stand-in listening on \(host):\(port), ID scope \(settings.idScope); groups: \(groups.joined(separator: "; "))")
                if faults != StandInConfig.Faults() { Self.log("fault injection: \(Self.describe(faults))") }
                server.run(emulator) { StopSignals.isRequested }
                Self.log("DPS stand-in stopped")
            } catch let error as StandInError {
                Output.error(error.description)
                throw ExitCode(1)
            }
        }

        static func parseListen(_ text: String) throws -> (String, UInt16) {
            guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
                throw StandInError("--listen must be HOST:PORT, e.g. 127.0.0.1:8883; got \"\(text)\"")
            }
            return (String(text[..<colon]), port)
        }

        static func describe(_ faults: StandInConfig.Faults) -> String {
            var parts: [String] = []
            func times(_ n: Int?) -> String { n.map { "\($0)x" } ?? "always" }
            if let t = faults.throttle { parts.append("throttle \(times(t.times)) (retry-after \(t.retryAfter ?? 2))") }
            if let f = faults.fail { parts.append("fail 500 \(times(f.times))") }
            if let d = faults.drop { parts.append("drop after packet \(d.afterPackets) \(times(d.times))") }
            if let r = faults.refuseConnect { parts.append("refuse CONNECT with \(r.code) \(times(r.times))") }
            if let d = faults.delayMilliseconds { parts.append("delay \(d) ms") }
            return parts.joined(separator: ", ")
        }

        static func log(_ line: String) {
            Output.line("\(WallClock.timestamp()) dps \(line)")
        }
    }

    /// `dps-device standin verify`: proof of possession of a group's CA, like the portal's.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Proof of possession for an enrollment group's CA: issue a code, then check the verification certificate.",
            discussion: """
                Without --cert: issues a verification code for the group and stores it in the \
                configuration (as the portal's "Generate verification code"). Make a certificate \
                with CN=<code> signed by the group's CA, then run again with --cert: the group \
                becomes verified (as the portal's "Verify"). Restart the DPS stand-in to use it.
                """)

        @Option(name: .long, help: "Stand-in configuration JSON.")
        var config: String

        @Option(name: .long, help: "Enrollment group name (may be left out when there is only one).")
        var group: String?

        @Option(name: .long, help: "Verification certificate: CN=<code>, signed by the group's CA.")
        var cert: String?

        func run() throws {
            do {
                var settings = try StandInConfig.load(config)
                let index: Int
                if let group {
                    guard let found = settings.groups.firstIndex(where: { $0.name == group }) else {
                        throw StandInError("no enrollment group \"\(group)\" in \(config); it has: \(settings.groups.map(\.name).joined(separator: ", "))")
                    }
                    index = found
                } else {
                    guard settings.groups.count == 1 else {
                        throw StandInError("\(config) has several enrollment groups: name one with --group (\(settings.groups.map(\.name).joined(separator: ", ")))")
                    }
                    index = 0
                }
                var entry = settings.groups[index]
                let caPath = StandInConfig.resolve(entry.caFile, relativeTo: config)
                let ca = try X509Chain(file: caPath)
                guard let cert else {
                    let code = RandomIdentifiers.hex(byteCount: 24, uppercase: true)
                    entry.verificationCode = code
                    settings.groups[index] = entry
                    try settings.save(config)
                    Output.line(code)
                    Output.note("""
                        Verification code for group "\(entry.name)" (CA "\(ca.subject)"): \(code)
                        Make a certificate with CN=\(code) signed by that CA, e.g.
                          openssl req -new -newkey rsa:2048 -nodes -keyout verification.key -subj "/CN=\(code)" -out verification.csr
                          openssl x509 -req -in verification.csr -CA \(caPath) -CAkey <the CA's key> -CAcreateserial -days 30 -sha256 -out verification-cert.pem
                        then: dps-device standin verify --config \(config) --group \(entry.name) --cert verification-cert.pem

                        """)
                    return
                }
                guard let code = entry.verificationCode else {
                    throw StandInError("group \"\(entry.name)\" has no verification code yet: run `dps-device standin verify --config \(config) --group \(entry.name)` first to get one")
                }
                let certificate = try X509Chain(file: cert)
                guard certificate.commonName == code else {
                    throw StandInError("the verification certificate \(cert) has CN \"\(certificate.commonName ?? "(none)")\", but the code issued for group \"\(entry.name)\" is \(code): make the certificate with CN=\(code)")
                }
                let flags = certificate.verify(against: ca)
                guard flags == 0 else {
                    throw StandInError("the verification certificate \(cert) is not signed by the group's CA \"\(ca.subject)\" (\(caPath)): \(StandInCertificateText.verify(flags)). Sign it with that CA's key")
                }
                entry.verified = true
                entry.verificationCode = nil
                settings.groups[index] = entry
                try settings.save(config)
                Output.line("Group \"\(entry.name)\": CA \"\(ca.subject)\" verified (proof of possession done). Restart the DPS stand-in to use it.")
            } catch let error as StandInError {
                Output.error(error.description)
                throw ExitCode(1)
            }
        }
    }
}

/// `dps-device monitor`: print telemetry arriving at the hub stand-in like `az iot hub monitor-events`.
struct MonitorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Print every telemetry message arriving at the local IoT Hub stand-in.",
        discussion: """
            Connects to mosquitto as the privileged monitor identity (a client certificate with \
            CN=monitor), subscribes to devices/+/messages/events/# and prints one JSON line per \
            message, shaped like `az iot hub monitor-events --properties all`. Says "monitor: \
            ready" on standard error once subscribed.
            """)

    @Option(name: .long, help: "Hub stand-in host.")
    var host: String = "127.0.0.2"

    @Option(name: .long, help: "Hub stand-in port.")
    var port: UInt16 = 8883

    @Option(name: .long, help: "Monitor client certificate (CN=monitor).")
    var cert: String

    @Option(name: .long, help: "Monitor client key.")
    var key: String

    @Option(name: .long, help: "CA that signed the hub's server certificate.")
    var caFile: String

    @Option(name: .long, help: "Exit after this many events.")
    var count: Int?

    @Option(name: .long, help: "Give up (exit 1) after this many seconds.")
    var timeout: Int?

    func run() throws {
        StopSignals.install()
        try exitingOnError {
            let identity: TLSIdentity
            do throws(TLSFailure) { identity = try TLSIdentity(caFile: caFile, certificateFile: cert, keyFile: key) } catch { throw CLIError(error.description) }
            let memory = SessionMemory(receiveBytes: 300 * 1024, outboxBytes: 4 * 1024)
            let text = TextStore()
            let clientID = "monitor-\(getpid())"
            memory.subscriptions[0] = MQTTSubscription(filter: text.view("devices/+/messages/events/#"), qos: .atLeastOnce)
            let connect = MQTTConnect(clientID: text.view(clientID), cleanSession: true, keepAlive: 30, userName: text.view("monitor"))
            let session = MQTTSession(
                configuration: MQTTSessionConfiguration(connect: connect, subscriptions: MQTTTopicFilterList(UnsafeBufferPointer(rebasing: memory.subscriptions[0..<1]))),
                memory: memory.memory)
            let clock = MonotonicClock()
            var client = MQTTClient(session: session, transport: TLSTransport(host: host, port: port, identity: identity), clock: clock)
            let deadline = timeout.map { clock.now() + .seconds(Int64($0)) }
            var seen = 0
            var problem: String?
            let handler: (MQTTSessionEvent) -> Void = { event in
                switch event {
                case .subscribed(let suback):
                    if suback.returnCode(at: 0) == .failure {
                        problem = "the hub stand-in refused the subscription to devices/+/messages/events/#: the certificate's CN must be \"monitor\" (see the ACL in build/standins/mosquitto.acl)"
                    } else {
                        Output.note("monitor: ready, listening on \(host):\(port) for devices/+/messages/events/#\n")
                    }
                case .message(let publish):
                    seen += 1
                    Output.line(MonitorEvent.line(topic: publish.topic.string, payload: Array(publish.payload.buffer)))
                default:
                    break
                }
            }
            do {
                try client.connect(handler)
                while !StopSignals.isRequested && problem == nil {
                    if let count, seen >= count { break }
                    if let deadline, clock.now() >= deadline {
                        client.disconnect()
                        throw CLIError("monitor: \(seen) of \(count.map(String.init) ?? "?") events arrived within \(timeout ?? 0) s")
                    }
                    try client.poll(until: deadline, handler)
                }
            } catch let error as CLIError {
                throw error
            } catch let error as MQTTClient<TLSTransport, MonotonicClock>.Failure {
                switch error {
                case .transport(let failure): throw CLIError("monitor: \(failure.description)")
                case .session(let failure): throw CLIError("monitor: \(Describe.session(failure))")
                case .sendTimedOut: throw CLIError("monitor: the hub stand-in stopped taking data")
                }
            }
            client.disconnect()
            if let problem { throw CLIError(problem) }
        }
    }
}

/// One telemetry message as `az iot hub monitor-events` prints it.
enum MonitorEvent {
    /// Short names az uses for the system properties.
    static let systemNames = [
        "$.mid": "message_id", "$.cid": "correlation_id", "$.ct": "content_type", "$.ce": "content_encoding",
        "$.ctime": "iothub-creation-time-utc", "$.exp": "absolute-expiry-time", "$.uid": "user_id",
    ]

    static func line(topic: String, payload: [UInt8]) -> String {
        // devices/{deviceId}/messages/events/{property bag}
        let parts = topic.split(separator: "/", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
        let origin = parts.count > 1 ? (parts[1].percentDecoded ?? parts[1]) : ""
        let bag = parts.count > 4 ? parts[4] : ""
        var system: [(String, String)] = []
        var application: [(String, String)] = []
        for pair in bag.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(kv[0]).percentDecoded ?? String(kv[0])
            let value = kv.count > 1 ? (String(kv[1]).percentDecoded ?? String(kv[1])) : ""
            if key.hasPrefix("$.") {
                system.append((systemNames[key] ?? key, value))
            } else {
                application.append((key, value))
            }
        }
        var properties = "{}"
        if !system.isEmpty || !application.isEmpty {
            properties = "{\"system\": \(object(system)), \"application\": \(object(application))}"
        }
        // A JSON payload is shown as JSON (as az does), anything else as a string.
        let payloadText: String
        if let raw = String(validating: payload, as: UTF8.self), (try? JSONParser.parse(raw)) != nil {
            payloadText = String(raw.trimmingJSONWhitespace)
        } else {
            payloadText = quote(String(decoding: payload, as: UTF8.self))
        }
        return "{\"event\": {\"origin\": \(quote(origin)), \"module\": \"\", \"interface\": \"\", \"component\": \"\", \"properties\": \(properties), \"payload\": \(payloadText)}}"
    }

    static func object(_ pairs: [(String, String)]) -> String {
        "{" + pairs.map { "\(quote($0.0)): \(quote($0.1))" }.joined(separator: ", ") + "}"
    }

    static func quote(_ text: String) -> String { JSONValue.string(text).compactText }
}
