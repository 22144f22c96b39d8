import CMbedTLS
import DeviceCore
import HostJSON
import LinuxBoard

/// IoT Hub, emulated for local runs and tests: the device side of its MQTT API (telemetry,
/// cloud-to-device messages, the device twin and direct methods, `azure-iot-mqtt.md` §2) and a
/// service side that `dps-device hub …` and `dps-device monitor` use in place of the `az iot`
/// commands. See docs/twin-and-methods.md.
///
/// Who is who comes from the TLS client certificate, as in IoT Hub: its chain must lead to one
/// of the client CAs and its CN is the device id (the client id and the user name must agree),
/// except that the CN of the service identity (`monitor`) makes a service connection. Each
/// device's twin is kept in the twin store across restarts; C2D messages wait in memory for the
/// device's subscription.
public final class IoTHubEmulator: TLSServerHandler {
    public struct Settings {
        /// CAs a device certificate must chain to.
        public var clientCAs: X509Chain
        /// The CN of the service identity (the monitor and the `hub` commands).
        public var serviceName: String
        /// The twin store (JSON); `nil` keeps twins in memory only.
        public var twinStorePath: String?

        public init(clientCAs: X509Chain, serviceName: String = "monitor", twinStorePath: String?) {
            self.clientCAs = clientCAs
            self.serviceName = serviceName
            self.twinStorePath = twinStorePath
        }
    }

    enum Subscription: Hashable {
        // A device's
        case cloudToDevice, twinResponses, desiredPatches, methods
        // The service's
        case telemetry, serviceResponses
    }

    final class Client {
        enum Role {
            case unknown
            case device(String)
            case service(String)
        }

        var role = Role.unknown
        var subscriptions: Set<Subscription> = []
        var modelID: String?
        private var packetID: UInt16 = 0

        var name: String {
            switch role {
            case .unknown: return "-"
            case .device(let id): return id
            case .service(let id): return "service(\(id))"
            }
        }

        func nextPacketID() -> UInt16 {
            packetID = packetID == UInt16.max ? 1 : packetID + 1
            return packetID
        }
    }

    struct PendingMethod {
        var service: ServerConnection
        var serviceRequestID: String
        var deviceID: String
        var method: String
        var deadline: DeviceInstant
    }

    struct CloudToDeviceMessage {
        /// The encoded property bag (`$.mid=…&k=v`).
        var properties: String
        var body: [UInt8]
    }

    /// Seconds a direct method may take, as IoT Hub bounds `responseTimeoutInSeconds`.
    public static let methodTimeoutRange = 5...300
    /// C2D messages IoT Hub keeps per device.
    public static let cloudToDeviceQueueLimit = 50

    public let settings: Settings
    private let twins: TwinStore
    private let log: (String) -> Void
    private let clock = MonotonicClock()
    private var devices: [String: ServerConnection] = [:]
    private var services: [ServerConnection] = []
    private var pendingMethods: [String: PendingMethod] = [:]
    private var nextMethodRequest = 1
    private var cloudToDevice: [String: [CloudToDeviceMessage]] = [:]
    private var lastActivity: [String: String] = [:]

    public init(settings: Settings, log: @escaping (String) -> Void) throws(StandInError) {
        self.settings = settings
        twins = try TwinStore(path: settings.twinStorePath)
        self.log = log
    }

    /// How many twins the store holds (for the start-up line).
    public var twinCount: Int { twins.twins.count }

    /// Ends the direct methods whose time is up (504 to the caller). Call often (the server
    /// loop does, at least every 200 ms).
    public func tick() {
        let now = clock.now()
        for (id, pending) in pendingMethods where pending.deadline <= now {
            pendingMethods[id] = nil
            respondToService(
                504, requestID: pending.serviceRequestID,
                body: Self.errorBody(504101, "Timed out waiting for the response from device \(pending.deviceID) to method \(pending.method)."),
                on: pending.service)
            log("\(pending.service.peer) service INVOKE \(pending.deviceID) \(pending.method) -> 504 (the device did not answer in time)")
        }
    }

    // MARK: TLSServerHandler

    public func connectionEstablished(_ connection: ServerConnection) {
        connection.context = Client()
    }

    public func handshakeFailed(peer: String, reason: String) {
        log("\(peer) TLS handshake failed: \(reason)")
    }

    public func listenerNotice(_ text: String) {
        log(text)
    }

    public func connectionClosed(_ connection: ServerConnection, reason: String) {
        guard let client = connection.context as? Client else { return }
        switch client.role {
        case .device(let id):
            if devices[id] === connection { devices[id] = nil }
            lastActivity[id] = WallClock.timestamp()
        case .service:
            services.removeAll { $0 === connection }
            pendingMethods = pendingMethods.filter { $0.value.service !== connection }
        case .unknown:
            break
        }
        log("\(connection.peer) \(client.name) connection closed: \(reason)")
    }

    public func received(_ packet: MQTTPacket, on connection: ServerConnection) {
        guard let client = connection.context as? Client else { return }
        switch packet {
        case .connect(let connect):
            handleConnect(connect, client: client, on: connection)
        case .subscribe(let subscribe):
            handleSubscribe(subscribe, client: client, on: connection)
        case .unsubscribe(let unsubscribe):
            unsubscribe.filters.forEach { subscription in
                if let kind = kind(of: subscription.filter.text, for: client) { client.subscriptions.remove(kind) }
            }
            connection.send(.unsuback(packetID: unsubscribe.packetID))
        case .publish(let publish):
            guard publish.qos != .exactlyOnce else {
                // IoT Hub does not support QoS 2: it closes the connection.
                log("\(connection.peer) \(client.name) PUBLISH at QoS 2 \(publish.topic.text) -> connection closed (IoT Hub supports QoS 0 and 1 only)")
                return connection.drop(self, reason: "QoS 2 PUBLISH")
            }
            let topic = publish.topic.text
            let payload = Array(publish.payload.buffer)
            if publish.qos == .atLeastOnce { connection.send(.puback(packetID: publish.packetID)) }
            switch client.role {
            case .device(let id): handleDevicePublish(topic: topic, payload: payload, deviceID: id, client: client, on: connection)
            case .service: handleServicePublish(topic: topic, payload: payload, client: client, on: connection)
            case .unknown: break
            }
        case .puback:
            break  // a device acknowledging a cloud-to-device message
        case .pingreq:
            connection.send(.pingresp)
        case .disconnect:
            log("\(connection.peer) \(client.name) DISCONNECT")
            connection.closeAfterFlush()
        default:
            log("\(connection.peer) \(client.name) unexpected \(packet.type.name) from a client: closing")
            connection.drop(self, reason: "protocol violation")
        }
    }

    // MARK: CONNECT

    private func handleConnect(_ connect: MQTTConnect, client: Client, on connection: ServerConnection) {
        let clientID = connect.clientID.text
        let userName = connect.userName?.text ?? ""
        let cn = connection.peerCommonName ?? "(none)"
        func refuse(_ code: MQTTConnectReturnCode, _ why: String) {
            connection.send(.connack(MQTTConnAck(sessionPresent: false, returnCode: code)))
            connection.closeAfterFlush()
            log("\(connection.peer) \(clientID) CONNECT user \"\(userName)\" cert CN=\(cn) -> CONNACK \(code.rawValue) (\(why))")
        }
        let flags = connection.verifyPeer(against: settings.clientCAs)
        guard flags == 0 else {
            return refuse(.notAuthorized, "the certificate of \(connection.peerSubject), issued by \(connection.peerIssuer), does not chain to a CA this hub trusts: \(X509.verifyText(flags))")
        }
        if cn == settings.serviceName {
            client.role = .service(clientID)
            services.append(connection)
            connection.send(.connack(MQTTConnAck(sessionPresent: false, returnCode: .accepted)))
            log("\(connection.peer) \(client.name) CONNECT as the service identity (cert CN=\(cn)) -> CONNACK 0")
            return
        }
        // {hub}/{deviceId}/?api-version=…[&model-id=…]
        let (path, query) = DPSEmulator.splitTopic(userName)
        guard path.hasSuffix("/\(clientID)/"), path.count > clientID.count + 2, query["api-version"] != nil else {
            return refuse(.badUserNameOrPassword, "user name is not {hub}/{deviceId}/?api-version=… with the client id \"\(clientID)\" as device id")
        }
        guard cn.lowercased() == clientID.lowercased() else {
            return refuse(.notAuthorized, "client id \"\(clientID)\" is not the certificate's CN \"\(cn)\"")
        }
        if let old = devices[clientID] {
            log("\(old.peer) \(clientID) replaced by a new connection from \(connection.peer): closing the old one (one connection per device)")
            old.drop(self, reason: "another connection for the same device")
        }
        client.role = .device(clientID)
        client.modelID = query["model-id"]
        devices[clientID] = connection
        lastActivity[clientID] = WallClock.timestamp()
        do throws(StandInError) { _ = try twins.twin(clientID, now: WallClock.timestamp()) } catch { log("twin store: \(error.description)") }
        connection.send(.connack(MQTTConnAck(sessionPresent: false, returnCode: .accepted)))
        log("\(connection.peer) \(clientID) CONNECT cert CN=\(cn) issuer \"\(connection.peerIssuer)\"\(client.modelID.map { " model \($0)" } ?? "") -> CONNACK 0")
    }

    // MARK: SUBSCRIBE

    private func kind(of filter: String, for client: Client) -> Subscription? {
        switch client.role {
        case .device(let id):
            switch filter {
            case "devices/\(id)/messages/devicebound/#": return .cloudToDevice
            case "$iothub/twin/res/#": return .twinResponses
            case "$iothub/twin/PATCH/properties/desired/#": return .desiredPatches
            case "$iothub/methods/POST/#": return .methods
            default: return nil
            }
        case .service:
            switch filter {
            case "devices/+/messages/events/#": return .telemetry
            case "$service/res/#": return .serviceResponses
            default: return nil
            }
        case .unknown:
            return nil
        }
    }

    private func handleSubscribe(_ subscribe: MQTTSubscribe, client: Client, on connection: ServerConnection) {
        var codes: [UInt8] = []
        var filters: [String] = []
        subscribe.subscriptions.forEach { subscription in
            let filter = subscription.filter.text
            filters.append(filter)
            if let kind = kind(of: filter, for: client) {
                client.subscriptions.insert(kind)
                codes.append(min(subscription.qos.rawValue, 1))
            } else {
                codes.append(0x80)
            }
        }
        codes.withUnsafeBytes { raw in
            connection.send(.suback(MQTTSubAck(packetID: subscribe.packetID, returnCodes: ByteView(raw))))
        }
        log("\(connection.peer) \(client.name) SUBSCRIBE \(filters.joined(separator: " ")) -> SUBACK \(codes.map { $0 == 0x80 ? "0x80 (not offered to this identity)" : String($0) }.joined(separator: " "))")
        if case .device(let id) = client.role, client.subscriptions.contains(.cloudToDevice) { deliverCloudToDevice(id) }
    }

    // MARK: From devices

    private func handleDevicePublish(topic: String, payload: [UInt8], deviceID: String, client: Client, on connection: ServerConnection) {
        lastActivity[deviceID] = WallClock.timestamp()
        let (path, query) = DPSEmulator.splitTopic(topic)
        let who = "\(connection.peer) \(deviceID)"
        if topic.hasPrefix("devices/") {
            guard topic.hasPrefix("devices/\(deviceID)/messages/events/") else {
                log("\(who) PUBLISH \(topic) -> connection closed (a device may only send its own telemetry, devices/\(deviceID)/messages/events/)")
                return connection.drop(self, reason: "not authorized")
            }
            for service in services where (service.context as? Client)?.subscriptions.contains(.telemetry) == true {
                send(topic: topic, payload: payload, qos: .atMostOnce, on: service)
            }
            log("\(who) TELEMETRY \(payload.count) bytes \(String(decoding: payload.prefix(200), as: UTF8.self))")
            return
        }
        if path == "$iothub/twin/GET/", let rid = query["$rid"] {
            let twin: TwinRecord
            do throws(StandInError) { twin = try twins.twin(deviceID, now: WallClock.timestamp()) } catch {
                return twinResponse(500, rid: rid, body: Self.errorBody(500001, error.description), client: client, on: connection, log: "\(who) TWIN GET $rid=\(rid) -> 500 (\(error.description))")
            }
            return twinResponse(200, rid: rid, body: twin.deviceView, client: client, on: connection,
                                log: "\(who) TWIN GET $rid=\(rid) -> 200 desired v\(twin.desired.version) reported v\(twin.reported.version)")
        }
        if path == "$iothub/twin/PATCH/properties/reported/", let rid = query["$rid"] {
            switch applyPatch(payload, to: \.reported, of: deviceID, what: "reported") {
            case .failure(let refusal):
                return twinResponse(refusal.status, rid: rid, body: Self.errorBody(refusal.code, refusal.message), client: client, on: connection,
                                    log: "\(who) TWIN PATCH reported $rid=\(rid) -> \(refusal.status) (\(refusal.message))")
            case .success(let (twin, members)):
                return twinResponse(204, rid: rid, version: twin.reported.version, body: nil, client: client, on: connection,
                                    log: "\(who) TWIN PATCH reported $rid=\(rid) \(JSONValue.object(members).compactText) -> 204 reported v\(twin.reported.version)")
            }
        }
        if path.hasPrefix("$iothub/methods/res/"), let rid = query["$rid"] {
            let status = String(path.dropFirst("$iothub/methods/res/".count).dropLast(path.hasSuffix("/") ? 1 : 0))
            guard let pending = pendingMethods[rid], pending.deviceID == deviceID else {
                log("\(who) METHOD RESPONSE $rid=\(rid) status \(status) -> ignored (no call waits for it: answered too late, or never asked)")
                return
            }
            pendingMethods[rid] = nil
            guard let code = Int(status) else {
                respondToService(502, requestID: pending.serviceRequestID, body: Self.errorBody(502001, "Device \(deviceID) answered method \(pending.method) with the status \"\(status)\", not a number."), on: pending.service)
                log("\(who) METHOD RESPONSE \(pending.method) $rid=\(rid) -> status \"\(status)\" is not a number: 502 to the caller")
                return
            }
            let result: JSONValue
            if payload.isEmpty {
                result = .null
            } else {
                switch Self.parseJSON(payload) {
                case .success(let value): result = value
                case .failure(let problem):
                    respondToService(502, requestID: pending.serviceRequestID, body: Self.errorBody(502002, "Device \(deviceID) answered method \(pending.method) with a payload that is not JSON: \(problem)."), on: pending.service)
                    log("\(who) METHOD RESPONSE \(pending.method) $rid=\(rid) -> payload is not JSON (\(problem)): 502 to the caller")
                    return
                }
            }
            respondToService(200, requestID: pending.serviceRequestID, body: .object([JSONMember("status", .int(code)), JSONMember("payload", result)]), on: pending.service)
            log("\(who) METHOD RESPONSE \(pending.method) $rid=\(rid) -> status \(code) payload \(result.compactText)")
            return
        }
        log("\(who) PUBLISH \(topic) -> connection closed (not an IoT Hub device topic)")
        connection.drop(self, reason: "publish to an unknown topic")
    }

    private func twinResponse(_ status: Int, rid: String, version: Int? = nil, body: JSONValue?, client: Client, on connection: ServerConnection, log line: String) {
        guard client.subscriptions.contains(.twinResponses) else {
            log(line + " (not sent: the device has not subscribed to $iothub/twin/res/#)")
            return
        }
        var topic = "$iothub/twin/res/\(status)/?$rid=\(rid)"
        if let version { topic += "&$version=\(version)" }
        send(topic: topic, payload: body.map { Array($0.compactText.utf8) } ?? [], qos: .atMostOnce, on: connection)
        log(line)
    }

    // MARK: From the service

    private func handleServicePublish(topic: String, payload: [UInt8], client: Client, on connection: ServerConnection) {
        let (path, query) = DPSEmulator.splitTopic(topic)
        let who = "\(connection.peer) service"
        guard let rid = query["$rid"] else {
            log("\(who) PUBLISH \(topic) -> ignored (no $rid)")
            return
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        // $service/{area}/{verb or device}/…/
        guard parts.count >= 4, parts[0] == "$service" else {
            respondToService(400, requestID: rid, body: Self.errorBody(400000, "Unknown service request \(path)."), on: connection)
            return log("\(who) \(topic) -> 400 unknown request")
        }
        switch (parts[1], parts[2]) {
        case ("methods", "POST") where parts.count >= 6:
            invoke(deviceID: parts[3], method: parts[4], timeout: query["timeout"], payload: payload, rid: rid, on: connection)
        case ("twin", "GET"):
            let deviceID = parts[3]
            guard let twin = twins[deviceID] else { return deviceNotFound(deviceID, rid: rid, on: connection, what: "TWIN SHOW") }
            respondToService(200, requestID: rid, body: serviceView(deviceID, twin), on: connection)
            log("\(who) TWIN SHOW \(deviceID) -> 200")
        case ("twin", "PATCH"):
            updateDesired(deviceID: parts[3], payload: payload, rid: rid, on: connection)
        case ("c2d", _):
            sendCloudToDevice(deviceID: parts[2], payload: payload, rid: rid, on: connection)
        default:
            respondToService(400, requestID: rid, body: Self.errorBody(400000, "Unknown service request \(path)."), on: connection)
            log("\(who) \(topic) -> 400 unknown request")
        }
    }

    private func serviceView(_ deviceID: String, _ twin: TwinRecord) -> JSONValue {
        let device = devices[deviceID].flatMap { $0.context as? Client }
        return twin.serviceView(
            deviceID: deviceID, connected: device != nil, lastActivity: lastActivity[deviceID], modelID: device?.modelID,
            c2dQueued: cloudToDevice[deviceID]?.count ?? 0)
    }

    private func deviceNotFound(_ deviceID: String, rid: String, on connection: ServerConnection, what: String) {
        respondToService(404, requestID: rid, body: Self.errorBody(404001, "Device \(deviceID) is not known to this hub: it has never connected."), on: connection)
        log("\(connection.peer) service \(what) \(deviceID) -> 404 (never connected)")
    }

    private func invoke(deviceID: String, method: String, timeout: String?, payload: [UInt8], rid: String, on connection: ServerConnection) {
        let who = "\(connection.peer) service INVOKE \(deviceID) \(method)"
        let seconds = timeout.flatMap(Int.init) ?? 30
        guard Self.methodTimeoutRange.contains(seconds) else {
            respondToService(400, requestID: rid, body: Self.errorBody(400027, "The method timeout \(timeout ?? "") is not a number of seconds from 5 to 300."), on: connection)
            return log("\(who) -> 400 (timeout \(timeout ?? "") out of 5-300 s)")
        }
        guard let device = devices[deviceID], let client = device.context as? Client, client.subscriptions.contains(.methods) else {
            let why = devices[deviceID] == nil ? "is not connected" : "has not subscribed to $iothub/methods/POST/#"
            respondToService(404, requestID: rid, body: Self.errorBody(404103, "Device \(deviceID) \(why): it cannot take direct methods now."), on: connection)
            return log("\(who) -> 404 (the device \(why))")
        }
        let hubRID = String(nextMethodRequest, radix: 16)
        nextMethodRequest += 1
        pendingMethods[hubRID] = PendingMethod(
            service: connection, serviceRequestID: rid, deviceID: deviceID, method: method, deadline: clock.now() + .seconds(Int32(clamping: seconds)))
        send(topic: "$iothub/methods/POST/\(method)/?$rid=\(hubRID)", payload: payload.isEmpty ? Array("null".utf8) : payload, qos: .atMostOnce, on: device)
        log("\(who) -> sent to the device as $rid=\(hubRID), timeout \(seconds) s, payload \(String(decoding: payload, as: UTF8.self))")
    }

    private func updateDesired(deviceID: String, payload: [UInt8], rid: String, on connection: ServerConnection) {
        let who = "\(connection.peer) service TWIN UPDATE \(deviceID)"
        guard twins[deviceID] != nil else { return deviceNotFound(deviceID, rid: rid, on: connection, what: "TWIN UPDATE") }
        let twin: TwinRecord
        let members: [JSONMember]
        switch applyPatch(payload, to: \.desired, of: deviceID, what: "desired") {
        case .failure(let refusal):
            respondToService(refusal.status, requestID: rid, body: Self.errorBody(refusal.code, refusal.message), on: connection)
            return log("\(who) -> \(refusal.status) (\(refusal.message))")
        case .success(let result):
            (twin, members) = result
        }
        respondToService(200, requestID: rid, body: serviceView(deviceID, twin), on: connection)
        let version = twin.desired.version
        if let device = devices[deviceID], (device.context as? Client)?.subscriptions.contains(.desiredPatches) == true {
            let body = JSONValue.object(members + [JSONMember("$version", .int(version))])
            send(topic: "$iothub/twin/PATCH/properties/desired/?$version=\(version)", payload: Array(body.compactText.utf8), qos: .atMostOnce, on: device)
            log("\(who) \(JSONValue.object(members).compactText) -> desired v\(version), pushed to the device")
        } else {
            log("\(who) \(JSONValue.object(members).compactText) -> desired v\(version) (the device is not listening: it reads it with its next GET)")
        }
    }

    /// Why a patch was not applied: the status, IoT Hub's error code and the words.
    struct PatchRefusal: Error {
        var status: Int
        var code: Int
        var message: String
    }

    /// Parses `payload` as a patch of `side` (`what`: "reported" or "desired"), checks it as
    /// IoT Hub does, merges it into the twin of `deviceID` and saves the store.
    private func applyPatch(
        _ payload: [UInt8], to side: WritableKeyPath<TwinRecord, TwinRecord.Properties>, of deviceID: String, what: String
    ) -> Result<(twin: TwinRecord, members: [JSONMember]), PatchRefusal> {
        let patch: JSONValue
        switch Self.parseJSON(payload) {
        case .failure(let problem): return .failure(PatchRefusal(status: 400, code: 400004, message: "The \(what) patch is not valid JSON: \(problem)."))
        case .success(let value): patch = value
        }
        if let problem = TwinRecord.problem(with: patch) {
            return .failure(PatchRefusal(status: 400, code: 400004, message: "The \(what) patch cannot be applied: \(problem)."))
        }
        guard case .object(let members) = patch else { return .failure(PatchRefusal(status: 400, code: 400004, message: "The \(what) patch is not an object.")) }
        do throws(StandInError) {
            let twin = try twins.update(deviceID, now: WallClock.timestamp()) { twin in
                twin[keyPath: side].apply(members, at: WallClock.timestamp())
                twin.version += 1
            }
            return .success((twin, members))
        } catch {
            return .failure(PatchRefusal(status: 500, code: 500001, message: error.description))
        }
    }

    private func sendCloudToDevice(deviceID: String, payload: [UInt8], rid: String, on connection: ServerConnection) {
        let who = "\(connection.peer) service C2D \(deviceID)"
        guard twins[deviceID] != nil else { return deviceNotFound(deviceID, rid: rid, on: connection, what: "C2D") }
        // {"data": "…", "properties": {"k": "v", …}}
        guard case .success(let request) = Self.parseJSON(payload), case .string(let data)? = request["data"] else {
            respondToService(400, requestID: rid, body: Self.errorBody(400004, "A C2D request is {\"data\": \"…\", \"properties\": {…}}."), on: connection)
            return log("\(who) -> 400 (malformed request)")
        }
        var properties: [(String, String)] = [("$.mid", RandomIdentifiers.uuid())]
        if case .object(let members)? = request["properties"] {
            for member in members {
                guard case .string(let value) = member.value else {
                    respondToService(400, requestID: rid, body: Self.errorBody(400004, "C2D property \(member.key) is \(member.value.kindName), not a string."), on: connection)
                    return log("\(who) -> 400 (property \(member.key) is not a string)")
                }
                properties.append((member.key, value))
            }
        }
        var queue = cloudToDevice[deviceID] ?? []
        guard queue.count < Self.cloudToDeviceQueueLimit else {
            respondToService(403, requestID: rid, body: Self.errorBody(403004, "Device \(deviceID) already has \(Self.cloudToDeviceQueueLimit) C2D messages waiting."), on: connection)
            return log("\(who) -> 403 (queue full)")
        }
        // System keys ($.mid) as IoT Hub writes them, application keys and every value encoded.
        let bag = properties.map { "\($0.0.hasPrefix("$.") ? $0.0 : Self.percentEncoded($0.0))=\(Self.percentEncoded($0.1))" }.joined(separator: "&")
        queue.append(CloudToDeviceMessage(properties: bag, body: Array(data.utf8)))
        cloudToDevice[deviceID] = queue
        respondToService(200, requestID: rid, body: .object([JSONMember("messageId", .string(properties[0].1)), JSONMember("queued", .int(queue.count))]), on: connection)
        log("\(who) \(data.utf8.count) bytes, properties \(bag) -> queued")
        deliverCloudToDevice(deviceID)
    }

    private func deliverCloudToDevice(_ deviceID: String) {
        guard let device = devices[deviceID], let client = device.context as? Client, client.subscriptions.contains(.cloudToDevice),
              let queue = cloudToDevice[deviceID], !queue.isEmpty else { return }
        cloudToDevice[deviceID] = nil
        for message in queue {
            let topic = "devices/\(deviceID)/messages/devicebound/\(message.properties)"
            send(topic: topic, payload: message.body, qos: .atLeastOnce, on: device)
            log("\(device.peer) \(deviceID) C2D delivered: \(topic)")
        }
    }

    // MARK: Sending

    private func send(topic: String, payload: [UInt8], qos: QoS, on connection: ServerConnection) {
        guard let client = connection.context as? Client else { return }
        let topicBytes = Array(topic.utf8)
        let packetID = qos == .atMostOnce ? 0 : client.nextPacketID()
        topicBytes.withUnsafeBytes { t in
            payload.withUnsafeBytes { p in
                connection.send(.publish(MQTTPublish(topic: ByteView(t), payload: ByteView(p), qos: qos, packetID: packetID)))
            }
        }
    }

    private func respondToService(_ status: Int, requestID: String, body: JSONValue, on connection: ServerConnection) {
        send(topic: "$service/res/\(status)/?$rid=\(requestID)", payload: Array(body.compactText.utf8), qos: .atMostOnce, on: connection)
    }

    static func errorBody(_ code: Int, _ message: String) -> JSONValue {
        .object([
            JSONMember("errorCode", .int(code)), JSONMember("trackingId", .string(RandomIdentifiers.uuid())),
            JSONMember("message", .string(message)), JSONMember("timestampUtc", .string(WallClock.timestamp())),
        ])
    }

    static func parseJSON(_ bytes: [UInt8]) -> Result<JSONValue, JSONSyntaxError> {
        guard let text = String(validating: bytes, as: UTF8.self) else { return .failure(JSONSyntaxError(offset: 0, message: "not UTF-8")) }
        do throws(JSONSyntaxError) { return .success(try JSONParser.parse(text)) } catch { return .failure(error) }
    }

    /// `text` percent-encoded as a property-bag key or value (DeviceCore's `PercentEncoding`).
    static func percentEncoded(_ text: String) -> String {
        Array(text.utf8).withUnsafeBytes { raw in
            withUnsafeTemporaryAllocation(byteCount: raw.count * 3, alignment: 1) { buffer in
                var writer = TextWriter(into: buffer)
                PercentEncoding.encode(ByteView(raw), into: &writer)
                return writer.written.text
            }
        }
    }
}

extension JSONSyntaxError: CustomStringConvertible {
    public var description: String { "\(message) at byte \(offset)" }
}
