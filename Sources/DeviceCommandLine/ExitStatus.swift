import DeviceCore
import LinuxBoard

/// The exit statuses of `provision` and `run` (also in `docs/dps-device.md`).
public enum ExitStatus: Int32, Sendable {
    case success = 0
    /// DPS refused or failed the registration (401, 404, failed, disabled…).
    case provisioningFailed = 1
    /// A connection or TLS failure that retrying did not cure, or a broker refusal.
    case connectionFailed = 2
    /// A step did not finish before its deadline.
    case timedOut = 3
    /// The certificate, key or CA files, or the registration id, need fixing.
    case configuration = 4
    /// `run`: every message that had a body was sent and acknowledged, but `--body-command`
    /// failed for at least one, which was not sent.
    case messagesNotSent = 5
    /// Usage errors: a missing, malformed or out-of-range option (`Error: …` and the usage line).
    case usage = 64
    /// Stopped by SIGINT/SIGTERM after a clean DISCONNECT.
    case interrupted = 130

    /// `hub …`: the hub stand-in refused the request (a device offline or not known, a method
    /// not answered in time, a malformed patch); it shares status 1.
    public static let refused = ExitStatus.provisioningFailed
}

public struct CLIError: Error, CustomStringConvertible {
    public let description: String
    public let status: ExitStatus
    /// Whether the hub refused this device in CONNACK (2 identifier rejected, 4 bad user name
    /// or password, 5 not authorized): it no longer knows it there, so registering again may
    /// give it a hub that does.
    var hubRefusedDevice = false

    public init(_ description: String, status: ExitStatus = .configuration) {
        self.description = description
        self.status = status
    }

    /// The error for a failed flow step, with the exit status its kind calls for.
    public init(_ context: String, _ failure: DeviceFlowFailure<TLSFailure>) {
        let status: ExitStatus
        switch failure {
        case .transport(let tls): status = tls.isRetriable ? .connectionFailed : .configuration
        // A publish the session refused (the request cannot be encoded or queued) is this
        // program's configuration, not the connection's.
        case .session(.encoding), .session(.backPressure), .session(.notConnected): status = .configuration
        case .session: status = .connectionFailed
        case .timedOut: status = .timedOut
        case .stopped: status = .interrupted
        case .dps, .hub, .body, .bufferTooSmall: status = .configuration
        }
        self.init("\(context): \(Describe.failure(failure))", status: status)
        if case .session(.connectionRefused(let code)) = failure {
            hubRefusedDevice = code == .identifierRejected || code == .badUserNameOrPassword || code == .notAuthorized
        }
    }
}
