import DeviceCore

/// What `dps-device standin dps` was given on its command line (`nil`: left out), checked
/// before the server starts and then laid over the configuration file's settings.
public struct DPSStandInOptions: Sendable, Equatable {
    public var listen = "127.0.0.1:8883"
    public var config = ""
    public var cert = ""
    public var key = ""
    public var retryAfter: Int?
    public var assignAtOnce = false
    public var throttle: Int?
    public var throttleRetryAfter: Int?
    public var fail: Int?
    public var dropAfter: Int?
    public var dropTimes: Int?
    public var refuseConnect: Int?
    public var refuseTimes: Int?
    public var delay: Int?
    public var handshakeTimeout: Double?
    public var connectTimeout: Double?
    public var idleTimeout: Double?

    public init() {}

    /// Every problem, one line each, in the order of the options; empty when all is well.
    public func problems() -> [String] {
        var problems: [String] = []
        for (name, value, what) in [("--listen", listen, "HOST:PORT"), ("--config", config, "the stand-in configuration's path"),
                                    ("--cert", cert, "the server certificate's path"), ("--key", key, "the server key's path")]
        where value.isEmpty {
            problems.append("\(name) is empty: pass \(what)")
        }
        if !listen.isEmpty && listenAddress == nil {
            problems.append("--listen must be HOST:PORT with a port from 1 to 65535, e.g. 127.0.0.1:8883; got \"\(listen)\"")
        }
        let numbers: [(String, Int?, StandInLimits.Bound)] = [
            ("--retry-after", retryAfter, StandInLimits.retryAfter),
            ("--throttle", throttle, StandInLimits.times),
            ("--throttle-retry-after", throttleRetryAfter, StandInLimits.retryAfter),
            ("--fail", fail, StandInLimits.times),
            ("--drop-after", dropAfter, StandInLimits.afterPackets),
            ("--drop-times", dropTimes, StandInLimits.times),
            ("--refuse-connect", refuseConnect, StandInLimits.refuseCode),
            ("--refuse-times", refuseTimes, StandInLimits.times),
            ("--delay", delay, StandInLimits.delay),
        ]
        problems += numbers.compactMap { StandInLimits.problem($0.0, $0.1, $0.2) }
        // A count or a retry-after for a fault that is not asked for.
        let companions: [(String, Bool, String)] = [
            ("--throttle-retry-after", throttleRetryAfter != nil && throttle == nil, "--throttle N"),
            ("--drop-times", dropTimes != nil && dropAfter == nil, "--drop-after N"),
            ("--refuse-times", refuseTimes != nil && refuseConnect == nil, "--refuse-connect CODE"),
        ]
        for (name, alone, partner) in companions where alone {
            problems.append("\(name) belongs to a fault that is not asked for: pass \(partner) too")
        }
        let seconds: [(String, Double?, ClosedRange<Double>)] = [
            ("--handshake-timeout", handshakeTimeout, StandInLimits.stepTimeout),
            ("--connect-timeout", connectTimeout, StandInLimits.stepTimeout),
            ("--idle-timeout", idleTimeout, StandInLimits.idleTimeout),
        ]
        problems += seconds.compactMap { StandInLimits.problem($0.0, seconds: $0.1, $0.2) }
        return problems
    }

    /// `--listen` as host and port (an IPv6 host in brackets, `[::1]:8883`), or `nil` when it is
    /// not HOST:PORT with a port from 1 to 65535.
    public var listenAddress: (host: String, port: UInt16)? { ListenAddress.parse(listen) }

    /// The server's timeouts: the flags', else the defaults.
    public var timeouts: ServerTimeouts {
        let defaults = ServerTimeouts()
        func duration(_ seconds: Double?, _ fallback: DeviceDuration) -> DeviceDuration {
            seconds.map { .milliseconds(Int32(clamping: Int64(($0 * 1000).rounded()))) } ?? fallback
        }
        return ServerTimeouts(
            handshake: duration(handshakeTimeout, defaults.handshake), connect: duration(connectTimeout, defaults.connect),
            idle: duration(idleTimeout, defaults.idle))
    }

    /// `settings` (the configuration file's) with what the flags set instead.
    public func applied(to settings: StandInConfig) -> StandInConfig {
        var settings = settings
        var faults = settings.faults ?? StandInConfig.Faults()
        if let throttle { faults.throttle = .init(times: throttle, retryAfter: throttleRetryAfter) }
        if let fail { faults.fail = .init(times: fail) }
        if let dropAfter { faults.drop = .init(afterPackets: dropAfter, times: dropTimes ?? 1) }
        if let refuseConnect { faults.refuseConnect = .init(code: refuseConnect, times: refuseTimes) }
        if let delay { faults.delayMilliseconds = delay }
        settings.faults = faults
        if let retryAfter { settings.retryAfterSeconds = retryAfter }
        if assignAtOnce { settings.assignAtOnce = true }
        return settings
    }
}
