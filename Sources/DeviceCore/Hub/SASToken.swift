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
    case bufferTooSmall(needed: Int, capacity: Int)
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

    /// `SharedAccessSignature sr={resource}&sig={signature}&se={expiry}[&skn={keyName}]`, where
    /// the signature is base64(HMAC-SHA256(base64-decode(key), url-encode(resource) + "\n" + expiry)).
    /// `scratch` holds the decoded key, the string to sign and the MAC (resource length + key length + 64 bytes is plenty).
    public static func write<H: HMACSHA256>(
        resource: ByteView, keyBase64: ByteView, expiryEpochSeconds: Int64, keyName: ByteView? = nil,
        hmac: H, scratch: UnsafeMutableRawBufferPointer, into writer: inout TextWriter
    ) throws(SASError) {
        var arena = ByteArena(scratch)
        let key = try decodeKey(keyBase64, &arena)
        // url-encode(resource) + "\n" + expiry
        var toSign = TextWriter(into: arena.freeSpace)
        PercentEncoding.encode(resource, into: &toSign)
        toSign.append("\n")
        toSign.appendDecimal(expiryEpochSeconds)
        let stringToSign: ByteView
        do throws(TextOverflow) { stringToSign = try toSign.finish() } catch {
            throw .bufferTooSmall(needed: arena.used + error.needed + 32, capacity: scratch.count)
        }
        _ = arena.commit(stringToSign.count)
        let mac = try authenticate(hmac, key: key, message: stringToSign, &arena, capacity: scratch.count)
        var signature = TextWriter(into: arena.freeSpace)
        Base64.encode(mac, into: &signature)
        let signatureText: ByteView
        do throws(TextOverflow) { signatureText = try signature.finish() } catch {
            throw .bufferTooSmall(needed: arena.used + error.needed, capacity: scratch.count)
        }
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
    public static func deriveDeviceKey<H: HMACSHA256>(
        groupKeyBase64: ByteView, registrationID: ByteView, hmac: H, scratch: UnsafeMutableRawBufferPointer,
        into writer: inout TextWriter
    ) throws(SASError) {
        var arena = ByteArena(scratch)
        let key = try decodeKey(groupKeyBase64, &arena)
        let mac = try authenticate(hmac, key: key, message: registrationID, &arena, capacity: scratch.count)
        Base64.encode(mac, into: &writer)
    }

    private static func decodeKey(_ keyBase64: ByteView, _ arena: inout ByteArena) throws(SASError) -> ByteView {
        do throws(Base64Error) {
            let key = try Base64.decode(keyBase64, into: arena.freeSpace)
            return arena.commit(key.count)
        } catch {
            if case .bufferTooSmall(let needed) = error.kind { throw .bufferTooSmall(needed: needed, capacity: arena.storage.count) }
            throw .invalidKey(error)
        }
    }

    private static func authenticate<H: HMACSHA256>(
        _ hmac: H, key: ByteView, message: ByteView, _ arena: inout ByteArena, capacity: Int
    ) throws(SASError) -> ByteView {
        guard arena.available >= 32 else { throw .bufferTooSmall(needed: arena.used + 32, capacity: capacity) }
        hmac.authenticate(key: key, message: message, into: UnsafeMutableRawBufferPointer(rebasing: arena.freeSpace[..<32]))
        return arena.commit(32)
    }
}
