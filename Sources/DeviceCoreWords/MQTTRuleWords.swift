// The words for DeviceCore's errors, for the host tools. A module of its own so that a firmware
// (which prints codes) does not carry the texts: Swift puts every string literal of a module
// into one section, which the linker keeps whole if any one of them is used.

import DeviceCore

extension MQTTRule {
    /// What is wrong, in words, with the conformance statement where the standard has one.
    public var summary: StaticString { Self.summary(code: code).unsafelyUnwrapped }

    /// The words of the rule numbered `code`, or `nil` if no rule has that number.
    public static func summary(code: UInt8) -> StaticString? {
        switch code {
        case 1: return "packet type 0 and 15 are reserved (MQTT 2.2.1)"
        case 2: return "fixed header flags not allowed for this packet type (MQTT-2.2.2-1, MQTT-2.2.2-2)"
        case 3: return "remaining length longer than 4 bytes or not in its shortest form (MQTT 2.2.3, Table 2.4)"
        case 4: return "remaining length does not match what the packet type requires or contains (MQTT 2.2.3)"
        case 5: return "field runs past the end of the packet (MQTT 1.5)"
        case 6: return "bytes left after the last field of the packet (remaining length too large)"
        case 7: return "string is not well-formed UTF-8 (MQTT-1.5.3-1)"
        case 8: return "string encodes a UTF-16 surrogate U+D800..U+DFFF (MQTT-1.5.3-1)"
        case 9: return "string contains U+0000 (MQTT-1.5.3-2)"
        case 10: return "string longer than 65535 bytes (MQTT 1.5.3)"
        case 11: return "topic names and filters must be at least one character (MQTT-4.7.3-1)"
        case 12: return "topic name contains a wildcard + or # (MQTT-3.3.2-2)"
        case 13: return "# must be the last character and alone in its level (MQTT-4.7.1-2)"
        case 14: return "+ must occupy an entire topic level (MQTT-4.7.1-3)"
        case 15: return "packet identifier must be non-zero (MQTT-2.3.1-1)"
        case 16: return "QoS 3 is not a valid QoS (MQTT-3.3.1-4, MQTT-3.1.2-14)"
        case 17: return "DUP must be 0 on a QoS 0 PUBLISH (MQTT-3.3.1-2)"
        case 18: return "protocol name must be \"MQTT\" (MQTT-3.1.2-1)"
        case 19: return "protocol level must be 4 for MQTT 3.1.1 (MQTT-3.1.2-2)"
        case 20: return "CONNECT reserved flag bit 0 must be 0 (MQTT-3.1.2-3)"
        case 21: return "will QoS and will retain must be 0 without the will flag (MQTT-3.1.2-11, -13, -15)"
        case 22: return "password flag set without user name flag (MQTT-3.1.2-22)"
        case 23: return "a zero-byte client id needs CleanSession 1 (MQTT-3.1.3-7)"
        case 24: return "CONNACK acknowledge flags bits 7-1 must be 0 (MQTT 3.2.2.1)"
        case 25: return "CONNACK return code must be 0-5 (MQTT 3.2.2.3)"
        case 26: return "session present must be 0 when the connection is refused (MQTT-3.2.2-4)"
        case 27: return "SUBSCRIBE and UNSUBSCRIBE need at least one topic filter (MQTT-3.8.3-3, MQTT-3.10.3-2)"
        case 28: return "requested QoS byte has reserved bits set or QoS 3 (MQTT-3.8.3-4)"
        case 29: return "SUBACK needs at least one return code (MQTT 3.9.3)"
        case 30: return "SUBACK return code must be 0, 1, 2 or 0x80 (MQTT-3.9.3-2)"
        case 31: return "packet is larger than the configured maximum packet size"
        default: return nil
        }
    }
}
