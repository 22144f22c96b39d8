import CMbedTLS
import DeviceCore
import HostJSON
import LinuxBoard

/// The Device Provisioning Service, emulated for local runs and tests: X.509 enrollment groups,
/// the MQTT device API (`azure-iot-mqtt.md` §1) and fault injection. See docs/local-standins.md.
///
/// Checks, in the order a device meets them:
/// - TLS: a client certificate is required (any chain passes the handshake, as with DPS);
/// - CONNECT: the user name is `{idScope}/registrations/{registrationId}/api-version=…`, the
///   ID scope is ours, the client id is the registration id, and the registration id equals
///   the certificate's CN (case-insensitive); otherwise CONNACK 5 (not authorized);
/// - SUBSCRIBE: `$dps/registrations/res/#` is granted (QoS 1 at most), anything else 0x80;
/// - register: the chain must lead to an enrollment group's CA that passed proof of
///   possession, else 401 with `{"errorCode":401002,…}`; a disabled group ends as `disabled`;
///   otherwise 202 `assigning` with `retry-after`, and the poll gets 200 `assigned` (with
///   `assignAtOnce` the register request itself gets the 200 `assigned`).
public final class DPSEmulator: TLSServerHandler {
    public struct Group {
        public var settings: StandInConfig.EnrollmentGroup
        public var ca: X509Chain
    }

    /// One registration in progress or done, by operation id.
    struct Operation {
        var registrationID: String
        var body: JSONValue
        var summary: String
    }

    final class Session {
        var registrationID: String?
        var packetID: UInt16 = 0
        func nextPacketID() -> UInt16 {
            packetID = packetID == UInt16.max ? 1 : packetID + 1
            return packetID
        }
    }

    public let config: StandInConfig
    public let groups: [Group]
    public let statePath: String?
    private var state: StandInState
    private var operations: [String: Operation] = [:]
    private let log: (String) -> Void
    private let clock = MonotonicClock()
    // Faults left to inject; nil: always.
    private var throttleLeft: Int?
    private var failLeft: Int?
    private var dropLeft: Int?
    private var refuseLeft: Int?

    /// Loads the groups' CAs (relative to `configPath`) and the remembered registrations.
    public init(config: StandInConfig, configPath: String?, log: @escaping (String) -> Void) throws(StandInError) {
        self.config = config
        var groups: [Group] = []
        for group in config.groups {
            let path = configPath.map { StandInConfig.resolve(group.caFile, relativeTo: $0) } ?? group.caFile
            let ca: X509Chain
            do throws(StandInError) { ca = try X509Chain(file: path) } catch {
                throw StandInError("enrollment group \"\(group.name)\": \(error.description)")
            }
            groups.append(Group(settings: group, ca: ca))
        }
        self.groups = groups
        statePath = configPath.map { StandInConfig.statePath(for: $0) }
        state = statePath.map { StandInState.load($0) } ?? StandInState()
        self.log = log
        throttleLeft = config.faults?.throttle?.times
        failLeft = config.faults?.fail?.times
        dropLeft = config.faults?.drop?.times
        refuseLeft = config.faults?.refuseConnect?.times
    }

    /// Every group's CA in one list, for the TLS server's CertificateRequest.
    public func clientCAs() throws(StandInError) -> X509Chain {
        try X509Chain(files: groups.map(\.ca.path))
    }

    // MARK: TLSServerHandler

    public func connectionEstablished(_ connection: ServerConnection) {
        connection.context = Session()
    }

    public func handshakeFailed(peer: String, reason: String) {
        log("\(peer) TLS handshake failed: \(reason)")
    }

    public func listenerNotice(_ text: String) {
        log(text)
    }

    public func connectionClosed(_ connection: ServerConnection, reason: String) {
        let who = (connection.context as? Session)?.registrationID ?? "-"
        log("\(connection.peer) \(who) connection closed: \(reason)")
    }

    public func received(_ packet: MQTTPacket, on connection: ServerConnection) {
        guard let session = connection.context as? Session else { return }
        let who = session.registrationID ?? "-"
        defer {
            if let drop = config.faults?.drop, connection.packetsReceived == drop.afterPackets, !connection.isClosed, Self.consume(&dropLeft) {
                log("\(connection.peer) \(session.registrationID ?? "-") FAULT drop: connection closed after packet \(drop.afterPackets)")
                connection.drop(self, reason: "dropped by fault injection")
            }
        }
        switch packet {
        case .connect(let connect):
            handleConnect(connect, session: session, on: connection)
        case .subscribe(let subscribe):
            var codes: [UInt8] = []
            var filters: [String] = []
            subscribe.subscriptions.forEach { subscription in
                let filter = subscription.filter.text
                filters.append(filter)
                codes.append(filter == "$dps/registrations/res/#" ? min(subscription.qos.rawValue, 1) : 0x80)
            }
            codes.withUnsafeBytes { raw in
                connection.send(.suback(MQTTSubAck(packetID: subscribe.packetID, returnCodes: ByteView(raw))))
            }
            log("\(connection.peer) \(who) SUBSCRIBE \(filters.joined(separator: " ")) -> SUBACK \(codes.map { $0 == 0x80 ? "0x80 (refused: DPS only offers $dps/registrations/res/#)" : String($0) }.joined(separator: " "))")
        case .publish(let publish):
            if publish.qos == .atLeastOnce { connection.send(.puback(packetID: publish.packetID)) }
            handlePublish(topic: publish.topic.text, payload: Array(publish.payload.buffer), session: session, on: connection)
        case .pingreq:
            connection.send(.pingresp)
        case .disconnect:
            log("\(connection.peer) \(who) DISCONNECT")
            connection.closeAfterFlush()
        case .puback, .unsubscribe:
            if case .unsubscribe(let u) = packet { connection.send(.unsuback(packetID: u.packetID)) }
        default:
            log("\(connection.peer) \(who) unexpected \(packet.type) from a device: closing")
            connection.drop(self, reason: "protocol violation")
        }
    }

    // MARK: CONNECT

    private func handleConnect(_ connect: MQTTConnect, session: Session, on connection: ServerConnection) {
        let clientID = connect.clientID.text
        let userName = connect.userName?.text ?? ""
        func refuse(_ code: MQTTConnectReturnCode, _ why: String) {
            connection.send(.connack(MQTTConnAck(sessionPresent: false, returnCode: code)))
            connection.closeAfterFlush()
            log("\(connection.peer) \(clientID) CONNECT user \"\(userName)\" cert CN=\(connection.peerCommonName ?? "?") -> CONNACK \(code.rawValue) (\(why))")
        }
        if let refusal = config.faults?.refuseConnect, Self.consume(&refuseLeft) {
            return refuse(UInt8(exactly: refusal.code).flatMap(MQTTConnectReturnCode.init(rawValue:)) ?? .serverUnavailable, "FAULT refuseConnect")
        }
        // {idScope}/registrations/{registrationId}/api-version=…[&ClientVersion=…]
        let parts = userName.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, parts[1] == "registrations", parts[3].hasPrefix("api-version=") else {
            return refuse(.badUserNameOrPassword, "user name is not {idScope}/registrations/{registrationId}/api-version=2019-03-31")
        }
        let scope = parts[0], registrationID = parts[2]
        guard scope == config.idScope else {
            return refuse(.notAuthorized, "unknown ID scope \"\(scope)\"; this stand-in's is \"\(config.idScope)\"")
        }
        guard registrationID == clientID else {
            return refuse(.identifierRejected, "client id \"\(clientID)\" is not the registration id \"\(registrationID)\" of the user name")
        }
        guard Self.isValidRegistrationID(registrationID) else {
            return refuse(.identifierRejected, "registration id \"\(registrationID)\" breaks DPS's rules (≤128 of a-z A-Z 0-9 . _ -)")
        }
        guard let cn = connection.peerCommonName, cn.lowercased() == registrationID.lowercased() else {
            return refuse(.notAuthorized, "registration id \"\(registrationID)\" is not the certificate's CN \"\(connection.peerCommonName ?? "(none)")\"")
        }
        session.registrationID = registrationID
        connection.send(.connack(MQTTConnAck(sessionPresent: false, returnCode: .accepted)))
        log("\(connection.peer) \(registrationID) CONNECT scope \(scope) cert CN=\(cn) issuer \"\(connection.peerIssuer)\" -> CONNACK 0")
    }

    static func isValidRegistrationID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 128 && id.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "_" || $0 == "-"
        }
    }

    // MARK: Requests

    private func handlePublish(topic: String, payload: [UInt8], session: Session, on connection: ServerConnection) {
        let who = session.registrationID ?? "-"
        // The server lets nothing but CONNECT through before an accepted CONNECT (ConnectionPhase),
        // and stops reading after a refused one.
        guard let registrationID = session.registrationID else { return }
        let (path, query) = Self.splitTopic(topic)
        guard let rid = query["$rid"] else {
            log("\(connection.peer) \(who) PUBLISH \(topic) -> ignored (no $rid)")
            return
        }
        let kind: String
        switch path {
        case "$dps/registrations/PUT/iotdps-register/": kind = "REGISTER"
        case "$dps/registrations/GET/iotdps-get-operationstatus/": kind = "POLL"
        default:
            log("\(connection.peer) \(who) PUBLISH \(topic) -> ignored (not a DPS request topic)")
            return
        }
        let head = "\(connection.peer) \(who) \(kind) $rid=\(rid)"

        if let throttle = config.faults?.throttle, Self.consume(&throttleLeft) {
            let after = throttle.retryAfter ?? 2
            respond(429, rid: rid, retryAfter: after, body: errorBody(429001, "Operations are being throttled for this tenant (stand-in fault injection)."), on: connection, session: session)
            log("\(head) -> 429 throttled, retry-after \(after) (FAULT throttle)")
            return
        }
        if config.faults?.fail != nil, Self.consume(&failLeft) {
            respond(500, rid: rid, retryAfter: nil, body: errorBody(500000, "Internal server error (stand-in fault injection)."), on: connection, session: session)
            log("\(head) -> 500 (FAULT fail)")
            return
        }

        if kind == "POLL" {
            guard let operationID = query["operationId"], let operation = operations[operationID],
                  operation.registrationID.lowercased() == registrationID.lowercased() else {
                respond(404, rid: rid, retryAfter: nil, body: errorBody(404201, "Operation not found: \(query["operationId"] ?? "(no operationId)")."), on: connection, session: session)
                log("\(head) -> 404 unknown operation \(query["operationId"] ?? "-")")
                return
            }
            respond(200, rid: rid, retryAfter: nil, body: operation.body, on: connection, session: session)
            log("\(head) operation \(operationID) -> 200 \(operation.summary)")
            return
        }

        // REGISTER: the body names the registration id again.
        if !payload.isEmpty {
            guard let text = String(validating: payload, as: UTF8.self), let object = try? JSONParser.parse(text), case .object = object else {
                respond(400, rid: rid, retryAfter: nil, body: errorBody(400004, "The request body is not a JSON object."), on: connection, session: session)
                log("\(head) -> 400 (body is not a JSON object)")
                return
            }
            if case .string(let bodyID)? = object["registrationId"], bodyID.lowercased() != registrationID.lowercased() {
                respond(400, rid: rid, retryAfter: nil, body: errorBody(400004, "registrationId \"\(bodyID)\" in the body is not the connection's \"\(registrationID)\"."), on: connection, session: session)
                log("\(head) -> 400 (registrationId in the body differs)")
                return
            }
        }
        let verdict = enrollment(for: connection)
        switch verdict {
        case .failure(let message):
            respond(401, rid: rid, retryAfter: nil, body: errorBody(401002, message.description), on: connection, session: session)
            log("\(head) -> 401 401002 \(message.description)")
        case .success(let group):
            let operationID = Self.newOperationID()
            let now = WallClock.timestamp()
            let x509 = JSONMember("x509", .object([JSONMember("enrollmentGroupId", .string(group.settings.name))]))
            let registrationState: [JSONMember]
            let status: String
            let summary: String
            if !group.settings.enabled {
                status = "disabled"
                registrationState = [
                    x509, JSONMember("registrationId", .string(registrationID)),
                    JSONMember("createdDateTimeUtc", .string(now)), JSONMember("status", .string(status)),
                    JSONMember("errorMessage", .string("The enrollment group \"\(group.settings.name)\" is disabled.")),
                    JSONMember("lastUpdatedDateTimeUtc", .string(now)), JSONMember("etag", .string(Self.etag())),
                ]
                summary = "disabled (enrollment group \(group.settings.name) is disabled)"
            } else {
                let key = registrationID.lowercased()
                var record = state.registrations[key] ?? StandInState.Registration(
                    registrationId: registrationID, deviceId: registrationID, assignedHub: group.settings.iotHub,
                    group: group.settings.name, createdDateTimeUtc: now, lastUpdatedDateTimeUtc: now, etag: Self.etag())
                let again = state.registrations[key] != nil
                record.lastUpdatedDateTimeUtc = now
                record.etag = Self.etag()
                state.registrations[key] = record
                if let statePath { state.save(statePath) }
                status = "assigned"
                registrationState = [
                    x509, JSONMember("registrationId", .string(registrationID)),
                    JSONMember("createdDateTimeUtc", .string(record.createdDateTimeUtc)),
                    JSONMember("assignedHub", .string(record.assignedHub)), JSONMember("deviceId", .string(record.deviceId)),
                    JSONMember("status", .string(status)), JSONMember("substatus", .string("initialAssignment")),
                    JSONMember("lastUpdatedDateTimeUtc", .string(now)), JSONMember("etag", .string(record.etag)),
                ]
                summary = "assigned to \(record.assignedHub) as \(record.deviceId)\(again ? " (known device: same hub and device id as before)" : "")"
            }
            let resultBody = JSONValue.object([
                JSONMember("operationId", .string(operationID)), JSONMember("status", .string(status)),
                JSONMember("registrationState", .object(registrationState)),
            ])
            if config.assignAtOnce == true {
                respond(200, rid: rid, retryAfter: nil, body: resultBody, on: connection, session: session)
                log("\(head) group \(group.settings.name) -> 200 \(summary) (assigned at once)")
                return
            }
            let after = config.retryAfterSeconds ?? 3
            operations[operationID] = Operation(registrationID: registrationID, body: resultBody, summary: summary)
            respond(202, rid: rid, retryAfter: after, body: .object([JSONMember("operationId", .string(operationID)), JSONMember("status", .string("assigning"))]), on: connection, session: session)
            log("\(head) group \(group.settings.name) -> 202 assigning, operation \(operationID), retry-after \(after)")
        }
    }

    /// The enrollment group the connection's certificate belongs to, or the 401 message.
    private func enrollment(for connection: ServerConnection) -> Result<Group, StandInError> {
        var expiredIn: String?
        for group in groups {
            let flags = connection.verifyPeer(against: group.ca)
            if flags == 0 {
                guard group.settings.verified else {
                    return .failure(StandInError("The CA certificate of enrollment group \"\(group.settings.name)\" (\(group.ca.subject)) is not verified: complete proof of possession (dps-device standin verify) first."))
                }
                return .success(group)
            }
            let dateFlags = UInt32(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE)
            if flags & ~dateFlags == 0 { expiredIn = group.settings.name + ": " + X509.verifyText(flags) }
        }
        if let expiredIn {
            return .failure(StandInError("The device certificate chain is not valid now (\(expiredIn))."))
        }
        return .failure(StandInError("The certificate of \(connection.peerSubject), issued by \(connection.peerIssuer), does not chain to the CA of any enrollment group: upload and verify that CA and create an enrollment group for it."))
    }

    private func respond(_ status: Int, rid: String, retryAfter: Int?, body: JSONValue, on connection: ServerConnection, session: Session) {
        var topic = "$dps/registrations/res/\(status)/?$rid=\(rid)"
        if let retryAfter { topic += "&retry-after=\(retryAfter)" }
        var due: DeviceInstant?
        if let delay = config.faults?.delayMilliseconds, delay > 0 { due = clock.now() + .milliseconds(Int32(clamping: delay)) }
        let topicBytes = Array(topic.utf8)
        let payloadBytes = Array(body.compactText.utf8)
        topicBytes.withUnsafeBytes { t in
            payloadBytes.withUnsafeBytes { p in
                connection.send(.publish(MQTTPublish(topic: ByteView(t), payload: ByteView(p), qos: .atLeastOnce, packetID: session.nextPacketID())), at: due)
            }
        }
    }

    private func errorBody(_ code: Int, _ message: String) -> JSONValue {
        .object([
            JSONMember("errorCode", .int(code)), JSONMember("trackingId", .string(RandomIdentifiers.uuid())),
            JSONMember("message", .string(message)), JSONMember("timestampUtc", .string(WallClock.timestamp())),
        ])
    }

    // MARK: Helpers

    static func consume(_ left: inout Int?) -> Bool {
        guard let remaining = left else { return true }
        if remaining <= 0 { return false }
        left = remaining - 1
        return true
    }

    /// The path before `?` and the percent-decoded query pairs.
    static func splitTopic(_ topic: String) -> (String, [String: String]) {
        guard let mark = topic.firstIndex(of: "?") else { return (topic, [:]) }
        var query: [String: String] = [:]
        for pair in topic[topic.index(after: mark)...].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(kv[0]).percentDecoded ?? String(kv[0])
            let value = kv.count > 1 ? (String(kv[1]).percentDecoded ?? String(kv[1])) : ""
            query[key] = value
        }
        return (String(topic[..<mark]), query)
    }

    static func newOperationID() -> String {
        "4.\(RandomIdentifiers.hex(byteCount: 8)).\(RandomIdentifiers.uuid())"
    }

    static func etag() -> String { "\"\(RandomIdentifiers.hex(byteCount: 4))-0000-0000-0000-000000000000\"" }
}

extension ByteView {
    /// The bytes as a Swift string.
    var text: String { String(decoding: buffer, as: UTF8.self) }
}
