import DeviceCore

extension String {
    /// The text with its `%XX` escapes decoded (by the core's decoder, as the device reads
    /// them); `nil` when an escape is malformed or the result is not UTF-8.
    public var percentDecoded: String? {
        let encoded = Array(utf8)
        return encoded.withUnsafeBytes { source -> String? in
            withUnsafeTemporaryAllocation(byteCount: max(encoded.count, 1), alignment: 1) { target -> String? in
                do throws(PercentDecodingError) {
                    let decoded = try PercentEncoding.decode(ByteView(source), into: target)
                    return String(validating: UnsafeRawBufferPointer(start: decoded.baseAddress, count: decoded.count), as: UTF8.self)
                } catch {
                    return nil
                }
            }
        }
    }
}
