import CMbedTLS

/// The elliptic curves offered and accepted for ECDHE and EC certificates, fastest first.
///
/// mbedTLS's default list starts with secp521r1, and an mbedTLS server takes the first curve of
/// its own list that the client offers: a handshake between two mbedTLS peers (the device and
/// the DPS stand-in) spent most of its time in P-521 arithmetic (57 ms for a DPS connection,
/// 5 ms with this list). P-256 (what Azure's endpoints negotiate) and X25519 give 128-bit
/// security at a fraction of the cost, and cost the same here (callgrind: 32 M instructions of
/// ECDHE for the two handshakes of provision + telemetry either way); P-384 and P-521 stay for
/// servers and certificates that need them.
public enum TLSCurves {
    /// Terminated by `MBEDTLS_ECP_DP_NONE`, alive for the life of the process (mbedTLS keeps the
    /// pointer), never written after it is made.
    nonisolated(unsafe) public static let preferred: UnsafePointer<mbedtls_ecp_group_id> = {
        let curves: [mbedtls_ecp_group_id] = [
            MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_SECP521R1,
            MBEDTLS_ECP_DP_NONE,
        ]
        let list = UnsafeMutablePointer<mbedtls_ecp_group_id>.allocate(capacity: curves.count)
        list.initialize(from: curves, count: curves.count)
        return UnsafePointer(list)
    }()
}
