/// HMAC-SHA256, supplied by the board (mbedTLS on Linux, a crypto engine on a chip).
public protocol HMACSHA256 {
    /// Writes the 32-byte MAC of `message` under `key` into `mac`.
    func authenticate(key: ByteView, message: ByteView, into mac: UnsafeMutableRawBufferPointer)
}

/// Why a SAS token could not be made.
public enum SASError: Error, Equatable {
    /// The key is not valid base64.
    case invalidKey(Base64Error)
    /// The scratch or output buffer is too small.
    case bufferTooSmall(BufferTooSmall)
}

/// Shared access signatures for symmetric-key devices (`azure-iot-mqtt.md` §3).
public enum SASToken {
    /// `{idScope}/registrations/{registrationId}`, the DPS resource (key name `registration`).
    public static func dpsResource(idScope: ByteView, registrationID: ByteView, into writer: inout TextWriter) {
        writer.append(idScope)
        writer.append("/registrations/")
        writer.append(registrationID)
    }

    /// `{hub}/devices/{deviceId}`, the IoT Hub resource.
    public static func hubResource(hostName: ByteView, deviceID: ByteView, into writer: inout TextWriter) {
        writer.append(hostName)
        writer.append("/devices/")
        writer.append(deviceID)
    }

    /// Bytes of the HMAC-SHA256 MAC.
    static let macCount = 32

    /// `SharedAccessSignature sr={resource}&sig={signature}&se={expiry}[&skn={keyName}]`, where
    /// the signature is base64(HMAC-SHA256(base64-decode(key), url-encode(resource) + "\n" + expiry)).
    ///
    /// `scratch` holds the decoded key, the string to sign, the MAC and its base64: exactly
    /// `k + r + 1 + d + 32 + 44` bytes, where `k` is the decoded key (3 bytes for every 4 base64
    /// characters, less one for each `=`: 32 for the 44 characters of an Azure key), `r` the
    /// percent-encoded resource (each `/` takes 3 bytes) and `d` the expiry's decimal digits. A
    /// smaller `scratch` throws `.bufferTooSmall` with that exact `needed`. The token goes to
    /// `writer`, whose `finish()` says the size it needs.
    public static func write<H: HMACSHA256>(
        resource: ByteView, keyBase64: ByteView, expiryEpochSeconds: Int64, keyName: ByteView? = nil,
        hmac: H, scratch: UnsafeMutableRawBufferPointer, into writer: inout TextWriter
    ) throws(SASError) {
        var counter = TextWriter(into: UnsafeMutableRawBufferPointer(start: nil, count: 0))
        appendStringToSign(resource, expiryEpochSeconds, into: &counter)
        let signatureCount = Base64.encodedCount(macCount)
        var arena = ByteArena(scratch)
        let key = try decodeKey(keyBase64, &arena, thenNeeding: counter.count + macCount + signatureCount)
        var toSign = TextWriter(into: arena.freeSpace)
        appendStringToSign(resource, expiryEpochSeconds, into: &toSign)
        let stringToSign = try fitting(toSign, capacity: scratch.count)
        _ = arena.commit(stringToSign.count)
        let mac = authenticate(hmac, key: key, message: stringToSign, &arena)
        var signature = TextWriter(into: arena.freeSpace)
        Base64.encode(mac, into: &signature)
        let signatureText = try fitting(signature, capacity: scratch.count)
        writer.append("SharedAccessSignature sr=")
        PercentEncoding.encode(resource, into: &writer)
        writer.append("&sig=")
        PercentEncoding.encode(signatureText, into: &writer)
        writer.append("&se=")
        writer.appendDecimal(expiryEpochSeconds)
        if let keyName {
            writer.append("&skn=")
            PercentEncoding.encode(keyName, into: &writer)
        }
    }

    /// A device's key from its enrollment group's key: base64(HMAC-SHA256(base64-decode(groupKey), registrationId)).
    /// `scratch` holds the decoded group key and the MAC: exactly `k + 32` bytes (`k` as for
    /// `write`); a smaller one throws `.bufferTooSmall` with that exact `needed`.
    public static func deriveDeviceKey<H: HMACSHA256>(
        groupKeyBase64: ByteView, registrationID: ByteView, hmac: H, scratch: UnsafeMutableRawBufferPointer,
        into writer: inout TextWriter
    ) throws(SASError) {
        var arena = ByteArena(scratch)
        let key = try decodeKey(groupKeyBase64, &arena, thenNeeding: macCount)
        let mac = authenticate(hmac, key: key, message: registrationID, &arena)
        Base64.encode(mac, into: &writer)
    }

    /// `url-encode(resource) + "\n" + expiry`, the text the signature covers.
    private static func appendStringToSign(_ resource: ByteView, _ expiryEpochSeconds: Int64, into writer: inout TextWriter) {
        PercentEncoding.encode(resource, into: &writer)
        writer.append("\n")
        writer.appendDecimal(expiryEpochSeconds)
    }

    /// Decodes the key into `arena` and checks that `more` bytes are left after it; else the
    /// exact size the whole scratch needs.
    private static func decodeKey(_ keyBase64: ByteView, _ arena: inout ByteArena, thenNeeding more: Int) throws(SASError) -> ByteView {
        let key: ByteView
        do throws(Base64Error) {
            key = try Base64.decode(keyBase64, into: arena.freeSpace)
        } catch {
            if case .bufferTooSmall(let tooSmall) = error.kind {
                throw .bufferTooSmall(BufferTooSmall(needed: arena.used + tooSmall.needed + more, capacity: arena.storage.count))
            }
            throw .invalidKey(error)
        }
        guard arena.available - key.count >= more else {
            throw .bufferTooSmall(BufferTooSmall(needed: arena.used + key.count + more, capacity: arena.storage.count))
        }
        return arena.commit(key.count)
    }

    /// The text `writer` holds; it fits, since `decodeKey` checked the room.
    private static func fitting(_ writer: TextWriter, capacity: Int) throws(SASError) -> ByteView {
        do throws(BufferTooSmall) { return try writer.finish() } catch {
            throw .bufferTooSmall(BufferTooSmall(needed: capacity - writer.capacity + error.needed, capacity: capacity))
        }
    }

    /// The MAC of `message`, written into `arena` (which has room: `decodeKey` checked it).
    private static func authenticate<H: HMACSHA256>(_ hmac: H, key: ByteView, message: ByteView, _ arena: inout ByteArena) -> ByteView {
        hmac.authenticate(key: key, message: message, into: UnsafeMutableRawBufferPointer(rebasing: arena.freeSpace[..<macCount]))
        return arena.commit(macCount)
    }
}
