// The service side of the local IoT Hub: `dps-device hub invoke | twin show | twin update | c2d send`,
// shaped like the `az iot hub` commands they stand in for.
import ArgumentParser
import DeviceCommandLine
import DeviceCore
#if canImport(Glibc)
import Glibc
#endif
import HostJSON
import LinuxBoard
import StandIn

struct HubServiceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hub",
        abstract: "Service-side commands for the local IoT Hub stand-in (like `az iot hub …`).",
        discussion: "They connect to `dps-device standin hub` as the service identity (CN=monitor). See docs/twin-and-methods.md.",
        subcommands: [Invoke.self, Twin.self, CloudToDevice.self])
}

/// Where the hub stand-in is and who the service is.
struct HubServiceOptions: ParsableArguments {
    @Option(name: .long, parsing: .unconditional, help: "Hub stand-in host.")
    var host: String = "127.0.0.2"

    @Option(name: .long, parsing: .unconditional, help: "Hub stand-in port (1-65535).")
    var port: UInt16 = 8883

    @Option(name: .long, parsing: .unconditional, help: "Service client certificate (CN=monitor).")
    var cert: String

    @Option(name: .long, parsing: .unconditional, help: "Service client key.")
    var key: String

    @Option(name: .long, parsing: .unconditional, help: "CA that signed the hub's server certificate.")
    var caFile: String

    func validate() throws {
        var problems: [String] = []
        for (name, value) in [("--host", host), ("--cert", cert), ("--key", key), ("--ca-file", caFile)] where value.isEmpty {
            problems.append("\(name) is empty: pass a value")
        }
        if port == 0 { problems.append("--port must be from 1 to 65535") }
        if !problems.isEmpty { throw ValidationError(problems.joined(separator: "\n")) }
    }

    /// What every command's `run` does: sends the request and prints the hub's answer, or the
    /// error and its exit status.
    func printAnswer(_ path: String, query: String = "", body: [UInt8], waitSeconds: Int64) throws {
        StopSignals.install()
        try exitingOnError { Output.line(try request(path, query: query, body: body, waitSeconds: waitSeconds)) }
    }

    /// Sends one service request (`$service/{path}/?$rid=1{query}` with `body`) and returns
    /// the hub's answer; throws the hub's error message for a status other than 200.
    func request(_ path: String, query: String = "", body: [UInt8], waitSeconds: Int64) throws -> String {
        let identity: TLSIdentity
        do throws(TLSFailure) { identity = try TLSIdentity(caFile: caFile, certificateFile: cert, keyFile: key) } catch { throw CLIError(error.description) }
        let memory = SessionMemory(receiveBytes: 300 * 1024, outboxBytes: 300 * 1024)
        let text = TextStore()
        memory.subscriptions[0] = MQTTSubscription(filter: text.view("$service/res/#"), qos: .atMostOnce)
        let connect = MQTTConnect(clientID: text.view("service-\(getpid())"), cleanSession: true, keepAlive: 30, userName: text.view("service"))
        let session = MQTTSession(
            configuration: MQTTSessionConfiguration(connect: connect, subscriptions: MQTTTopicFilterList(UnsafeBufferPointer(rebasing: memory.subscriptions[0..<1]))),
            memory: memory.memory)
        let clock = MonotonicClock()
        var client = MQTTClient(session: session, transport: TLSTransport(host: host, port: port, identity: identity), clock: clock)
        let deadline = clock.now() + .seconds(Int32(clamping: waitSeconds))
        let topic = text.view("$service/\(path)/?$rid=1\(query)")
        let payload = text.view(String(decoding: body, as: UTF8.self))
        do {
            try client.connect(until: deadline)
            var sent = false
            while !StopSignals.isRequested {
                guard clock.now() < deadline else { break }
                guard let event = try client.nextEvent(until: deadline) else { continue }
                switch event {
                case .subscribed(let suback):
                    guard suback.returnCode(at: 0) != .failure else {
                        client.disconnect()
                        throw CLIError("the hub stand-in refused the service subscription: the certificate \(cert) must have CN=monitor (the hub's --service-cn)")
                    }
                    _ = try client.session.publish(topic: topic, payload: payload, qos: .atMostOnce)
                    sent = true
                case .message(let publish) where sent:
                    let (status, answer) = Self.answer(topic: publish.topic.string, payload: Array(publish.payload.buffer))
                    client.disconnect()
                    guard status == 200 else {
                        let message = (try? JSONParser.parse(answer))?["message"].flatMap { if case .string(let m) = $0 { return m } else { return nil } }
                        throw CLIError("the hub answered \(status.map(String.init) ?? "?"): \(message ?? answer)", status: .refused)
                    }
                    return answer
                default:
                    break
                }
            }
            client.disconnect()
            if StopSignals.isRequested { throw CLIError("stopped by a signal before the hub answered", status: .interrupted) }
            throw CLIError("the hub stand-in at \(host):\(port) did not answer within \(waitSeconds) s", status: .connectionFailed)
        } catch let error as CLIError {
            throw error
        } catch let error as MQTTClient<TLSTransport, MonotonicClock>.Failure {
            switch error {
            case .transport(let failure): throw CLIError("hub: \(failure.description)", status: .connectionFailed)
            case .session(let failure): throw CLIError("hub: \(Describe.session(failure))", status: .connectionFailed)
            case .sendTimedOut: throw CLIError("hub: the hub stand-in stopped taking data", status: .connectionFailed)
            }
        }
    }

    /// The status of `$service/res/{status}/?$rid=…` and the body.
    static func answer(topic: String, payload: [UInt8]) -> (Int?, String) {
        let parts = topic.split(separator: "/")
        let status = parts.count > 2 ? Int(parts[2]) : nil
        return (status, String(decoding: payload, as: UTF8.self))
    }

    /// `text` as a JSON document, or a usage error naming `option`.
    static func json(_ text: String, option: String) throws -> JSONValue {
        do throws(JSONSyntaxError) { return try JSONParser.parse(text) } catch {
            throw ValidationError("\(option) is not valid JSON: \(error.message) at byte \(error.offset)")
        }
    }

    /// A device id or method name as one topic level: non-empty, no `/`, `+`, `#`, `?` or blank.
    static func topicLevel(_ text: String, what: String) throws {
        guard !text.isEmpty, !text.contains(where: { "/+#? ".contains($0) }) else {
            throw ValidationError("\(what) \"\(text)\" must be non-empty, without / + # ? or spaces")
        }
    }
}

extension HubServiceCommand {
    /// `dps-device hub invoke DEVICE METHOD`, like `az iot hub invoke-device-method`.
    struct Invoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Invoke a direct method on a device and print {\"status\": …, \"payload\": …}.",
            discussion: "Exit 0 when the device answered (whatever its status); 1 when it is offline (404) or did not answer in time (504).")

        @Argument(help: "The device id.")
        var device: String

        @Argument(help: "The method name (component*command for a Plug and Play component).")
        var method: String

        @Option(name: .long, parsing: .unconditional, help: "The request payload, JSON (default null).")
        var payload: String = "null"

        @Option(name: .long, parsing: .unconditional, help: "Seconds the device has to answer (5-300, default 30).")
        var timeout: Int = 30

        @OptionGroup var hub: HubServiceOptions

        func validate() throws {
            try HubServiceOptions.topicLevel(device, what: "the device id")
            try HubServiceOptions.topicLevel(method, what: "the method name")
            _ = try HubServiceOptions.json(payload, option: "--payload")
            guard IoTHubEmulator.methodTimeoutRange.contains(timeout) else { throw ValidationError("--timeout must be from 5 to 300 seconds; got \(timeout)") }
        }

        func run() throws {
            try hub.printAnswer("methods/POST/\(device)/\(method)", query: "&timeout=\(timeout)", body: Array(payload.utf8), waitSeconds: Int64(timeout) + 10)
        }
    }

    /// `dps-device hub twin show|update`, like `az iot hub device-twin`.
    struct Twin: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show or update a device twin.", subcommands: [Show.self, Update.self])

        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Print a device's twin (like `az iot hub device-twin show`).")

            @Argument(help: "The device id.")
            var device: String

            @OptionGroup var hub: HubServiceOptions

            func validate() throws { try HubServiceOptions.topicLevel(device, what: "the device id") }

            func run() throws { try hub.printAnswer("twin/GET/\(device)", body: [], waitSeconds: 10) }
        }

        struct Update: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Patch a device's desired properties and print the twin (like `az iot hub device-twin update --desired`).",
                discussion: "The patch is merged (null removes a property); a connected device gets it at once, with the new $version.")

            @Argument(help: "The device id.")
            var device: String

            @Option(name: .long, parsing: .unconditional, help: "The desired-properties patch, a JSON object.")
            var desired: String

            @OptionGroup var hub: HubServiceOptions

            func validate() throws {
                try HubServiceOptions.topicLevel(device, what: "the device id")
                guard case .object = try HubServiceOptions.json(desired, option: "--desired") else {
                    throw ValidationError("--desired must be a JSON object, e.g. '{\"fanSpeed\": 2}'")
                }
            }

            func run() throws { try hub.printAnswer("twin/PATCH/\(device)", body: Array(desired.utf8), waitSeconds: 10) }
        }
    }

    /// `dps-device hub c2d send DEVICE DATA`, like `az iot device c2d-message send`.
    struct CloudToDevice: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "c2d", abstract: "Cloud-to-device messages.", subcommands: [Send.self])

        struct Send: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Queue a cloud-to-device message; the device gets it when it listens.")

            @Argument(help: "The device id.")
            var device: String

            @Argument(help: "The message body (text).")
            var data: String

            @Option(name: .long, parsing: .unconditional, help: "Application properties, k=v,k2=v2.")
            var props: String?

            @OptionGroup var hub: HubServiceOptions

            func validate() throws {
                try HubServiceOptions.topicLevel(device, what: "the device id")
                _ = try properties()
            }

            func properties() throws -> [JSONMember] {
                guard let props else { return [] }
                return try props.split(separator: ",", omittingEmptySubsequences: false).map { pair in
                    let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    guard kv.count == 2, !kv[0].isEmpty else { throw ValidationError("--props must be k=v,k2=v2; \"\(pair)\" is not k=v") }
                    return JSONMember(String(kv[0]), .string(String(kv[1])))
                }
            }

            func run() throws {
                let body = JSONValue.object([JSONMember("data", .string(data)), JSONMember("properties", .object(try properties()))])
                try hub.printAnswer("c2d/\(device)", body: Array(body.compactText.utf8), waitSeconds: 10)
            }
        }
    }
}
