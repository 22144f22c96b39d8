import DeviceCore
import HostJSON
import LinuxBoard

/// Prints the flow's progress the way the walkthrough's script does, or as JSON lines.
struct ConsoleObserver: DeviceFlowObserver {
    typealias TransportFailure = TLSFailure
    var endpoint: String
    let reporter: Reporter
    var sentAt = [UInt16: (index: Int, at: DeviceInstant)]()
    /// Messages in the run; 0 for an open-ended one.
    var total = 0
    /// Messages IoT Hub acknowledged.
    var acknowledged = 0
    /// Connection attempts, and how many of them got a CONNACK.
    var attempts = 0
    var connections = 0
    /// DPS answers that did not end the registration (assigning, throttled, server errors).
    var registrationAnswers = 0
    let clock = MonotonicClock()

    var shouldStop: Bool { StopSignals.isRequested }

    mutating func observe(_ event: DeviceFlowEvent<TLSFailure>) {
        switch event {
        case .connecting(let attempt):
            attempts += 1
            reporter.step("connecting", ["endpoint": .string(endpoint), "attempt": .int(attempt)],
                          "Connecting to \(endpoint)\(attempt > 1 ? " (attempt \(attempt))" : "")...")
        case .connected(let present):
            connections += 1
            reporter.step("connected", ["endpoint": .string(endpoint), "session_present": .bool(present)],
                          "Connected to \(endpoint)\(present ? " (session resumed)" : "").")
        case .connectionFailed(let failure, let wait):
            let words = Describe.failure(failure)
            reporter.step("connection_failed", ["endpoint": .string(endpoint), "error": .string(words), "retry_in_ms": .int(Int(wait.milliseconds))],
                          "Connection to \(endpoint) failed: \(words.hasSuffix(".") ? String(words.dropLast()) : words). Retrying in \(Describe.seconds(wait)).")
        case .registrationProgress(let progress):
            registrationAnswers += 1
            let status = progress.registrationStatus.map(Describe.registrationStatus)
            let words = progress.status == 429 ? "DPS is throttling (429)"
                : progress.status >= 500 ? "DPS had a server error (\(progress.status))"
                : "DPS status \(progress.status)\(status.map { ", registration \($0)" } ?? "")"
            reporter.step("registration_progress",
                          ["status": .int(Int(progress.status)), "registration_status": status.map { .string($0) } ?? .null, "next_request_in_ms": .int(Int(progress.nextRequestIn.milliseconds))],
                          "\(words): asking again in \(Describe.seconds(progress.nextRequestIn)).")
        case .provisioned:
            break
        case .messageSent(let index, let packetID, let body):
            sentAt[packetID] = (index, clock.now())
            reporter.step("message_sent", ["index": .int(index), "count": .int(total), "packet_id": .int(Int(packetID)), "body": .string(body.string)],
                          "Sending message \(index)\(total > 0 ? "/\(total)" : ""): \(body.string)")
        case .messageAcknowledged(let packetID):
            if let sent = sentAt.removeValue(forKey: packetID) {
                acknowledged += 1
                let ms = (clock.now() - sent.at).milliseconds
                reporter.step("message_acknowledged", ["index": .int(sent.index), "packet_id": .int(Int(packetID)), "after_ms": .int(Int(ms))],
                              "  message \(sent.index)\(total > 0 ? "/\(total)" : "") acknowledged by IoT Hub after \(ms) ms")
            }
        case .cloudToDevice(let message):
            reporter.step("cloud_to_device", ["payload": .string(message.payload.string), "properties": .string(message.properties.string)],
                          "Message from the cloud: \(message.payload.string) (properties: \(message.properties.string))")
        case .disconnected:
            reporter.step("disconnected", ["endpoint": .string(endpoint)], "Disconnected from \(endpoint).")
        }
    }

    /// How far the connecting got, for a step the deadline ended: "no connection in 3
    /// attempts", "connected once".
    var connectionProgress: String {
        if connections == 0 { return "no connection to \(endpoint) succeeded in \(Describe.count(attempts, "attempt"))" }
        return "connected to \(endpoint) \(connections == 1 ? "once" : "\(connections) times")"
    }
}
