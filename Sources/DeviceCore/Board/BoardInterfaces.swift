/// A byte stream to a server (TCP, TLS, a modem's socket) that the board provides. The core
/// only ever talks to the network through this.
public protocol DeviceTransport {
    /// The board's own error, with whatever detail it can give (errno, TLS alert, file name).
    associatedtype Failure: Error

    /// Opens a new connection, closing any previous one, and gives up after `timeout` (the
    /// caller's time left: connecting and any handshake together). A transport may give up
    /// sooner by a limit of its own.
    mutating func open(timeout: DeviceDuration) throws(Failure)
    /// Points the next `open` at `host`:`port`. `IoTDevice` calls it with DPS, then with the
    /// assigned IoT Hub. A transport may keep the view (the modem's does): `host` must outlive
    /// the transport's use of it.
    mutating func setEndpoint(host: ByteView, port: UInt16)
    /// Writes some of `bytes`, waiting at most `timeout` for room; returns how many were taken.
    mutating func send(_ bytes: ByteView, timeout: DeviceDuration) throws(Failure) -> Int
    /// Reads what is available into `buffer`, waiting at most `timeout` for the first byte;
    /// returns 0 when nothing came in time. A closed connection is an error, not 0.
    mutating func receive(into buffer: UnsafeMutableRawBufferPointer, timeout: DeviceDuration) throws(Failure) -> Int
    /// Closes the connection (politely where the protocol has a way).
    mutating func close()
    /// Whether trying again later can help (a refused or dropped connection), as opposed to a
    /// failure that needs the user to change something (an untrusted certificate, a wrong key).
    static func isRetriable(_ failure: Failure) -> Bool
}

extension DeviceTransport {
    /// By default every failure is worth another attempt.
    public static func isRetriable(_ failure: Failure) -> Bool { true }
}

/// The board's monotonic clock.
public protocol DeviceClock {
    /// Now, on a clock that never goes backwards.
    func now() -> DeviceInstant
    /// Waits until `deadline` (returns at once if it has passed).
    func sleep(until deadline: DeviceInstant)
}
