import DeviceCore
import DeviceCoreWords
import LinuxBoard

/// Words for failures, naming what to check.
public enum Describe {
    static func seconds(_ duration: DeviceDuration) -> String {
        let tenths = (duration.milliseconds + 50) / 100
        return duration.milliseconds % 1000 == 0 ? "\(duration.milliseconds / 1000) s" : "\(tenths / 10).\(tenths % 10) s"
    }

    /// "1 attempt", "3 attempts".
    static func count(_ value: Int, _ noun: String) -> String {
        "\(value) \(noun)\(value == 1 ? "" : "s")"
    }

    static func failure(_ failure: DeviceFlowFailure<TLSFailure>) -> String {
        switch failure {
        case .transport(let error): return error.description
        case .session(let error): return session(error)
        case .dps(let error): return dps(error)
        case .hub(let error): return hub(error)
        case .body(let error): return "the message body could not be written: \(json(error))"
        case .timedOut: return "the connection stalled: the server took no bytes or sent no acknowledgement in time"
        case .stopped: return "stopped"
        case .bufferTooSmall(let tooSmall): return tooSmall.words("the device's memory region")
        }
    }

    public static func session(_ error: MQTTSessionError) -> String {
        switch error {
        case .connectionRefused(let code):
            switch code {
            case .accepted: return "the connection was accepted"
            case .unacceptableProtocolVersion: return "the server refused MQTT 3.1.1 (CONNACK 1)"
            case .identifierRejected: return "the server rejected the client id (CONNACK 2): check the registration id / device id"
            case .serverUnavailable: return "the server is unavailable (CONNACK 3)"
            case .badUserNameOrPassword: return "the server refused the credentials (CONNACK 4): check the ID scope and that the certificate belongs to an enrollment"
            case .notAuthorized: return "the server did not authorize this device (CONNACK 5): check the ID scope, the enrollment group and its CA, and that the registration id equals the certificate CN"
            }
        case .connackTimeout: return "no CONNACK from the server in time"
        case .pingTimeout: return "the server stopped answering (no PINGRESP): the connection is dead"
        case .acknowledgementTimeout(let id): return "no PUBACK for packet \(id) in time"
        case .malformedPacket(let e): return "the server sent a malformed packet: \(e.rule.summary) at byte \(e.offset)"
        case .unexpectedPacket(let type): return "the server sent a \(type.name) packet, which a client never receives here: the connection was closed"
        case .unsolicitedQoS2Publish(let id): return "the server sent a QoS 2 PUBLISH (packet \(id)) although the device never subscribed at QoS 2"
        case .subackCountMismatch(let expected, let actual): return "the server's SUBACK has \(actual) return codes for \(expected) topic filters"
        case .notConnected: return "the MQTT session is not connected"
        case .bufferTooSmall(let tooSmall): return tooSmall.words("the session's transmit buffer (QoS 0, requests) or outbox (QoS 1)")
        case .backPressure(let pressure): return backPressure(pressure)
        case .encoding(let e): return encode(e)
        case .tooManyPendingRequests: return "too many SUBSCRIBE/UNSUBSCRIBE requests are waiting for the server's answer"
        }
    }

    static func backPressure(_ pressure: MQTTBackPressure) -> String {
        switch pressure {
        case .windowFull(let capacity): return "all \(capacity) in-flight slots hold unacknowledged messages"
        case .outboxFull(let needed, let available): return "the outbox has \(available) bytes free; the message needs \(needed)"
        }
    }

    static func encode(_ error: MQTTEncodeError) -> String {
        switch error {
        case .bufferTooSmall(let tooSmall): return tooSmall.words("the packet buffer")
        case .packetTooLarge(let length): return "the packet would be \(length) bytes long; MQTT allows at most 268,435,455"
        case .invalid(let rule): return "the packet would break MQTT 3.1.1: \(rule.summary)"
        }
    }

    static func json(_ error: JSONWriteError) -> String {
        switch error {
        case .bufferTooSmall(let tooSmall): return tooSmall.words("the body buffer")
        case .invalidUTF8(let offset): return "a string is not UTF-8 at byte \(offset)"
        case .unbalanced: return "the JSON writer's calls did not make one JSON value"
        }
    }

    static func dps(_ error: DPSError) -> String {
        switch error {
        case .bufferTooSmall(let tooSmall): return tooSmall.words("the DPS request buffer")
        case .registrationIDNotUTF8: return "the registration id is not UTF-8"
        }
    }


    static func hub(_ error: IoTHubError) -> String {
        switch error {
        case .messageTooLarge(let size, let limit): return "the message is \(size) bytes; IoT Hub accepts at most \(limit)"
        case .bufferTooSmall(let tooSmall): return tooSmall.words("the telemetry topic buffer")
        }
    }

    /// A failed registration in words; `timing`, for a timeout, says how long it took and how
    /// far it got (`in 3.0 s (--timeout 3): connected …`).
    static func outcome(_ failure: DPSFailure, timing: String? = nil) -> String {
        var words: String
        switch failure.reason {
        case .rejected(let status): words = "DPS rejected the registration (status \(status))"
        case .registrationFailed: words = "DPS registration failed"
        case .disabled: words = "the enrollment is disabled in DPS"
        case .timedOut: words = "DPS did not finish the registration \(timing ?? "in time")"
        case .subscriptionRefused: words = "the broker refused the DPS response subscription"
        case .malformedResponse(let reason): words = "DPS sent a response the device cannot read: \(dpsProtocol(reason))"
        }
        if let code = failure.errorCode { words += ", error code \(code)" }
        if let message = failure.message { words += ": \(message.string)" }
        if let tracking = failure.trackingID { words += " (tracking id \(tracking.string))" }
        if let hint = hint(failure) { words += "\nHint: " + hint }
        return words
    }

    /// DPS's own word for the status (`status` in its JSON).
    static func registrationStatus(_ status: DPSRegistrationStatus) -> String {
        switch status {
        case .unassigned: return "unassigned"
        case .assigning: return "assigning"
        case .assigned: return "assigned"
        case .failed: return "failed"
        case .disabled: return "disabled"
        }
    }

    static func dpsProtocol(_ error: DPSProtocolError) -> String {
        switch error {
        case .malformedResponseTopic(let offset): return "the response topic's status or query is malformed at byte \(offset)"
        case .malformedJSON(let error): return "the body is not JSON: \(error.summary) at byte \(error.offset)"
        case .bodyNotAnObject: return "the body is JSON but not an object"
        case .unknownStatus: return "the body's status is not one DPS defines (unassigned, assigning, assigned, failed, disabled)"
        case .missingStatus: return "the body lacks \"status\""
        case .missingOperationID: return "the body lacks \"operationId\""
        case .assignmentWithoutHubOrDevice: return "the body has assignedHub without deviceId, or deviceId without assignedHub"
        case .bufferTooSmall(let tooSmall): return tooSmall.words("the results buffer")
        }
    }

    /// What to check for a DPS failure, by its six-digit code or its status.
    static func hint(_ failure: DPSFailure) -> String? {
        switch failure.errorCode {
        case 401002:
            return "the certificate's chain is not accepted by any enrollment group: is the root (or intermediate) CA uploaded and verified, is the group enabled, and does the device certificate chain to it (send intermediates in the --cert file)?"
        case 401000, 401001:
            return "DPS could not authenticate the device: check the certificate and key, and that the registration id equals the certificate CN."
        default:
            break
        }
        switch failure.reason {
        case .rejected(401), .rejected(403):
            return "check the ID scope, that the certificate chains to the enrollment group's verified CA, and that the registration id equals the certificate CN."
        case .rejected(404):
            return "check the ID scope (the DPS instance's overview page) and that an enrollment exists for this device."
        case .rejected(400):
            return "DPS found the request invalid: check the registration id (letters, digits, . _ -, up to 128) and the --payload JSON."
        case .disabled:
            return "enable the enrollment (or enrollment group) in the DPS instance."
        case .timedOut:
            return "DPS kept answering 'assigning' or did not answer; try a longer --timeout, and check the DPS instance is linked to an IoT Hub."
        default:
            return nil
        }
    }
}
