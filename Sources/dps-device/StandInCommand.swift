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
        abstract: "Run local stand-ins for Azure DPS and IoT Hub.",
        discussion: "See docs/local-standins.md and docs/twin-and-methods.md; scripts/standins.sh starts both.",
        subcommands: [DPS.self, Hub.self, Verify.self])
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

        // Every value is the next argument whatever it looks like (`.unconditional`), so that
        // `--delay -5` reaches the range check instead of being taken for an option.
        @Option(name: .long, parsing: .unconditional, help: "Address and port to listen on (port 1-65535).")
        var listen: String = "127.0.0.1:8883"

        @Option(name: .long, parsing: .unconditional, help: "Stand-in configuration JSON (ID scope, enrollment groups, faults).")
        var config: String

        @Option(name: .long, parsing: .unconditional, help: "Server certificate PEM (with IP SANs for the loopback address).")
        var cert: String

        @Option(name: .long, parsing: .unconditional, help: "Server private key PEM.")
        var key: String

        @Option(name: .long, parsing: .unconditional, help: "retry-after seconds sent with 202 (0-3600; default: the configuration's, else 3 as DPS).")
        var retryAfter: Int?

        @Flag(name: .long, help: "Answer the register request with the assignment (200) at once, with no 202 and poll.")
        var assignAtOnce = false

        @Option(name: .long, parsing: .unconditional, help: "Fault: answer the first N requests with 429 throttled (0-1000000).")
        var throttle: Int?

        @Option(name: .long, parsing: .unconditional, help: "retry-after seconds sent with the 429s of --throttle (0-3600; default 2).")
        var throttleRetryAfter: Int?

        @Option(name: .long, parsing: .unconditional, help: "Fault: answer the first N requests with 500 (0-1000000).")
        var fail: Int?

        @Option(name: .long, parsing: .unconditional, help: "Fault: drop the connection right after its Nth packet (1-1000000; CONNECT is 1, SUBSCRIBE 2, register 3).")
        var dropAfter: Int?

        @Option(name: .long, parsing: .unconditional, help: "How many connections --drop-after drops (0-1000000; default 1).")
        var dropTimes: Int?

        @Option(name: .long, parsing: .unconditional, help: "Fault: refuse CONNECT with this CONNACK code (1-5).")
        var refuseConnect: Int?

        @Option(name: .long, parsing: .unconditional, help: "How many CONNECTs --refuse-connect refuses (0-1000000; default: all).")
        var refuseTimes: Int?

        @Option(name: .long, parsing: .unconditional, help: "Fault: delay every response by this many milliseconds (0-60000).")
        var delay: Int?

        @Option(name: .long, parsing: .unconditional, help: "Seconds from the TCP connection to the end of the TLS handshake (0.1-3600; default 10).")
        var handshakeTimeout: Double?

        @Option(name: .long, parsing: .unconditional, help: "Seconds from the TLS handshake to CONNECT (0.1-3600; default 10).")
        var connectTimeout: Double?

        @Option(name: .long, parsing: .unconditional, help: "Longest silence after CONNECT, seconds: for keep-alive 0, and below 1.5 x a long keep-alive (0.1-86400; default 1767, IoT Hub's cap).")
        var idleTimeout: Double?

        var options: DPSStandInOptions {
            var options = DPSStandInOptions()
            options.listen = listen
            options.config = config
            options.cert = cert
            options.key = key
            options.retryAfter = retryAfter
            options.assignAtOnce = assignAtOnce
            options.throttle = throttle
            options.throttleRetryAfter = throttleRetryAfter
            options.fail = fail
            options.dropAfter = dropAfter
            options.dropTimes = dropTimes
            options.refuseConnect = refuseConnect
            options.refuseTimes = refuseTimes
            options.delay = delay
            options.handshakeTimeout = handshakeTimeout
            options.connectTimeout = connectTimeout
            options.idleTimeout = idleTimeout
            return options
        }

        /// Every option checked before anything starts: a usage error (exit 64) naming each problem.
        func validate() throws {
            let problems = options.problems()
            if !problems.isEmpty { throw ValidationError(problems.joined(separator: "\n")) }
        }

        func run() throws {
            do {
                let options = self.options
                let settings = options.applied(to: try StandInConfig.load(config))
                let faults = settings.faults ?? StandInConfig.Faults()
                guard let (host, port) = options.listenAddress else { throw StandInError("--listen \"\(listen)\" is not HOST:PORT") }
                let emulator = try DPSEmulator(config: settings, configPath: config) { Self.log($0) }
                let server = try TLSServer(
                    host: host, port: port, certificateFile: cert, keyFile: key, clientCAs: try emulator.clientCAs(), timeouts: options.timeouts)
                StopSignals.install()
                signal(SIGPIPE, SIG_IGN)
                let groups = emulator.groups.map {
                    "\($0.settings.name) (CA \"\($0.ca.subject)\", \($0.settings.enabled ? "enabled" : "disabled"), \($0.settings.verified ? "verified" : "NOT verified"), hub \($0.settings.iotHub))"
                }
                Self.log("DPS stand-in listening on \(host):\(port), ID scope \(settings.idScope); groups: \(groups.joined(separator: "; "))")
                Self.log("timeouts: \(options.timeouts)")
                if faults != StandInConfig.Faults() { Self.log("fault injection: \(Self.describe(faults))") }
                server.run(emulator) { StopSignals.isRequested }
                Self.log("DPS stand-in stopped")
            } catch let error as StandInError {
                Output.error(error.description)
                throw ExitCode(1)
            }
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
            let deadline = timeout.map { clock.now() + .seconds(Int32(clamping: $0)) }
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
                try client.connect()
                while !StopSignals.isRequested && problem == nil {
                    if let count, seen >= count { break }
                    if let deadline, clock.now() >= deadline {
                        client.disconnect()
                        throw CLIError("monitor: \(seen) of \(count.map(String.init) ?? "?") events arrived within \(timeout ?? 0) s")
                    }
                    if let event = try client.nextEvent(until: deadline) { handler(event) }
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
