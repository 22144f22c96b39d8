import DeviceCore
import LinuxBoard
import StandIn

// Clients of the DPS stand-in that send exactly the bytes a test gives them, over TCP alone or
// over TLS with a device's identity: for the cases no well-behaved device makes (silence, a
// stalled handshake, packets out of order, malformed MQTT).

/// What the server sent on a connection before it closed it, and how it ended.
struct ServerEnding<Failure: Error & Equatable>: Equatable {
    /// Everything the server sent (over TLS: decrypted).
    var bytes: [UInt8]
    /// What ended the reading; `nil`: the connection was still open when the wait ended.
    var failure: Failure?
}

/// Reads until the server closes the connection, or for at most `limit`.
func readUntilClosed<T: DeviceTransport>(_ transport: inout T, limit: DeviceDuration = .seconds(5)) -> ServerEnding<T.Failure> where T.Failure: Equatable {
    let clock = MonotonicClock()
    let deadline = clock.now() + limit
    var bytes: [UInt8] = []
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 1)
    defer { buffer.deallocate() }
    while clock.now() < deadline {
        do throws(T.Failure) {
            let count = try transport.receive(into: buffer, timeout: deadline - clock.now())
            bytes += buffer[0..<count]
        } catch {
            return ServerEnding(bytes: bytes, failure: error)
        }
    }
    return ServerEnding(bytes: bytes, failure: nil)
}

/// The next `count` bytes from the server, or fewer if it closes or 5 s pass first.
func receive(_ count: Int, from transport: TLSTransport) throws(TLSFailure) -> [UInt8] {
    let clock = MonotonicClock()
    let deadline = clock.now() + .seconds(5)
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 1)
    defer { buffer.deallocate() }
    var bytes: [UInt8] = []
    while bytes.count < count && clock.now() < deadline {
        let got = try transport.receive(into: UnsafeMutableRawBufferPointer(rebasing: buffer[bytes.count...]), timeout: deadline - clock.now())
        bytes += buffer[bytes.count..<(bytes.count + got)]
    }
    return bytes
}

/// Sends all of `bytes`.
func sendAll<T: DeviceTransport>(_ bytes: [UInt8], on transport: inout T) throws {
    var offset = 0
    while offset < bytes.count {
        offset += try bytes[offset...].withUnsafeBytes { try transport.send(ByteView($0), timeout: .seconds(2)) }
    }
}

/// A TCP connection to the stand-in.
func tcpClient(port: UInt16) throws(TCPTransport.Failure) -> TCPTransport {
    var transport = TCPTransport(host: "127.0.0.1", port: port, connectTimeout: .seconds(2))
    try transport.open()
    return transport
}

/// A TLS connection to the stand-in, handshake done, as the device `id` (CN=id).
func tlsClient(port: UInt16, pki: TestPKI, id: String = "raw-device") throws -> TLSTransport {
    let transport = TLSTransport(host: "127.0.0.1", port: port, identity: try pki.identity(id), connectTimeout: .seconds(2))
    try transport.open()
    return transport
}

/// MQTT packets as bytes, written out by hand (not by the codec under test).
enum RawMQTT {
    static let pingreq: [UInt8] = [0xC0, 0x00]
    static let pingresp: [UInt8] = [0xD0, 0x00]
    static let connackAccepted: [UInt8] = [0x20, 0x02, 0x00, 0x00]
    /// SUBSCRIBE id 1 to `$dps/registrations/res/#` at QoS 1.
    static let subscribe: [UInt8] = [0x82, 0x1D, 0x00, 0x01] + string("$dps/registrations/res/#") + [0x01]
    /// PUBLISH QoS 1, id 1, of an empty register request.
    static let register: [UInt8] = {
        let body = string("$dps/registrations/PUT/iotdps-register/?$rid=1") + [0x00, 0x01]
        return [0x32, UInt8(body.count)] + body
    }()
    static let disconnect: [UInt8] = [0xE0, 0x00]

    /// DPS's CONNECT for registration `id`: clean session, user name
    /// `{idScope}/registrations/{id}/api-version=2019-03-31`, no password.
    static func connect(_ id: String, keepAlive: UInt16) -> [UInt8] {
        let body = string("MQTT") + [0x04, 0x82, UInt8(keepAlive >> 8), UInt8(keepAlive & 0xFF)]
            + string(id) + string("\(TestPKI.idScope)/registrations/\(id)/api-version=2019-03-31")
        precondition(body.count < 128, "one byte of remaining length")
        return [0x10, UInt8(body.count)] + body
    }

    /// An MQTT string: its length in two bytes, then its UTF-8.
    static func string(_ text: String) -> [UInt8] {
        let utf8 = Array(text.utf8)
        return [UInt8(utf8.count >> 8), UInt8(utf8.count & 0xFF)] + utf8
    }
}
