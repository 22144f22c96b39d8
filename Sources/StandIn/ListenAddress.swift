/// A stand-in's `--listen HOST:PORT` (an IPv6 host in brackets, `[::1]:8883`).
public enum ListenAddress {
    /// Host and port, or `nil` when `text` is not HOST:PORT with a port from 1 to 65535.
    public static func parse(_ text: String) -> (host: String, port: UInt16)? {
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex,
              let port = UInt16(text[text.index(after: colon)...]), port > 0 else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        return host.isEmpty ? nil : (String(host), port)
    }
}
