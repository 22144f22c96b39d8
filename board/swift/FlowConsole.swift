// The device flow's events and failures as console lines, for every firmware on the boards.
// The transport's own failures are board-specific: the caller describes them.

import DeviceCore

public enum FlowConsole {
    /// One line for `event`, indented under the firmware's own output.
    public static func event<F: Error>(_ event: DeviceFlowEvent<F>, transport describe: (F) -> Void) {
        Console.write("  flow: ")
        switch event {
        case .connecting(let attempt):
            Console.write("connecting, attempt ")
            Console.decimal(attempt)
        case .connected(let sessionPresent):
            Console.write(sessionPresent ? "connected (session present)" : "connected")
        case .connectionFailed(let failure, let retryIn):
            Console.write("connection failed: ")
            describeFailure(failure, transport: describe)
            Console.write("; next attempt in ")
            Console.decimal(Int(truncatingIfNeeded: retryIn.milliseconds))
            Console.write(" ms")
        case .registrationProgress(let progress):
            Console.write("DPS status ")
            Console.decimal(Int(progress.status))
            Console.write(", next request in ")
            Console.decimal(Int(truncatingIfNeeded: progress.nextRequestIn.milliseconds))
            Console.write(" ms")
        case .provisioned(let outcome):
            if case .assigned(let assignment) = outcome {
                Console.write("assigned to ")
                Console.write(assignment.assignedHub)
                Console.write(" as ")
                Console.write(assignment.deviceID)
            } else {
                Console.write("registration failed")
            }
        case .messageSent(let index, let packetID, let body):
            Console.write("message ")
            Console.decimal(index)
            Console.write(" queued, packet id ")
            Console.decimal(Int(packetID))
            Console.write(", ")
            Console.decimal(body.count)
            Console.write(" bytes")
        case .messageAcknowledged(let packetID):
            Console.write("PUBACK for packet id ")
            Console.decimal(Int(packetID))
        case .cloudToDevice:
            Console.write("cloud-to-device message")
        case .disconnected:
            Console.write("disconnected")
        }
        Console.newline()
    }

    /// A failed step, as one line.
    public static func failure<F: Error>(_ failure: DeviceFlowFailure<F>, transport describe: (F) -> Void) {
        Console.write("  flow failed: ")
        describeFailure(failure, transport: describe)
        Console.newline()
    }

    static func describeFailure<F: Error>(_ failure: DeviceFlowFailure<F>, transport describe: (F) -> Void) {
        switch failure {
        case .transport(let error):
            Console.write("transport: ")
            describe(error)
        case .session(let error):
            Console.write("session")
            if case .malformedPacket(let decode) = error {
                // The rule's number, not its words: the texts stay out of the firmware
                // (`dps-device mqtt rule N` prints them).
                Console.write(": malformed packet: MQTT rule ")
                Console.decimal(Int(decode.rule.code))
                Console.write(" at byte ")
                Console.decimal(decode.offset)
            } else if case .bufferTooSmall(let tooSmall) = error {
                bufferTooSmall(tooSmall, ": the transmit buffer or outbox")
            }
        case .dps(let error):
            Console.write("DPS")
            switch error {
            case .bufferTooSmall(let tooSmall): bufferTooSmall(tooSmall, ": the request buffer")
            case .registrationIDNotUTF8: Console.write(": the registration id is not UTF-8")
            }
        case .hub(let error):
            Console.write("IoT Hub")
            if case .bufferTooSmall(let tooSmall) = error { bufferTooSmall(tooSmall, ": the topic buffer") }
        case .body(let error):
            Console.write("message body")
            if case .bufferTooSmall(let tooSmall) = error { bufferTooSmall(tooSmall, ": the body buffer") }
        case .timedOut: Console.write("timed out")
        case .stopped: Console.write("stopped")
        case .bufferTooSmall(let tooSmall): bufferTooSmall(tooSmall, "the memory region")
        }
    }

    /// `what` and the sizes, in the form the host tools use (`BufferTooSmall.words`):
    /// "the request buffer holds 256 bytes; it needs 300".
    static func bufferTooSmall(_ tooSmall: BufferTooSmall, _ what: StaticString) {
        Console.write(what)
        Console.write(" holds ")
        Console.decimal(tooSmall.capacity)
        Console.write(" bytes; it needs ")
        Console.decimal(tooSmall.needed)
    }
}
