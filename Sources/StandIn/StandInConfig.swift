import FoundationEssentials

/// The DPS stand-in's configuration: one JSON file, written by hand or by `make demo`.
///
///     {
///       "idScope": "0ne00000DEMO",
///       "retryAfterSeconds": 3,
///       "groups": [
///         { "name": "demo-group", "caFile": "root-ca.pem", "enabled": true, "verified": true,
///           "iotHub": "127.0.0.2" }
///       ],
///       "faults": { "throttle": { "times": 1, "retryAfter": 2 } }
///     }
///
/// Relative `caFile` paths are relative to the configuration file. The stand-in keeps what it
/// has assigned in `<config>.state.json` beside it.
public struct StandInConfig: Codable, Sendable, Equatable {
    /// The ID scope devices must put in their user name.
    public var idScope: String
    /// `retry-after` sent with 202 (DPS sends 3).
    public var retryAfterSeconds: Int?
    /// Answer the register request with the assignment (200) instead of 202 and a poll, for
    /// measuring a device without the DPS wait.
    public var assignAtOnce: Bool?
    public var groups: [EnrollmentGroup]
    public var faults: Faults?

    public init(idScope: String, retryAfterSeconds: Int? = nil, groups: [EnrollmentGroup], faults: Faults? = nil) {
        self.idScope = idScope
        self.retryAfterSeconds = retryAfterSeconds
        self.groups = groups
        self.faults = faults
    }

    /// An X.509 enrollment group: every device whose certificate chains to `caFile` may register.
    public struct EnrollmentGroup: Codable, Sendable, Equatable {
        public var name: String
        /// The group's CA certificate (root or intermediate), PEM.
        public var caFile: String
        public var enabled: Bool
        /// Whether the CA passed proof of possession (`dps-device standin verify`).
        public var verified: Bool
        /// Host name (or IP) of the IoT Hub the group assigns devices to.
        public var iotHub: String
        /// The code issued by `verify` and not yet answered with a verification certificate.
        public var verificationCode: String?

        public init(name: String, caFile: String, enabled: Bool = true, verified: Bool = false, iotHub: String, verificationCode: String? = nil) {
            self.name = name
            self.caFile = caFile
            self.enabled = enabled
            self.verified = verified
            self.iotHub = iotHub
            self.verificationCode = verificationCode
        }
    }

    /// Faults to inject, for tests. Each with `times` fires that many times in the stand-in's
    /// life (counted over all devices), then never again; without `times`, always.
    public struct Faults: Codable, Sendable, Equatable {
        /// Answer register and poll requests with 429 and `retry-after`.
        public var throttle: Throttle?
        /// Answer register and poll requests with 500.
        public var fail: Counted?
        /// Close the connection (no TLS close_notify) right after its Nth packet from the device.
        public var drop: Drop?
        /// Answer CONNECT with this CONNACK return code (1…5).
        public var refuseConnect: Refuse?
        /// Hold every response PUBLISH back this long.
        public var delayMilliseconds: Int?

        public init(throttle: Throttle? = nil, fail: Counted? = nil, drop: Drop? = nil, refuseConnect: Refuse? = nil, delayMilliseconds: Int? = nil) {
            self.throttle = throttle
            self.fail = fail
            self.drop = drop
            self.refuseConnect = refuseConnect
            self.delayMilliseconds = delayMilliseconds
        }

        public struct Throttle: Codable, Sendable, Equatable {
            public var times: Int?
            public var retryAfter: Int?
            public init(times: Int? = nil, retryAfter: Int? = nil) { self.times = times; self.retryAfter = retryAfter }
        }
        public struct Counted: Codable, Sendable, Equatable {
            public var times: Int?
            public init(times: Int? = nil) { self.times = times }
        }
        public struct Drop: Codable, Sendable, Equatable {
            public var afterPackets: Int
            public var times: Int?
            public init(afterPackets: Int, times: Int? = nil) { self.afterPackets = afterPackets; self.times = times }
        }
        public struct Refuse: Codable, Sendable, Equatable {
            public var code: Int
            public var times: Int?
            public init(code: Int, times: Int? = nil) { self.code = code; self.times = times }
        }
    }

    /// Reads and checks a configuration file.
    public static func load(_ path: String) throws -> StandInConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StandInError("cannot read the stand-in configuration \"\(path)\": check the path (see docs/local-standins.md for the format)")
        }
        let config: StandInConfig
        do { config = try JSONDecoder().decode(StandInConfig.self, from: data) } catch {
            throw StandInError("the stand-in configuration \"\(path)\" is not valid: \(Self.describe(error))")
        }
        if config.groups.isEmpty { throw StandInError("the stand-in configuration \"\(path)\" has no enrollment groups: add one to \"groups\"") }
        let problems = StandInConfigKeys.unknown(in: data) + config.problems()
        if !problems.isEmpty {
            throw StandInError("the stand-in configuration \"\(path)\" is not valid:\n" + problems.map { "  " + $0 }.joined(separator: "\n"))
        }
        return config
    }

    /// Every number out of its bounds (`StandInLimits`, as for the flags), named by its key.
    public func problems() -> [String] {
        let numbers: [(String, Int?, StandInLimits.Bound)] = [
            ("retryAfterSeconds", retryAfterSeconds, StandInLimits.retryAfter),
            ("faults.throttle.times", faults?.throttle?.times, StandInLimits.times),
            ("faults.throttle.retryAfter", faults?.throttle?.retryAfter, StandInLimits.retryAfter),
            ("faults.fail.times", faults?.fail?.times, StandInLimits.times),
            ("faults.drop.afterPackets", faults?.drop?.afterPackets, StandInLimits.afterPackets),
            ("faults.drop.times", faults?.drop?.times, StandInLimits.times),
            ("faults.refuseConnect.code", faults?.refuseConnect?.code, StandInLimits.refuseCode),
            ("faults.refuseConnect.times", faults?.refuseConnect?.times, StandInLimits.times),
            ("faults.delayMilliseconds", faults?.delayMilliseconds, StandInLimits.delay),
        ]
        return numbers.compactMap { StandInLimits.problem($0.0, $0.1, $0.2) }
    }

    /// Writes the configuration (pretty, keys sorted) atomically.
    public func save(_ path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// `path` resolved against the directory of `configPath` when relative.
    public static func resolve(_ path: String, relativeTo configPath: String) -> String {
        if path.hasPrefix("/") { return path }
        guard let slash = configPath.lastIndex(of: "/") else { return path }
        return configPath[...slash] + path
    }

    /// Where the stand-in remembers its registrations.
    public static func statePath(for configPath: String) -> String {
        let base = configPath.hasSuffix(".json") ? String(configPath.dropLast(5)) : configPath
        return base + ".state.json"
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing \"\(key.stringValue)\"" + at(context)
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return context.debugDescription + at(context)
        case DecodingError.dataCorrupted(let context):
            return context.debugDescription + at(context)
        default:
            return "\(error)"
        }
    }

    private static func at(_ context: DecodingError.Context) -> String {
        let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        return path.isEmpty ? "" : " at \(path)"
    }
}

/// What the stand-in has assigned, kept across runs so that a device that registers again gets
/// the same device id and hub.
public struct StandInState: Codable, Sendable {
    public struct Registration: Codable, Sendable {
        public var registrationId: String
        public var deviceId: String
        public var assignedHub: String
        public var group: String
        public var createdDateTimeUtc: String
        public var lastUpdatedDateTimeUtc: String
        public var etag: String
    }

    /// By registration id, lowercased (registration ids are case-insensitive).
    public var registrations: [String: Registration] = [:]

    public init() {}

    public static func load(_ path: String) -> StandInState {
        guard let data = FileManager.default.contents(atPath: path),
              let state = try? JSONDecoder().decode(StandInState.self, from: data) else { return StandInState() }
        return state
    }

    public func save(_ path: String) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        if let data = try? encoder.encode(self) { try? data.write(to: URL(fileURLWithPath: path), options: .atomic) }
    }
}

/// A stand-in failure with the words to show the user.
public struct StandInError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
