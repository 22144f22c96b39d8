#if canImport(Glibc)
import Glibc
#endif
import CMbedTLS
import DeviceCore
import DeviceCoreWords
import LinuxBoard

/// What a `TLSServer` tells its application.
public protocol TLSServerHandler: AnyObject {
    /// The handshake finished; `connection.peerCertificate` is the client's chain.
    func connectionEstablished(_ connection: ServerConnection)
    /// One decoded MQTT packet. Its views are valid during this call only.
    func received(_ packet: MQTTPacket, on connection: ServerConnection)
    /// The connection ended (`reason` in words) after it was established.
    func connectionClosed(_ connection: ServerConnection, reason: String)
    /// A client failed the TLS handshake (wrong version, no certificate, timed out, …).
    func handshakeFailed(peer: String, reason: String)
    /// The listener stopped accepting (out of file descriptors, …) or accepts again, in words.
    func listenerNotice(_ text: String)
}

/// A small TLS 1.2 server on mbedTLS for MQTT stand-ins: one thread, `poll(2)` over the
/// listening socket and every connection, non-blocking sockets throughout, so that no client
/// can hold up another. Every step of a connection has a deadline (`ServerTimeouts`), the
/// first packet must be CONNECT and the only CONNECT (`ConnectionPhase`), and `accept(2)`
/// failing for want of file descriptors pauses the listener instead of spinning (`AcceptBackoff`).
///
/// Client certificates are **required** (the handshake fails without one) and checked against
/// `clientCAs`, but a chain that leads to none of them is let through the handshake: like
/// DPS, the application decides, after CONNECT, what to answer (`verifyFlags` tells it).
public final class TLSServer {
    public let host: String
    public let port: UInt16
    private var listener = mbedtls_net_context()
    private let config: UnsafeMutablePointer<mbedtls_ssl_config>
    private let entropy: UnsafeMutablePointer<mbedtls_entropy_context>
    private let random: UnsafeMutablePointer<mbedtls_ctr_drbg_context>
    private let certificate: X509Chain
    private let key: PrivateKey
    private let clientCAs: X509Chain
    private var connections: [ServerConnection] = []
    private var nextID = 1
    private let clock = MonotonicClock()
    public let timeouts: ServerTimeouts
    private var backoff = AcceptBackoff()
    /// Connections taken from the backlog per turn of the loop, so that a burst of them does
    /// not hold up the ones already open.
    static let acceptsPerTurn = 32

    public init(host: String, port: UInt16, certificateFile: String, keyFile: String, clientCAs: X509Chain, timeouts: ServerTimeouts = ServerTimeouts()) throws(StandInError) {
        self.host = host
        self.port = port
        self.timeouts = timeouts
        certificate = try X509Chain(file: certificateFile)
        key = try PrivateKey(file: keyFile)
        self.clientCAs = clientCAs
        if mbedtls_pk_check_pair(&certificate.crt.pointee.pk, key.pk) != 0 {
            throw StandInError("the server key \"\(keyFile)\" does not belong to the server certificate \"\(certificateFile)\"")
        }
        config = .allocate(capacity: 1)
        mbedtls_ssl_config_init(config)
        entropy = .allocate(capacity: 1)
        mbedtls_entropy_init(entropy)
        random = .allocate(capacity: 1)
        mbedtls_ctr_drbg_init(random)
        mbedtls_net_init(&listener)

        func check(_ result: Int32, _ what: String) throws(StandInError) {
            if result != 0 { throw StandInError("TLS server setup failed (\(what)): \(X509.message(result))") }
        }
        let personalization: StaticString = "swift-azure-iot-device stand-in"
        try check(mbedtls_ctr_drbg_seed(random, mbedtls_entropy_func, entropy, personalization.utf8Start, personalization.utf8CodeUnitCount), "random generator")
        try check(mbedtls_ssl_config_defaults(config, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT), "defaults")
        mbedtls_ssl_conf_min_version(config, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3)
        mbedtls_ssl_conf_max_version(config, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3)
        mbedtls_ssl_conf_rng(config, mbedtls_ctr_drbg_random, random)
        mbedtls_ssl_conf_curves(config, TLSCurves.preferred)
        mbedtls_ssl_conf_authmode(config, MBEDTLS_SSL_VERIFY_REQUIRED)
        mbedtls_ssl_conf_ca_chain(config, clientCAs.crt, nil)
        // Let every chain through the handshake; the application reads the real verdict.
        mbedtls_ssl_conf_verify(config, { _, _, _, flags in
            flags?.pointee = 0
            return 0
        }, nil)
        try check(mbedtls_ssl_conf_own_cert(config, certificate.crt, key.pk), "server certificate")

        let bound = mbedtls_net_bind(&listener, host, String(port), MBEDTLS_NET_PROTO_TCP)
        if bound != 0 {
            throw StandInError("cannot listen on \(host):\(port): \(X509.message(bound)). Is another stand-in (or anything else) using that port? `scripts/standins.sh status` shows ours; `ss -ltnp` shows all.")
        }
        _ = mbedtls_net_set_nonblock(&listener)
    }

    /// The port the server listens on: `port`, or the one the system chose when `port` was 0.
    public var boundPort: UInt16 {
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener.fd, $0, &length) }
        }
        guard result == 0 else { return port }
        return withUnsafeBytes(of: &address) { raw in
            // sin_port and sin6_port are both at offset 2, in network order.
            UInt16(raw[2]) << 8 | UInt16(raw[3])
        }
    }

    deinit {
        for connection in connections { connection.abort() }
        mbedtls_net_free(&listener)
        mbedtls_ssl_config_free(config)
        mbedtls_ctr_drbg_free(random)
        mbedtls_entropy_free(entropy)
        config.deallocate()
        random.deallocate()
        entropy.deallocate()
    }

    /// Serves until `shouldStop` returns true (checked at least every 200 ms).
    public func run(_ handler: TLSServerHandler, shouldStop: () -> Bool) {
        while !shouldStop() {
            let now = clock.now()
            let listening = backoff.mayAccept(at: now)
            // poll skips a negative fd: the listener's, while accepting is paused.
            var fds = [pollfd(fd: listening ? listener.fd : -1, events: Int16(POLLIN), revents: 0)]
            var wait: Int32 = 200
            if let retryAt = backoff.retryAt { wait = min(wait, max(0, (retryAt - now).milliseconds)) }
            for connection in connections {
                var events = Int16(POLLIN)
                if connection.wantsWrite { events |= Int16(POLLOUT) }
                fds.append(pollfd(fd: connection.fd, events: events, revents: 0))
                wait = min(wait, max(0, (connection.nextDue - now).milliseconds))
            }
            let ready = poll(&fds, nfds_t(fds.count), wait)
            if ready < 0 && errno != EINTR { break }
            if listening && fds[0].revents != 0 { acceptAll(handler) }
            for connection in connections { connection.service(handler, now: clock.now()) }
            let open = connections.count
            connections.removeAll { $0.isClosed }
            if connections.count < open { backoff.connectionClosed() }
        }
        for connection in connections { connection.close(handler, reason: "stand-in stopping", polite: true) }
        connections.removeAll()
    }

    private func acceptAll(_ handler: TLSServerHandler) {
        for _ in 0..<Self.acceptsPerTurn {
            let fd: Int32
            let address: String
            switch SocketAccept.next(from: listener.fd) {
            case .nothingWaiting:
                if let line = backoff.caughtUp(at: clock.now()) { handler.listenerNotice(line) }
                return
            case .failed(let code):
                if let line = backoff.acceptFailed(errno: code, openConnections: connections.count, at: clock.now()) {
                    handler.listenerNotice(line)
                }
                return
            case .accepted(let accepted, let peer):
                fd = accepted
                address = peer
            }
            // The handshake's flight is five small records written one by one: without
            // TCP_NODELAY, Nagle held the later ones for the client's delayed ACK (~40 ms, twice
            // per connection, measured with strace), as mosquitto's `set_tcp_nodelay` fixes for the hub.
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            var client = mbedtls_net_context()
            client.fd = fd
            let id = nextID
            nextID += 1
            let peer = "\(address)#\(id)"
            do throws(StandInError) {
                let phase = ConnectionPhase(timeouts: timeouts, acceptedAt: clock.now())
                let connection = try ServerConnection(id: id, net: client, peer: peer, config: config, phase: phase)
                connections.append(connection)
                connection.service(handler, now: clock.now())
            } catch {
                handler.handshakeFailed(peer: peer, reason: error.description)
                mbedtls_net_free(&client)
            }
        }
    }
}

/// One client of a `TLSServer`: its TLS state, MQTT framing, and output queue.
public final class ServerConnection {
    public let id: Int
    /// `ip#n`, for logs.
    public let peer: String
    /// Free for the application (its per-connection state).
    public var context: AnyObject?
    /// Packets received on this connection so far.
    public private(set) var packetsReceived = 0

    private var net: UnsafeMutablePointer<mbedtls_net_context>
    private let ssl: UnsafeMutablePointer<mbedtls_ssl_context>
    private let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: 300 * 1024, alignment: 8)
    private var reader: MQTTFrameReader
    private var output: [UInt8] = []
    private var scheduled: [(due: DeviceInstant, bytes: [UInt8])] = []
    private var established = false
    private var closeWhenFlushed = false
    private var handshakeWantsWrite = false
    /// Length given to an `mbedtls_ssl_write` that answered WANT_WRITE: the retry must repeat it.
    private var pendingWriteLength: Int?
    private var phase: ConnectionPhase
    public private(set) var isClosed = false

    init(id: Int, net: mbedtls_net_context, peer: String, config: UnsafePointer<mbedtls_ssl_config>, phase: ConnectionPhase) throws(StandInError) {
        self.id = id
        self.peer = peer
        self.phase = phase
        self.net = .allocate(capacity: 1)
        self.net.initialize(to: net)
        ssl = .allocate(capacity: 1)
        mbedtls_ssl_init(ssl)
        reader = MQTTFrameReader(storage: storage)
        let result = mbedtls_ssl_setup(ssl, config)
        if result != 0 {
            mbedtls_ssl_free(ssl)
            ssl.deallocate()
            self.net.deallocate()
            storage.deallocate()
            throw StandInError("TLS setup for a new connection failed: \(X509.message(result))")
        }
        mbedtls_ssl_set_bio(ssl, self.net, mbedtls_net_send, mbedtls_net_recv, nil)
    }

    deinit {
        abort()
        mbedtls_ssl_free(ssl)
        ssl.deallocate()
        net.deallocate()
        storage.deallocate()
    }

    var fd: Int32 { net.pointee.fd }
    var wantsWrite: Bool { !output.isEmpty || handshakeWantsWrite }
    /// The first held-back packet's time, or the current step's deadline if that is earlier.
    var nextDue: DeviceInstant { min(scheduled.map(\.due).min() ?? phase.deadline, phase.deadline) }

    /// The client's certificate chain (leaf first), once established.
    public var peerCertificate: UnsafePointer<mbedtls_x509_crt>? { mbedtls_ssl_get_peer_cert(ssl) }
    /// The client leaf certificate's CN.
    public var peerCommonName: String? { peerCertificate.flatMap { X509.commonName($0) } }
    public var peerSubject: String { peerCertificate.map { X509.subject($0) } ?? "(none)" }
    public var peerIssuer: String { peerCertificate.map { X509.issuer($0) } ?? "(none)" }

    /// Verify flags of the client's chain against `anchors` (0: it leads to them and is valid).
    public func verifyPeer(against anchors: X509Chain) -> UInt32 {
        guard let crt = peerCertificate else { return UInt32(MBEDTLS_X509_BADCERT_MISSING) }
        return X509.verify(crt, against: anchors)
    }

    /// Queues `packet` now, or at `due`.
    public func send(_ packet: MQTTPacket, at due: DeviceInstant? = nil) {
        guard !isClosed, let size = try? packet.encodedSize() else { return }
        var bytes = [UInt8](repeating: 0, count: size)
        let written = bytes.withUnsafeMutableBytes { (try? packet.encode(into: $0)) ?? 0 }
        guard written == size else { return }
        if let due, !closeWhenFlushed {
            scheduled.append((due, bytes))
        } else if scheduled.isEmpty {
            output += bytes
        } else {
            // Keep the order: behind what is held back.
            scheduled.append((scheduled.last!.due, bytes))
        }
    }

    /// Sends what is queued, then closes (after a refusing CONNACK).
    public func closeAfterFlush() {
        closeWhenFlushed = true
        for item in scheduled { output += item.bytes }
        scheduled.removeAll()
    }

    /// Closes at once, without close_notify: a dropped network connection.
    public func drop(_ handler: TLSServerHandler, reason: String) {
        close(handler, reason: reason, polite: false)
    }

    func close(_ handler: TLSServerHandler, reason: String, polite: Bool) {
        guard !isClosed else { return }
        if polite && established { _ = mbedtls_ssl_close_notify(ssl) }
        abort()
        if established { handler.connectionClosed(self, reason: reason) }
    }

    func abort() {
        if !isClosed {
            isClosed = true
            mbedtls_net_free(net)
        }
    }

    func service(_ handler: TLSServerHandler, now: DeviceInstant) {
        guard !isClosed else { return }
        if !established {
            let result = mbedtls_ssl_handshake(ssl)
            handshakeWantsWrite = result == MBEDTLS_ERR_SSL_WANT_WRITE
            if result == MBEDTLS_ERR_SSL_WANT_READ || result == MBEDTLS_ERR_SSL_WANT_WRITE {
                if let reason = phase.expired(at: now) {
                    abort()
                    handler.handshakeFailed(peer: peer, reason: reason)
                }
                return
            }
            if result != 0 {
                let reason = X509.message(result)
                abort()
                handler.handshakeFailed(peer: peer, reason: reason)
                return
            }
            established = true
            handshakeWantsWrite = false
            phase.handshakeFinished(at: now)
            handler.connectionEstablished(self)
        }
        // Held-back packets that are due.
        while let first = scheduled.first, first.due <= now {
            output += first.bytes
            scheduled.removeFirst()
        }
        if !closeWhenFlushed { readAll(handler, now: now) }
        guard !isClosed else { return }
        if let reason = phase.expired(at: now) {
            close(handler, reason: reason, polite: true)
            return
        }
        flush(handler)
        if closeWhenFlushed && output.isEmpty && !isClosed { close(handler, reason: "closed by the stand-in", polite: true) }
    }

    private func readAll(_ handler: TLSServerHandler, now: DeviceInstant) {
        while !isClosed && !closeWhenFlushed {
            let space = reader.writableSpace()
            if space.count == 0 { drop(handler, reason: "packet larger than the stand-in's buffer"); return }
            let result = mbedtls_ssl_read(ssl, space.baseAddress!.assumingMemoryBound(to: UInt8.self), space.count)
            if result == MBEDTLS_ERR_SSL_WANT_READ || result == MBEDTLS_ERR_SSL_WANT_WRITE { return }
            if result == 0 || result == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY {
                close(handler, reason: "closed by the device", polite: false)
                return
            }
            if result < 0 {
                close(handler, reason: "connection error: \(X509.message(result))", polite: false)
                return
            }
            reader.didWrite(Int(result))
            while !isClosed && !closeWhenFlushed {
                let frame: MQTTFrame?
                do throws(MQTTDecodeError) { frame = try reader.nextFrame() } catch {
                    close(handler, reason: "malformed MQTT from the device: \(error.rule.summary)", polite: true)
                    return
                }
                guard let frame else { break }
                let packet: MQTTPacket
                do throws(MQTTDecodeError) { packet = try frame.decode() } catch {
                    close(handler, reason: "malformed MQTT packet from the device: \(error.rule.summary) at byte \(error.offset)", polite: true)
                    return
                }
                if let violation = phase.received(packet, at: now) {
                    drop(handler, reason: violation)
                    return
                }
                packetsReceived += 1
                handler.received(packet, on: self)
            }
        }
    }

    private func flush(_ handler: TLSServerHandler) {
        while !output.isEmpty && !isClosed {
            let length = pendingWriteLength ?? output.count
            let result = output.withUnsafeBufferPointer { mbedtls_ssl_write(ssl, $0.baseAddress, length) }
            if result == MBEDTLS_ERR_SSL_WANT_WRITE || result == MBEDTLS_ERR_SSL_WANT_READ {
                pendingWriteLength = length
                return
            }
            pendingWriteLength = nil
            if result < 0 {
                close(handler, reason: "send failed: \(X509.message(result))", polite: false)
                return
            }
            output.removeFirst(Int(result))
        }
    }
}
