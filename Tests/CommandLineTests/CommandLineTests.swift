import Foundation
import HostJSON
import PacketInspector
import Testing

/// End-to-end runs of the built `dps-device` binary.
@Suite("dps-device mqtt")
struct CommandLineTests {
    static let connectHex = "10 13 00 04 4d 51 54 54 04 02 00 3c 00 07 64 65 76 69 63 65 31"
    static let connectJSON = #"{"type":"connect","client_id":"device1","clean_session":true,"keepalive":60}"#

    @Test func decodeArguments() throws {
        let output = try DPSDeviceBinary.run(["mqtt", "decode"] + Self.connectHex.split(separator: " ").map(String.init) + ["0xc0", "0x00"])
        #expect(output.status == 0)
        #expect(output.stdout == Self.connectJSON + "\n" + #"{"type":"pingreq"}"# + "\n")
        #expect(output.stderr == "")
    }

    @Test func decodeStandardInputWithABadPacket() throws {
        let input = Self.connectHex + "\n" + "c0 00\n" + "10 13 00 04 4d 51 54 54 03 02 00 3c\n00 07 64 65 76 69 63 65 31\n"
        let output = try DPSDeviceBinary.run(["mqtt", "decode"], stdin: input)
        #expect(output.status == 1)
        #expect(output.stdout == Self.connectJSON + "\n" + #"{"type":"pingreq"}"# + "\n")
        #expect(output.stderr == "error: byte 31 (packet 3): protocol level must be 4 for MQTT 3.1.1 (MQTT-3.1.2-2): got 3\n")
    }

    @Test func decodeOddHex() throws {
        // Standard input is read as it comes: the packet before the bad hex is printed.
        let output = try DPSDeviceBinary.run(["mqtt", "decode"], stdin: "c0 00\ne0 0\n")
        #expect(output.status == 1)
        #expect(output.stdout == #"{"type":"pingreq"}"# + "\n")
        #expect(output.stderr == "error: odd number of hex digits: the last digit, '0' at line 2, column 4, has no partner\n")
    }

    @Test func decodeTruncated() throws {
        let output = try DPSDeviceBinary.run(["mqtt", "decode", "c000", "3205", "0001"])
        #expect(output.status == 1)
        #expect(output.stdout == #"{"type":"pingreq"}"# + "\n")
        #expect(output.stderr == "error: byte 2 (packet 2): incomplete packet: its fixed header announces 7 bytes but only 4 bytes are present\n")
    }

    @Test func encodeArguments() throws {
        let output = try DPSDeviceBinary.run(["mqtt", "encode", Self.connectJSON, #"{"type":"pingreq"}"#])
        #expect(output.status == 0)
        #expect(output.stdout == Self.connectHex.replacingOccurrences(of: " ", with: "") + "\nc000\n")
        #expect(output.stderr == "")
    }

    @Test func encodeStandardInput() throws {
        let input = """
            {"type":"subscribe","packet_id":1,"topics":[["$dps/registrations/res/#",1]]}
            [{"type":"puback","packet_id":1}, {"type":"disconnect"}]
            {
              "type": "publish", "topic": "a/b", "qos": 1, "packet_id": 7, "retain": true, "payload_hex": "72"
            }

            """
        let output = try DPSDeviceBinary.run(["mqtt", "encode"], stdin: input)
        #expect(output.status == 0)
        #expect(output.stdout == "821d00010018246470732f726567697374726174696f6e732f7265732f2301\n40020001\ne000\n33080003612f62000772\n")
    }

    @Test func encodeErrors() throws {
        let missing = try DPSDeviceBinary.run(["mqtt", "encode", #"{"type":"pingreq"}"#, #"{"type":"publish","qos":1,"packet_id":1}"#])
        #expect(missing.status == 1)
        #expect(missing.stdout == "c000\n")
        #expect(missing.stderr == "error: object 2 (publish): missing field \"topic\"\n")

        let badJSON = try DPSDeviceBinary.run(["mqtt", "encode"], stdin: "{\"type\":\"pingreq\"}\n{\"type\" \"x\"}\n")
        #expect(badJSON.status == 1)
        #expect(badJSON.stderr == "error: invalid JSON at line 2, column 9: expected ':', found '\"'\n")
    }

    /// A firmware console prints "MQTT rule 12 at byte 4"; this gives the words back.
    @Test func ruleNumbersInWords() throws {
        let output = try DPSDeviceBinary.run(["mqtt", "rule", "12", "3"])
        #expect(output.status == 0)
        #expect(output.stdout == """
            12 topic name contains a wildcard + or # (MQTT-3.3.2-2)
            3 remaining length longer than 4 bytes or not in its shortest form (MQTT 2.2.3, Table 2.4)

            """)
        let all = try DPSDeviceBinary.run(["mqtt", "rule"])
        #expect(all.stdout.split(separator: "\n").count == 31)
        #expect(all.stdout.hasPrefix("1 packet type 0 and 15 are reserved (MQTT 2.2.1)\n"))
        for bad in ["0", "32", "x"] {
            let refused = try DPSDeviceBinary.run(["mqtt", "rule", "12", bad])
            #expect(refused.status == 1)
            #expect(refused.stdout == "12 topic name contains a wildcard + or # (MQTT-3.3.2-2)\n")
            #expect(refused.stderr == "error: no MQTT rule has the number '\(bad)': the rules are 1 to 31\n")
        }
    }

    @Test func decodeThenEncodeIsIdentity() throws {
        let hex = "3b0c0003612f620003616761696e a20700030003612f62 9006000100010280"
        let decoded = try DPSDeviceBinary.run(["mqtt", "decode", hex])
        #expect(decoded.status == 0)
        let encoded = try DPSDeviceBinary.run(["mqtt", "encode"], stdin: decoded.stdout)
        #expect(encoded.status == 0)
        #expect(encoded.stdout == hex.split(separator: " ").joined(separator: "\n") + "\n")
    }
}
