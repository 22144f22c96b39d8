import DeviceCore
import LinuxBoard
import Testing

@Suite("MbedTLSHMAC and SystemEntropy")
struct MbedTLSHMACTests {
    struct Vector: CustomTestStringConvertible, Sendable {
        var name: String
        var key: [UInt8]
        var data: [UInt8]
        var mac: String
        var testDescription: String { name }
    }

    /// RFC 4231 §4, HMAC-SHA-256 (test case 5 is about truncation, which we do not do).
    static let vectors: [Vector] = [
        Vector(name: "test case 1", key: [UInt8](repeating: 0x0b, count: 20), data: Array("Hi There".utf8),
               mac: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        Vector(name: "test case 2", key: Array("Jefe".utf8), data: Array("what do ya want for nothing?".utf8),
               mac: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        Vector(name: "test case 3", key: [UInt8](repeating: 0xaa, count: 20), data: [UInt8](repeating: 0xdd, count: 50),
               mac: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        Vector(name: "test case 4", key: Array(1...25), data: [UInt8](repeating: 0xcd, count: 50),
               mac: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        Vector(name: "test case 6", key: [UInt8](repeating: 0xaa, count: 131),
               data: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
               mac: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        Vector(name: "test case 7", key: [UInt8](repeating: 0xaa, count: 131),
               data: Array("This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".utf8),
               mac: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ]

    @Test("RFC 4231 test vectors", arguments: vectors)
    func rfc4231(_ vector: Vector) {
        #expect(mac(key: vector.key, data: vector.data) == vector.mac)
    }

    @Test("Empty key and message")
    func empty() {
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"",b"",hashlib.sha256).hexdigest())'
        #expect(mac(key: [], data: []) == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }

    // Expected values from Python:
    //   sr = urllib.parse.quote(resource, safe='-._~')
    //   sig = base64.b64encode(hmac.new(base64.b64decode(key), (sr + "\n" + str(expiry)).encode(), hashlib.sha256).digest())
    @Test("SAS tokens for the hub and for DPS match Python's hmac")
    func sasTokens() throws {
        #expect(try sas(resource: "myhub.azure-devices.net/devices/device1", key: "AQIDBA==", expiry: 1_700_000_000, keyName: nil)
            == "SharedAccessSignature sr=myhub.azure-devices.net%2Fdevices%2Fdevice1&sig=zQ%2B5tYIMix%2F9xMT%2BSNUNyPDyuXii4lSeWXYG%2BRUYi7M%3D&se=1700000000")
        #expect(try sas(resource: "0ne00000001/registrations/device1", key: "AQIDBA==", expiry: 1_700_003_600, keyName: "registration")
            == "SharedAccessSignature sr=0ne00000001%2Fregistrations%2Fdevice1&sig=knkx0gfpZzX7Gn1WIgx%2FQ%2BlmzpZ75QEKCK2BXm%2BSKhU%3D&se=1700003600&skn=registration")
    }

    @Test("A device key derived from a group key matches Python's hmac")
    func derivedKey() throws {
        // base64.b64encode(hmac.new(base64.b64decode("AQIDBA=="), b"device1", hashlib.sha256).digest())
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 1)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 256, alignment: 1)
        defer { output.deallocate(); scratch.deallocate() }
        var writer = TextWriter(into: output)
        try SASToken.deriveDeviceKey(
            groupKeyBase64: ByteView("AQIDBA=="), registrationID: ByteView("device1"), hmac: MbedTLSHMAC(), scratch: scratch, into: &writer)
        #expect(string(try writer.finish()) == "EcW1iZL0488pHqIk+/oGj70k3XNa1EmgOJRZRfelljU=")
    }

    @Test("SystemEntropy gives varying 64-bit values")
    func entropy() {
        let values = Set((0..<16).map { _ in SystemEntropy.randomUInt64() })
        #expect(values.count == 16)
    }

    // MARK: Helpers

    private func mac(key: [UInt8], data: [UInt8]) -> String {
        var out = [UInt8](repeating: 0, count: 32)
        key.withUnsafeBytes { k in
            data.withUnsafeBytes { d in
                out.withUnsafeMutableBytes { o in
                    MbedTLSHMAC().authenticate(key: ByteView(k), message: ByteView(d), into: o)
                }
            }
        }
        return out.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    private func sas(resource: StaticString, key: StaticString, expiry: Int64, keyName: StaticString?) throws -> String {
        let output = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 1)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 512, alignment: 1)
        defer { output.deallocate(); scratch.deallocate() }
        var writer = TextWriter(into: output)
        try SASToken.write(
            resource: ByteView(resource), keyBase64: ByteView(key), expiryEpochSeconds: expiry, keyName: keyName.map { ByteView($0) },
            hmac: MbedTLSHMAC(), scratch: scratch, into: &writer)
        return string(try writer.finish())
    }

    private func string(_ view: ByteView) -> String {
        String(decoding: UnsafeRawBufferPointer(start: view.baseAddress, count: view.count), as: UTF8.self)
    }
}
