import CMbedTLS

/// Decrypts the `BEGIN ENCRYPTED PRIVATE KEY` form that OpenSSL 3 writes by default
/// (`openssl pkey -aes256`, `openssl genpkey -aes-256-cbc`, `openssl pkcs8 -topk8`): PKCS#8
/// `EncryptedPrivateKeyInfo` with PBES2, PBKDF2 (HMAC-SHA1/224/256/384/512) and AES-128/192/256-CBC
/// (RFC 8018). mbedTLS 2.28 only knows DES and 3DES under PBES2 and fails on these with
/// "PKCS5 - Requested encryption or digest alg not available", so this does the PBES2 part
/// with mbedTLS's own PBKDF2 and AES and hands the plain PKCS#8 key to `mbedtls_pk_parse_key`.
/// Any other scheme goes to mbedTLS unchanged.
enum PKCS8Decryption {
    /// Parses the encrypted key in `pem` (NUL-terminated) into `pk`; returns 0 or an mbedTLS
    /// error (`MBEDTLS_ERR_PK_PASSWORD_MISMATCH` when `password` does not decrypt it).
    static func parseEncryptedKey(pem: [UInt8], password: [UInt8], into pk: UnsafeMutablePointer<mbedtls_pk_context>) -> Int32 {
        var context = mbedtls_pem_context()
        mbedtls_pem_init(&context)
        defer { mbedtls_pem_free(&context) }
        var used = 0
        var result = pem.withUnsafeBufferPointer {
            mbedtls_pem_read_buffer(
                &context, "-----BEGIN ENCRYPTED PRIVATE KEY-----", "-----END ENCRYPTED PRIVATE KEY-----",
                $0.baseAddress, nil, 0, &used)
        }
        if result != 0 { return result }
        let der = UnsafeBufferPointer(start: context.buf, count: context.buflen)
        guard let parameters = PBES2Parameters(der) else {
            // Not PBES2 + PBKDF2 + AES-CBC: mbedTLS knows the rest (or says it does not).
            return pem.withUnsafeBufferPointer { text in
                password.withUnsafeBufferPointer { mbedtls_pk_parse_key(pk, text.baseAddress, text.count, $0.baseAddress, $0.count) }
            }
        }

        // PBKDF2 → the AES key.
        var key = [UInt8](repeating: 0, count: parameters.keyLength)
        defer { zeroize(&key) }
        var md = mbedtls_md_context_t()
        mbedtls_md_init(&md)
        defer { mbedtls_md_free(&md) }
        result = mbedtls_md_setup(&md, mbedtls_md_info_from_type(parameters.prf), 1)
        if result != 0 { return result }
        result = password.withUnsafeBufferPointer { pass in
            mbedtls_pkcs5_pbkdf2_hmac(
                &md, pass.baseAddress, pass.count, parameters.salt.baseAddress, parameters.salt.count,
                parameters.iterations, UInt32(parameters.keyLength), &key)
        }
        if result != 0 { return result }

        // AES-CBC with PKCS#7 padding → the plain PKCS#8 `PrivateKeyInfo`.
        var cipher = mbedtls_cipher_context_t()
        mbedtls_cipher_init(&cipher)
        defer { mbedtls_cipher_free(&cipher) }
        result = mbedtls_cipher_setup(&cipher, mbedtls_cipher_info_from_type(parameters.cipher))
        if result != 0 { return result }
        result = mbedtls_cipher_setkey(&cipher, key, Int32(parameters.keyLength * 8), MBEDTLS_DECRYPT)
        if result != 0 { return result }
        var plain = [UInt8](repeating: 0, count: parameters.encrypted.count + 16)
        defer { zeroize(&plain) }
        var length = 0
        result = mbedtls_cipher_crypt(
            &cipher, parameters.iv.baseAddress, parameters.iv.count,
            parameters.encrypted.baseAddress, parameters.encrypted.count, &plain, &length)
        // A wrong pass phrase gives a wrong key, hence (almost always) bad padding, and a
        // plaintext that is not one DER SEQUENCE filling it exactly.
        if result == MBEDTLS_ERR_CIPHER_INVALID_PADDING { return MBEDTLS_ERR_PK_PASSWORD_MISMATCH }
        if result != 0 { return result }
        let decrypted = plain.withUnsafeBufferPointer { UnsafeBufferPointer(rebasing: $0[0..<length]) }
        var reader = DERReader(decrypted)
        guard reader.read(tag: 0x30) != nil, reader.isAtEnd else { return MBEDTLS_ERR_PK_PASSWORD_MISMATCH }
        return plain.withUnsafeBufferPointer { mbedtls_pk_parse_key(pk, $0.baseAddress, length, nil, 0) }
    }
}

/// The parameters of PBES2 with PBKDF2 and AES-CBC, read from an `EncryptedPrivateKeyInfo`.
private struct PBES2Parameters {
    var salt: UnsafeBufferPointer<UInt8>
    var iterations: UInt32
    var keyLength: Int
    var prf: mbedtls_md_type_t
    var cipher: mbedtls_cipher_type_t
    var iv: UnsafeBufferPointer<UInt8>
    var encrypted: UnsafeBufferPointer<UInt8>

    // 1.2.840.113549.1.5.13, 1.2.840.113549.1.5.12, 1.2.840.113549.2.{7…11}, 2.16.840.1.101.3.4.1.{2,22,42}
    private static let pbes2: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0D]
    private static let pbkdf2: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0C]
    private static let hmacPrefix: [UInt8] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x02]
    private static let aesPrefix: [UInt8] = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01]

    /// `nil` when `der` is not PBES2 + PBKDF2 + AES-CBC (or is malformed).
    init?(_ der: UnsafeBufferPointer<UInt8>) {
        var outer = DERReader(der)
        guard var info = outer.readReader(tag: 0x30) else { return nil }
        guard var algorithm = info.readReader(tag: 0x30),
              let scheme = algorithm.read(tag: 0x06), Self.equal(scheme, Self.pbes2),
              var pbes2 = algorithm.readReader(tag: 0x30),
              var kdf = pbes2.readReader(tag: 0x30),
              let kdfOID = kdf.read(tag: 0x06), Self.equal(kdfOID, Self.pbkdf2),
              var kdfParameters = kdf.readReader(tag: 0x30),
              let salt = kdfParameters.read(tag: 0x04),
              let iterationBytes = kdfParameters.read(tag: 0x02),
              let iterations = Self.unsigned(iterationBytes), iterations > 0, iterations <= UInt64(UInt32.max)
        else { return nil }
        var declaredKeyLength: UInt64?
        if kdfParameters.peekTag == 0x02 {
            guard let bytes = kdfParameters.read(tag: 0x02), let value = Self.unsigned(bytes) else { return nil }
            declaredKeyLength = value
        }
        var prf = MBEDTLS_MD_SHA1  // the default PRF is hmacWithSHA1
        if kdfParameters.peekTag == 0x30 {
            guard var prfAlgorithm = kdfParameters.readReader(tag: 0x30), let oid = prfAlgorithm.read(tag: 0x06),
                  oid.count == Self.hmacPrefix.count + 1, Self.equal(UnsafeBufferPointer(rebasing: oid[0..<Self.hmacPrefix.count]), Self.hmacPrefix)
            else { return nil }
            switch oid[oid.count - 1] {
            case 7: prf = MBEDTLS_MD_SHA1
            case 8: prf = MBEDTLS_MD_SHA224
            case 9: prf = MBEDTLS_MD_SHA256
            case 10: prf = MBEDTLS_MD_SHA384
            case 11: prf = MBEDTLS_MD_SHA512
            default: return nil
            }
        }
        guard var encryption = pbes2.readReader(tag: 0x30), let cipherOID = encryption.read(tag: 0x06),
              cipherOID.count == Self.aesPrefix.count + 1,
              Self.equal(UnsafeBufferPointer(rebasing: cipherOID[0..<Self.aesPrefix.count]), Self.aesPrefix),
              let iv = encryption.read(tag: 0x04), iv.count == 16,
              let encrypted = info.read(tag: 0x04), encrypted.count > 0, encrypted.count % 16 == 0
        else { return nil }
        switch cipherOID[cipherOID.count - 1] {
        case 2: cipher = MBEDTLS_CIPHER_AES_128_CBC; keyLength = 16
        case 22: cipher = MBEDTLS_CIPHER_AES_192_CBC; keyLength = 24
        case 42: cipher = MBEDTLS_CIPHER_AES_256_CBC; keyLength = 32
        default: return nil
        }
        if let declaredKeyLength, declaredKeyLength != UInt64(keyLength) { return nil }
        self.salt = salt
        self.iterations = UInt32(iterations)
        self.prf = prf
        self.iv = iv
        self.encrypted = encrypted
    }

    private static func equal(_ bytes: UnsafeBufferPointer<UInt8>, _ expected: [UInt8]) -> Bool {
        bytes.count == expected.count && zip(bytes, expected).allSatisfy { $0 == $1 }
    }

    private static func unsigned(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard !bytes.isEmpty, bytes.count <= 9, bytes[0] & 0x80 == 0 else { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            if value > (UInt64.max >> 8) { return nil }
            value = value << 8 | UInt64(byte)
        }
        return value
    }
}

/// Just enough DER: definite lengths, single-byte tags.
struct DERReader {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var offset = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }
    var peekTag: UInt8? { offset < bytes.count ? bytes[offset] : nil }

    /// The contents of the next element if its tag is `tag`.
    mutating func read(tag: UInt8) -> UnsafeBufferPointer<UInt8>? {
        guard offset + 2 <= bytes.count, bytes[offset] == tag else { return nil }
        var position = offset + 1
        var length = Int(bytes[position])
        position += 1
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard count >= 1, count <= 4, position + count <= bytes.count else { return nil }
            length = 0
            for _ in 0..<count {
                length = length << 8 | Int(bytes[position])
                position += 1
            }
        }
        guard length <= bytes.count - position else { return nil }
        offset = position + length
        return UnsafeBufferPointer(rebasing: bytes[position..<(position + length)])
    }

    mutating func readReader(tag: UInt8) -> DERReader? {
        read(tag: tag).map { DERReader($0) }
    }
}
