import DeviceCore
import Foundation
import StandIn
import Testing

// The DPS stand-in's options and configuration file are checked before the server starts:
// every number against its bounds (`StandInLimits`, one table for flags and keys), empty values,
// a count without its fault, unknown keys. The exact words; the binary's exit status and usage
// line are checked in scripts/e2e-test.sh section 2.

@Suite("DPS stand-in: options and configuration checks")
struct StandInOptionTests {
    static func options(_ change: (inout DPSStandInOptions) -> Void) -> DPSStandInOptions {
        var options = DPSStandInOptions()
        options.config = "standin.json"
        options.cert = "server.pem"
        options.key = "server.key"
        change(&options)
        return options
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var change: @Sendable (inout DPSStandInOptions) -> Void
        var problem: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "retry-after above", change: { $0.retryAfter = 3601 }, problem: "--retry-after must be 0 to 3600 seconds, got 3601"),
        Case(name: "retry-after below", change: { $0.retryAfter = -1 }, problem: "--retry-after must be 0 to 3600 seconds, got -1"),
        Case(name: "throttle", change: { $0.throttle = 1_000_001 }, problem: "--throttle must be 0 to 1000000 times, got 1000001"),
        Case(name: "throttle retry-after", change: { $0.throttle = 1; $0.throttleRetryAfter = 4000 }, problem: "--throttle-retry-after must be 0 to 3600 seconds, got 4000"),
        Case(name: "fail", change: { $0.fail = -2 }, problem: "--fail must be 0 to 1000000 times, got -2"),
        Case(name: "drop after 0", change: { $0.dropAfter = 0 }, problem: "--drop-after must be 1 to 1000000 (the packet's number on its connection: CONNECT is 1), got 0"),
        Case(name: "drop times", change: { $0.dropAfter = 3; $0.dropTimes = -1 }, problem: "--drop-times must be 0 to 1000000 times, got -1"),
        Case(name: "refuse code 0", change: { $0.refuseConnect = 0 }, problem: "--refuse-connect must be 1 to 5 (a CONNACK refusal code), got 0"),
        Case(name: "refuse code 6", change: { $0.refuseConnect = 6 }, problem: "--refuse-connect must be 1 to 5 (a CONNACK refusal code), got 6"),
        Case(name: "refuse times", change: { $0.refuseConnect = 3; $0.refuseTimes = 1_000_001 }, problem: "--refuse-times must be 0 to 1000000 times, got 1000001"),
        Case(name: "delay", change: { $0.delay = 60_001 }, problem: "--delay must be 0 to 60000 milliseconds, got 60001"),
        Case(name: "handshake timeout 0", change: { $0.handshakeTimeout = 0 }, problem: "--handshake-timeout must be 0.1 to 3600 seconds, got 0"),
        Case(name: "handshake timeout 0.05", change: { $0.handshakeTimeout = 0.05 }, problem: "--handshake-timeout must be 0.1 to 3600 seconds, got 0.05"),
        Case(name: "connect timeout above", change: { $0.connectTimeout = 3600.5 }, problem: "--connect-timeout must be 0.1 to 3600 seconds, got 3600.5"),
        Case(name: "connect timeout nan", change: { $0.connectTimeout = .nan }, problem: "--connect-timeout must be 0.1 to 3600 seconds, got nan"),
        Case(name: "idle timeout infinite", change: { $0.idleTimeout = .infinity }, problem: "--idle-timeout must be 0.1 to 86400 seconds, got inf"),
        Case(name: "idle timeout negative", change: { $0.idleTimeout = -1 }, problem: "--idle-timeout must be 0.1 to 86400 seconds, got -1"),
        Case(name: "listen port 0", change: { $0.listen = "127.0.0.1:0" }, problem: "--listen must be HOST:PORT with a port from 1 to 65535, e.g. 127.0.0.1:8883; got \"127.0.0.1:0\""),
        Case(name: "listen without host", change: { $0.listen = ":8883" }, problem: "--listen must be HOST:PORT with a port from 1 to 65535, e.g. 127.0.0.1:8883; got \":8883\""),
        Case(name: "listen without port", change: { $0.listen = "localhost" }, problem: "--listen must be HOST:PORT with a port from 1 to 65535, e.g. 127.0.0.1:8883; got \"localhost\""),
        Case(name: "listen port too big", change: { $0.listen = "127.0.0.1:65536" }, problem: "--listen must be HOST:PORT with a port from 1 to 65535, e.g. 127.0.0.1:8883; got \"127.0.0.1:65536\""),
        Case(name: "listen empty", change: { $0.listen = "" }, problem: "--listen is empty: pass HOST:PORT"),
        Case(name: "config empty", change: { $0.config = "" }, problem: "--config is empty: pass the stand-in configuration's path"),
        Case(name: "cert empty", change: { $0.cert = "" }, problem: "--cert is empty: pass the server certificate's path"),
        Case(name: "key empty", change: { $0.key = "" }, problem: "--key is empty: pass the server key's path"),
        Case(name: "throttle retry-after alone", change: { $0.throttleRetryAfter = 1 }, problem: "--throttle-retry-after belongs to a fault that is not asked for: pass --throttle N too"),
        Case(name: "drop times alone", change: { $0.dropTimes = 2 }, problem: "--drop-times belongs to a fault that is not asked for: pass --drop-after N too"),
        Case(name: "refuse times alone", change: { $0.refuseTimes = 2 }, problem: "--refuse-times belongs to a fault that is not asked for: pass --refuse-connect CODE too"),
    ]

    @Test(arguments: cases)
    func eachProblemIsNamed(_ item: Case) {
        #expect(Self.options(item.change).problems() == [item.problem])
    }

    @Test func everyProblemAtOnceInTheOrderOfTheOptions() {
        let options = Self.options {
            $0.key = ""
            $0.delay = -1
            $0.retryAfter = 9999
            $0.idleTimeout = 0
        }
        #expect(options.problems() == [
            "--key is empty: pass the server key's path",
            "--retry-after must be 0 to 3600 seconds, got 9999",
            "--delay must be 0 to 60000 milliseconds, got -1",
            "--idle-timeout must be 0.1 to 86400 seconds, got 0",
        ])
    }

    @Test func boundsAreInclusive() {
        let low = Self.options {
            $0.retryAfter = 0; $0.throttle = 0; $0.throttleRetryAfter = 0; $0.fail = 0; $0.dropAfter = 1; $0.dropTimes = 0
            $0.refuseConnect = 1; $0.refuseTimes = 0; $0.delay = 0
            $0.handshakeTimeout = 0.1; $0.connectTimeout = 0.1; $0.idleTimeout = 0.1
            $0.listen = "[::1]:1"
        }
        #expect(low.problems() == [])
        let high = Self.options {
            $0.retryAfter = 3600; $0.throttle = 1_000_000; $0.throttleRetryAfter = 3600; $0.fail = 1_000_000
            $0.dropAfter = 1_000_000; $0.dropTimes = 1_000_000; $0.refuseConnect = 5; $0.refuseTimes = 1_000_000
            $0.delay = 60_000; $0.handshakeTimeout = 3600; $0.connectTimeout = 3600; $0.idleTimeout = 86_400
            $0.listen = "0.0.0.0:65535"
        }
        #expect(high.problems() == [])
    }

    @Test func defaultsAndConversions() {
        let plain = Self.options { _ in }
        #expect(plain.problems() == [])
        #expect(plain.listenAddress! == ("127.0.0.1", 8883))
        #expect(plain.timeouts == ServerTimeouts(handshake: .seconds(10), connect: .seconds(10), idle: .seconds(1767)))
        #expect(Self.options { $0.listen = "[::1]:18884" }.listenAddress! == ("::1", 18884))
        #expect(Self.options { $0.listen = "[]:18884" }.problems() == ["--listen must be HOST:PORT with a port from 1 to 65535, e.g. 127.0.0.1:8883; got \"[]:18884\""])
        let short = Self.options {
            $0.handshakeTimeout = 0.3
            $0.connectTimeout = 2.5
            $0.idleTimeout = 86_400
        }
        #expect(short.timeouts == ServerTimeouts(handshake: .milliseconds(300), connect: .milliseconds(2500), idle: .seconds(86_400)))
        #expect("\(ServerTimeouts())" == "handshake 10 s, CONNECT 10 s, keep-alive 1.5 × (MQTT-3.1.2-24), idle at most 1767 s")
    }

    @Test func flagsOverTheConfiguration() {
        let file = StandInConfig(
            idScope: "0ne", retryAfterSeconds: 3, groups: [],
            faults: .init(throttle: .init(times: 5, retryAfter: 9), delayMilliseconds: 100))
        let applied = Self.options {
            $0.retryAfter = 0
            $0.dropAfter = 3
            $0.refuseConnect = 3
            $0.assignAtOnce = true
        }.applied(to: file)
        #expect(applied.retryAfterSeconds == 0)
        #expect(applied.assignAtOnce == true)
        #expect(applied.faults == .init(
            throttle: .init(times: 5, retryAfter: 9), drop: .init(afterPackets: 3, times: 1),
            refuseConnect: .init(code: 3, times: nil), delayMilliseconds: 100))
        #expect(Self.options { $0.throttle = 1 }.applied(to: file).faults?.throttle == .init(times: 1, retryAfter: nil))
    }

    // MARK: The configuration file

    static func load(_ json: String) throws -> StandInConfig {
        let path = NSTemporaryDirectory() + "standin-options-\(UInt32.random(in: 0...UInt32.max)).json"
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try StandInConfig.load(path)
    }

    static func loadError(_ json: String) -> String? {
        do {
            _ = try load(json)
            return nil
        } catch {
            // The path is random: keep what follows it.
            let text = "\(error)"
            return text.range(of: ".json\" ").map { String(text[$0.upperBound...]) } ?? text
        }
    }

    static let group = #"{"name": "g", "caFile": "ca.pem", "enabled": true, "verified": true, "iotHub": "hub"}"#

    @Test func configurationNumbersAreCheckedLikeTheFlags() {
        let json = """
            {"idScope": "0ne", "retryAfterSeconds": 3601, "groups": [\(Self.group)],
             "faults": {"throttle": {"times": -1, "retryAfter": 4000}, "fail": {"times": 1000001},
                        "drop": {"afterPackets": 0, "times": -1}, "refuseConnect": {"code": 6, "times": -1},
                        "delayMilliseconds": 60001}}
            """
        #expect(Self.loadError(json) == """
            is not valid:
              retryAfterSeconds must be 0 to 3600 seconds, got 3601
              faults.throttle.times must be 0 to 1000000 times, got -1
              faults.throttle.retryAfter must be 0 to 3600 seconds, got 4000
              faults.fail.times must be 0 to 1000000 times, got 1000001
              faults.drop.afterPackets must be 1 to 1000000 (the packet's number on its connection: CONNECT is 1), got 0
              faults.drop.times must be 0 to 1000000 times, got -1
              faults.refuseConnect.code must be 1 to 5 (a CONNACK refusal code), got 6
              faults.refuseConnect.times must be 0 to 1000000 times, got -1
              faults.delayMilliseconds must be 0 to 60000 milliseconds, got 60001
            """)
    }

    @Test func unknownKeysAreNamed() {
        let json = """
            {"idScope": "0ne", "retrys": 1, "groups": [\(Self.group.dropLast()), "hub": "x"}],
             "faults": {"throtle": {"times": 1}, "drop": {"afterPacket": 3}}}
            """
        #expect(Self.loadError(json) == """
            is not valid: missing "afterPackets" at .faults.drop
            """)
        let known = """
            {"idScope": "0ne", "retrys": 1, "groups": [\(Self.group.dropLast()), "hub": "x"}],
             "faults": {"throtle": {"times": 1}, "fail": {"times": 1, "tims": 2}}}
            """
        #expect(Self.loadError(known) == """
            is not valid:
              unknown key "retrys" (known here: idScope, retryAfterSeconds, assignAtOnce, groups, faults)
              unknown key "groups[].hub" (known here: name, caFile, enabled, verified, iotHub, verificationCode)
              unknown key "faults.throtle" (known here: throttle, fail, drop, refuseConnect, delayMilliseconds)
              unknown key "faults.fail.tims" (known here: times)
            """)
    }

    @Test func aConfigurationWithinBoundsLoads() throws {
        let config = try Self.load("""
            {"idScope": "0ne", "retryAfterSeconds": 0, "assignAtOnce": false, "groups": [\(Self.group)],
             "faults": {"throttle": {"times": 0, "retryAfter": 3600}, "drop": {"afterPackets": 1},
                        "refuseConnect": {"code": 5}, "delayMilliseconds": 60000}}
            """)
        #expect(config.problems() == [])
        #expect(config.faults?.refuseConnect == .init(code: 5, times: nil))
    }
}
