import Foundation
import Glibc

/// The certificates and keys of the TLS and modem tests, made once per test process in a
/// temporary directory (removed at exit) by the openssl command line, as a user would make
/// them (see `script` and docs/tls.md).
///
/// Two families that do not share a CA:
/// - in the directory itself, an RSA 2048 hierarchy (root, unrelated root, intermediate,
///   servers for the right name, a wrong name, expired and not yet valid) with RSA and EC
///   device keys in every PEM form (the TLS tests);
/// - in `ec/` (`ec`), an all-EC P-256 hierarchy: root, unrelated root, a server for
///   localhost/127.0.0.1, and the clients device1 and subscriber (the modem tests).
public struct PKI: Sendable {
    public let directory: String

    public func path(_ name: String) -> String { directory + "/" + name }

    // Trust anchors.
    public var root: String { path("root.pem") }
    public var unrelatedRoot: String { path("unrelated.pem") }
    public var intermediate: String { path("intermediate.pem") }
    // Servers (keys: server.key for all).
    public var serverKey: String { path("server.key") }
    public var server: String { path("server.pem") }
    public var wrongNameServer: String { path("wrong-name.pem") }
    public var expiredServer: String { path("expired.pem") }
    public var futureServer: String { path("future.pem") }

    public static let passphrase = "correct-horse"

    /// The EC P-256 family in `ec/`.
    public var ec: EC { EC(directory: path("ec")) }

    /// A root CA, an unrelated CA, a server certificate for localhost/127.0.0.1, and client
    /// certificates device1 (the modem's identity) and subscriber, all EC P-256.
    public struct EC: Sendable {
        public let directory: String

        public func path(_ name: String) -> String { directory + "/" + name }

        public var root: String { path("root.pem") }
        public var unrelatedRoot: String { path("unrelated.pem") }
        public var server: String { path("server.pem") }
        public var serverKey: String { path("server.key") }
        public var device: String { path("device1.pem") }
        public var deviceKey: String { path("device1.key") }
        public var subscriber: String { path("subscriber.pem") }
        public var subscriberKey: String { path("subscriber.key") }
    }

    /// The run's PKI, made on first use; a test that needs it fails with the reason when it
    /// could not be made.
    public static func shared() throws -> PKI { try made.get() }

    private static let made: Result<PKI, FixtureError> = make()

    private static func make() -> Result<PKI, FixtureError> {
        guard let openssl = Tools.find("openssl") else {
            return .failure(FixtureError(description: "openssl is not installed (needed to make the test certificates): apt-get install openssl"))
        }
        let directory = NSTemporaryDirectory() + "test-pki-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let result = try Tools.run("/bin/sh", ["-ec", script], in: directory, environment: ["OPENSSL": openssl])
            if result.status != 0 {
                return .failure(FixtureError(description: "making the test certificates with openssl failed (status \(result.status)):\n\(result.output)"))
            }
        } catch {
            return .failure(FixtureError(description: "cannot make the test certificates: \(error)"))
        }
        atExit { try? FileManager.default.removeItem(atPath: directory) }
        return .success(PKI(directory: directory))
    }

    /// What the tests run, in the temporary directory, to make their certificates.
    public static let script = rsaScript + "\nmkdir ec\ncd ec\n" + ecScript

    /// The RSA hierarchy and the device keys in every form, in the directory itself.
    static let rsaScript = #"""
    cat > ca-ext.cnf <<'X'
    basicConstraints = critical, CA:TRUE
    keyUsage = critical, keyCertSign, cRLSign
    subjectKeyIdentifier = hash
    authorityKeyIdentifier = keyid
    X
    cat > server-ext.cnf <<'X'
    basicConstraints = CA:FALSE
    keyUsage = critical, digitalSignature, keyEncipherment
    extendedKeyUsage = serverAuth
    subjectAltName = DNS:localhost, IP:127.0.0.1
    X
    cat > wrong-name-ext.cnf <<'X'
    basicConstraints = CA:FALSE
    keyUsage = critical, digitalSignature, keyEncipherment
    extendedKeyUsage = serverAuth
    subjectAltName = DNS:wrong.example.invalid, IP:10.9.8.7
    X
    cat > device-ext.cnf <<'X'
    basicConstraints = CA:FALSE
    keyUsage = critical, digitalSignature, keyEncipherment
    extendedKeyUsage = clientAuth
    X
    # Root CA, an unrelated CA, an intermediate CA signed by the root.
    $OPENSSL req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=Test Root CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout root.key -out root.pem
    $OPENSSL req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=Unrelated Root CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout unrelated.key -out unrelated.pem
    $OPENSSL req -new -newkey rsa:2048 -nodes -subj "/CN=Test Intermediate CA" -keyout intermediate.key -out intermediate.csr
    $OPENSSL x509 -req -sha256 -days 3650 -in intermediate.csr -CA root.pem -CAkey root.key -set_serial 0x1001 \
        -extfile ca-ext.cnf -out intermediate.pem
    # Server certificates: the good one (DNS:localhost, IP:127.0.0.1) and one for other names.
    $OPENSSL req -new -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
    $OPENSSL x509 -req -sha256 -days 825 -in server.csr -CA root.pem -CAkey root.key -set_serial 0x2001 \
        -extfile server-ext.cnf -out server.pem
    $OPENSSL x509 -req -sha256 -days 825 -in server.csr -CA root.pem -CAkey root.key -set_serial 0x2002 \
        -extfile wrong-name-ext.cnf -out wrong-name.pem
    # Expired and not-yet-valid server certificates: chosen dates need `openssl ca` and a minimal configuration.
    mkdir -p ca/newcerts && : > ca/index.txt && echo 3001 > ca/serial
    cat > ca.cnf <<'X'
    [ ca ]
    default_ca = test_ca
    [ test_ca ]
    dir = ./ca
    database = $dir/index.txt
    new_certs_dir = $dir/newcerts
    serial = $dir/serial
    default_md = sha256
    policy = any_name
    unique_subject = no
    [ any_name ]
    commonName = supplied
    [ server_ext ]
    basicConstraints = CA:FALSE
    keyUsage = critical, digitalSignature, keyEncipherment
    extendedKeyUsage = serverAuth
    subjectAltName = DNS:localhost, IP:127.0.0.1
    X
    $OPENSSL ca -batch -notext -config ca.cnf -cert root.pem -keyfile root.key -extensions server_ext \
        -startdate 20200101000000Z -enddate 20210101000000Z -in server.csr -out expired.pem
    $OPENSSL ca -batch -notext -config ca.cnf -cert root.pem -keyfile root.key -extensions server_ext \
        -startdate 20900101000000Z -enddate 20910101000000Z -in server.csr -out future.pem
    # Device keys, RSA 2048 and EC P-256; genpkey writes PKCS#8 ("BEGIN PRIVATE KEY").
    $OPENSSL genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out device-rsa.key
    $OPENSSL genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out device-ec.key
    # The other PEM forms: traditional ("BEGIN RSA/EC PRIVATE KEY"), encrypted PKCS#8
    # ("BEGIN ENCRYPTED PRIVATE KEY": PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC), and the legacy
    # encrypted traditional form (Proc-Type: 4,ENCRYPTED).
    $OPENSSL rsa -in device-rsa.key -traditional -out device-rsa.traditional.key
    $OPENSSL ec -in device-ec.key -out device-ec.traditional.key
    $OPENSSL pkey -in device-rsa.key -aes256 -passout pass:correct-horse -out device-rsa.encrypted.key
    $OPENSSL pkey -in device-ec.key -aes256 -passout pass:correct-horse -out device-ec.encrypted.key
    $OPENSSL rsa -in device-rsa.key -traditional -aes256 -passout pass:correct-horse -out device-rsa.legacy-encrypted.key
    # Device certificates, CN=device1: by the root, by the intermediate (chain file: leaf, then
    # intermediate), and by the unrelated CA.
    $OPENSSL req -new -key device-rsa.key -subj "/CN=device1" -out device-rsa.csr
    $OPENSSL x509 -req -sha256 -days 365 -in device-rsa.csr -CA root.pem -CAkey root.key -set_serial 0x4001 \
        -extfile device-ext.cnf -out device-rsa.pem
    $OPENSSL req -new -key device-ec.key -subj "/CN=device1" -out device-ec.csr
    $OPENSSL x509 -req -sha256 -days 365 -in device-ec.csr -CA root.pem -CAkey root.key -set_serial 0x4002 \
        -extfile device-ext.cnf -out device-ec.pem
    $OPENSSL x509 -req -sha256 -days 365 -in device-ec.csr -CA intermediate.pem -CAkey intermediate.key -set_serial 0x4003 \
        -extfile device-ext.cnf -out device-ec.leaf-by-intermediate.pem
    cat device-ec.leaf-by-intermediate.pem intermediate.pem > device-ec.chain.pem
    $OPENSSL x509 -req -sha256 -days 365 -in device-ec.csr -CA unrelated.pem -CAkey unrelated.key -set_serial 0x4004 \
        -extfile device-ext.cnf -out device-ec.unrelated.pem
    # Not PEM: the same certificate and key in DER.
    $OPENSSL x509 -in device-ec.pem -outform DER -out device-ec.der
    $OPENSSL pkey -in device-ec.key -outform DER -out device-ec.key.der
    """#

    /// The EC P-256 family, run in `ec/`.
    static let ecScript = #"""
    cat > server-ext.cnf <<'X'
    basicConstraints = CA:FALSE
    keyUsage = critical, digitalSignature
    extendedKeyUsage = serverAuth
    subjectAltName = DNS:localhost, IP:127.0.0.1
    X
    cat > client-ext.cnf <<'X'
    basicConstraints = CA:FALSE
    keyUsage = critical, digitalSignature
    extendedKeyUsage = clientAuth
    X
    for ca in root unrelated; do
        $OPENSSL req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 3650 \
            -subj "/CN=Modem Test $ca CA" -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign" -keyout $ca.key -out $ca.pem
    done
    $OPENSSL req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
    $OPENSSL x509 -req -sha256 -days 825 -in server.csr -CA root.pem -CAkey root.key -set_serial 0x2001 \
        -extfile server-ext.cnf -out server.pem
    serial=0x4001
    for client in device1 subscriber; do
        $OPENSSL req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$client" -keyout $client.key -out $client.csr
        $OPENSSL x509 -req -sha256 -days 365 -in $client.csr -CA root.pem -CAkey root.key -set_serial $serial \
            -extfile client-ext.cnf -out $client.pem
        serial=0x4002
    done
    """#
}
