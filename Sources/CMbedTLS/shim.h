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

#endif
