@testable import DeviceCommandLine
import Testing

/// The checks `provision` and `run` make on values before any traffic, with their exact words.
@Suite("dps-device option values")
struct OptionValueTests {
    @Test("ID scopes", arguments: [
        ("0ne00000A0A", nil),
        ("0NE0012ABCD", nil),
        ("a b/c", "the ID scope \"a b/c\" is not one: it is letters and digits (DPS shows it as 0ne followed by 8 hex digits, e.g. 0ne00012345), at most 64; copy it from the DPS instance's overview page"),
        (String(repeating: "a", count: 65), "the ID scope \"\(String(repeating: "a", count: 40))…\" is not one: it is letters and digits (DPS shows it as 0ne followed by 8 hex digits, e.g. 0ne00012345), at most 64; copy it from the DPS instance's overview page"),
    ] as [(String, String?)])
    func idScope(_ scope: String, _ problem: String?) {
        #expect(DeviceOptions.idScopeProblem(scope) == problem)
    }

    @Test("Registration ids by DPS's rules", arguments: [
        ("device1", nil),
        ("My.Device_01:a-", nil),
        (String(repeating: "d", count: 128), nil),
        (String(repeating: "d", count: 129), "the registration id is 129 characters; DPS allows at most 128"),
        ("dev ice", "the registration id \"dev ice\" has \" \" at offset 3; DPS allows letters, digits and - . _ : only"),
        ("dévice", "the registration id \"dévice\" has \"é\" at offset 1; DPS allows letters, digits and - . _ : only"),
        ("device.", "the registration id \"device.\" ends in \".\"; DPS requires it to end in a letter, a digit or -"),
    ] as [(String, String?)])
    func registrationID(_ id: String, _ problem: String?) {
        #expect(DeviceOptions.registrationIDProblem(id) == problem)
    }

    @Test("Host names", arguments: [
        ("global.azure-devices-provisioning.net", nil),
        ("127.0.0.1", nil),
        ("::1", nil),
        ("localhost", nil),
        (String(repeating: "a", count: 254), "the host name is 254 characters; DNS allows at most 253"),
        ("a..b", "the host name \"a..b\" has an empty label (two dots, or a dot at an end)"),
        ("host.", "the host name \"host.\" has an empty label (two dots, or a dot at an end)"),
        (String(repeating: "b", count: 64) + ".net", "the host name has a label of 64 characters (\"bbbbbbbbbbbbbbbb…\"); DNS allows at most 63"),
        ("my_host.net", "the host name \"my_host.net\" has the label \"my_host\": a label is letters, digits and - (not at its ends)"),
        ("-a.net", "the host name \"-a.net\" has the label \"-a\": a label is letters, digits and - (not at its ends)"),
    ] as [(String, String?)])
    func host(_ host: String, _ problem: String?) {
        #expect(DeviceOptions.hostProblem(host) == problem)
    }

    @Test("Bytes that are not UTF-8 are found, with the byte and its offset", arguments: [
        ([0x61, 0x62], nil),
        ([0xC3, 0xA9, 0x61], nil),
        ([0x61, 0xFF, 0x62], "byte 0xFF at offset 1"),
        ([0x63, 0x65, 0x72, 0x74, 0x73, 0x2F, 0xC3], "byte 0xC3 at offset 6"),
        ([0xED, 0xA0, 0x80], "byte 0xED at offset 0"),
    ] as [([UInt8], String?)])
    func utf8(_ bytes: [UInt8], _ problem: String?) {
        let text = (bytes + [0]).map { CChar(bitPattern: $0) }
        #expect(text.withUnsafeBufferPointer { ArgumentBytes.problem(in: $0.baseAddress!) } == problem)
    }
}
