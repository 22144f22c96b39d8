import DeviceCore
import Foundation
import Testing

/// Test fixtures live beside the tests, in `Fixtures/`.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func data(_ name: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(name))
    }

    /// A fixture file of `{"vectors": [...]}` in the format of `mqtt311_paho.json`.
    static func vectors(_ name: String) throws -> [[String: Any]] {
        let object = try JSONSerialization.jsonObject(with: data(name)) as! [String: Any]
        return object["vectors"] as! [[String: Any]]
    }
}

/// Bytes from hex, whitespace ignored; traps on bad hex (test input is ours).
func bytes(hex: String) -> [UInt8] {
    let digits = Array(hex.filter { !$0.isWhitespace }.utf8)
    precondition(digits.count % 2 == 0, "odd hex length")
    func nibble(_ c: UInt8) -> UInt8 {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: preconditionFailure("bad hex digit")
        }
    }
    return stride(from: 0, to: digits.count, by: 2).map { nibble(digits[$0]) << 4 | nibble(digits[$0 + 1]) }
}

/// Lower-case hex of `bytes`.
func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    let table = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
        out.append(table[Int(b >> 4)])
        out.append(table[Int(b & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}

extension ByteView {
    /// The view's bytes, copied out (tests only).
    var array: [UInt8] { (0..<count).map { self[$0] } }
    /// The view's bytes as a String (tests only).
    var string: String { String(decoding: array, as: UTF8.self) }
}

/// Decodes `packet` as one whole packet; the views in the result are valid only inside `body`.
func withDecoded<R>(_ packet: [UInt8], _ body: (Result<MQTTPacket, MQTTDecodeError>) throws -> R) rethrows -> R {
    try packet.withUnsafeBytes { raw in
        let result = Result { () throws(MQTTDecodeError) -> MQTTPacket in try MQTTPacket.decode(ByteView(raw)) }
        return try body(result)
    }
}

/// Encodes `packet` into a right-sized array.
func encoded(_ packet: MQTTPacket) throws(MQTTEncodeError) -> [UInt8] {
    let size = try packet.encodedSize()
    var out = [UInt8](repeating: 0, count: size)
    let written = try out.withUnsafeMutableBytes { raw in
        Result { () throws(MQTTEncodeError) -> Int in try packet.encode(into: raw) }
    }.get()
    precondition(written == size)
    return out
}
