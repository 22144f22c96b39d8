// The parts of mbedTLS 2.28 (Debian's libmbedtls-dev) that LinuxBoard's TLS transport uses,
// plus getrandom(2). A system-library target: the headers come from /usr/include.
#ifndef CMBEDTLS_SHIM_H
#define CMBEDTLS_SHIM_H

#include <mbedtls/version.h>
#include <mbedtls/ssl.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/pk.h>
#include <mbedtls/pem.h>
#include <mbedtls/md.h>
#include <mbedtls/cipher.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/asn1.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/platform_util.h>
#include <sys/random.h>

#if MBEDTLS_VERSION_MAJOR != 2
#error "CMbedTLS expects mbedTLS 2.x (Debian 12's libmbedtls-dev 2.28)"
#endif

/// The description byte of the last alert received (valid right after an mbedTLS call returned
/// MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE), or -1.
static inline int cmbedtls_last_alert(const mbedtls_ssl_context *ssl) {
    return ssl->in_msg != 0 ? ssl->in_msg[1] : -1;
}

/// Whether the server sent a CertificateRequest in this handshake.
static inline int cmbedtls_server_requested_certificate(const mbedtls_ssl_context *ssl) {
    return ssl->client_auth;
}

/// The handshake state (MBEDTLS_SSL_HELLO_REQUEST … MBEDTLS_SSL_HANDSHAKE_OVER).
static inline int cmbedtls_handshake_state(const mbedtls_ssl_context *ssl) {
    return ssl->state;
}

/// The minor version the server's hello offered (1 = TLS 1.0, 2 = TLS 1.1, 3 = TLS 1.2), valid
/// after the handshake failed with MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION.
static inline int cmbedtls_peer_minor_version(const mbedtls_ssl_context *ssl) {
    return ssl->minor_ver;
}

/// Copies up to `capacity` bytes of the record being read (its header onwards, as received so
/// far) into `out`; returns how many. Shows what a server that does not speak TLS sent.
static inline size_t cmbedtls_received_record(const mbedtls_ssl_context *ssl, unsigned char *out, size_t capacity) {
    if (ssl->in_hdr == 0) return 0;
    size_t count = ssl->in_left < capacity ? ssl->in_left : capacity;
    for (size_t i = 0; i < count; i++) out[i] = ssl->in_hdr[i];
    return count;
}

#endif
