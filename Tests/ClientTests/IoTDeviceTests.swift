import DeviceCore
import Testing

/// The front door over the scripted peer: one memory region, one transport, the whole job.
@Suite("IoTDevice: the front door")
struct IoTDeviceTests {
    typealias Device = IoTDevice<ScriptedTransport, VirtualClock, RecordingObserver>

    @Test func requiredBytesIsTheSumOfTheLimitsRoundedTo8() {
        let entry = MemoryLayout<MQTTInflightEntry>.stride, subscription = MemoryLayout<MQTTSubscription>.stride
        let round8 = { (n: Int) in (n + 7) / 8 * 8 }
        // The client and the registration, then 768 + 384 + 512 + 2 entries + 1 subscription +
        // 192 + 256 + 384 + 128 + 256, and 7 for the start.
        let state = round8(round8(MemoryLayout<MQTTClient<ScriptedTransport, VirtualClock>>.stride) + MemoryLayout<DPSRegistration>.stride)
        #expect(Device.requiredBytes() == 7 + state + 768 + 384 + 512 + round8(2 * entry) + round8(subscription) + 192 + 256 + 384 + 128 + 256)
        var odd = DeviceLimits()
        odd.receive = 1
        #expect(Device.requiredBytes(odd) == Device.requiredBytes() - 768 + 8)
        var absurd = DeviceLimits()
        absurd.window = Int.max
        #expect(Device.requiredBytes(absurd) == Int.max)
        absurd = DeviceLimits()
        absurd.body = -1
        #expect(Device.requiredBytes(absurd) == Int.max)
    }

    @Test func provisionsThenSendsWithOneTransportAndOneRegion() throws {
        let time = VirtualTime()
        let peer = ScriptedPeer(time: time)
        // Start one byte past an 8-byte boundary: the region's own alignment must not matter.
        let base = UnsafeMutableRawBufferPointer.allocate(byteCount: Device.requiredBytes() + 1, alignment: 8)
        defer { base.deallocate() }
        let shifted = UnsafeMutableRawBufferPointer(rebasing: base[1...])
        var device = try Device(
            idScope: view("0ne00000A0A"), registrationID: view("device1"),
            transport: ScriptedTransport(peer: peer), clock: VirtualClock(time: time), memory: shifted,
            observer: RecordingObserver())
        let outcome = try device.run(messages: 2, interval: .seconds(1)) { (index, buffer) throws(JSONWriteError) -> ByteView? in
            var json = JSONWriter(into: buffer)
            json.beginObject()
            json.key("n")
            json.integer(index)
            json.endObject()
            return try json.finish()
        }
        #expect(outcome.summary == "assigned hub=contoso.azure-devices.net device=device1 substatus=initialAssignment payload=-")
        #expect(peer.endpoints == ["global.azure-devices-provisioning.net:8883", "contoso.azure-devices.net:8883"])
        let events = "devices/device1/messages/events/$.ct=application%2Fjson&$.ce=utf-8"
        #expect(peer.received == scriptedDPSTranscript + [
            "CONNECT device1 contoso.azure-devices.net/device1/?api-version=2021-04-12",
            "PUBLISH \(events)",
            "PUBLISH \(events)",
            "DISCONNECT",
        ])
        #expect(device.flow.observer.log == [
            "connecting 1", "connected sp=false", "dps 202 assigning next in 3000 ms", "disconnected",
            "assigned hub=contoso.azure-devices.net device=device1 substatus=initialAssignment payload=-",
            "connecting 1", "connected sp=false", #"sent 1 id 1 {"n":1}"#, "acked 1", #"sent 2 id 2 {"n":2}"#, "acked 2",
            "disconnected",
        ])
    }

    /// `timeout` is on top of the messages' schedule: three messages 5 s apart take 10 s, longer
    /// than a 2 s timeout, and are all sent and acknowledged.
    @Test func theTimeoutIsOnTopOfTheMessagesSchedule() throws {
        let time = VirtualTime()
        let peer = ScriptedPeer(time: time)
        let region = UnsafeMutableRawBufferPointer.allocate(byteCount: Device.requiredBytes(), alignment: 8)
        defer { region.deallocate() }
        var device = try Device(
            idScope: view("0ne00000A0A"), registrationID: view("device1"),
            transport: ScriptedTransport(peer: peer), clock: VirtualClock(time: time), memory: region,
            observer: RecordingObserver())
        try device.run(messages: 3, interval: .seconds(5), timeout: .seconds(2)) { (_, buffer) throws(JSONWriteError) -> ByteView? in
            var json = JSONWriter(into: buffer)
            json.beginObject()
            json.endObject()
            return try json.finish()
        }
        #expect(Array(device.flow.observer.log.suffix(7)) == [
            "sent 1 id 1 {}", "acked 1", "sent 2 id 2 {}", "acked 2", "sent 3 id 3 {}", "acked 3", "disconnected",
        ])
    }

    @Test func theTelemetryTimeLimitCoversEveryMessageTheStayAndTheTimeout() {
        let limit = { (messages: Int, interval: DeviceDuration, stay: DeviceDuration?) in
            DeviceDuration.telemetryTimeLimit(messages: messages, interval: interval, timeout: .seconds(120), stayConnected: stay)
        }
        #expect(limit(3, .seconds(5), .zero) == .seconds(135))
        #expect(limit(0, .seconds(5), .seconds(60)) == .seconds(185))
        #expect(limit(3, .seconds(5), nil) == nil)
        // A negative interval sends at once: the schedule takes no time, not less than none.
        #expect(limit(3, .seconds(-5), .zero) == .seconds(120))
        // 24.8 days is the farthest a deadline can be: longer steps have none.
        #expect(limit(1, .milliseconds(Int32.max - 120_001), .zero) == .milliseconds(Int32.max - 1))
        #expect(limit(1, .milliseconds(Int32.max - 120_000), .zero) == nil)
        #expect(limit(Int.max, .seconds(1), .zero) == nil)
        #expect(limit(3, .seconds(5), .maximum) == nil)
    }

    /// The client (with the transport) lives in the region; ending the device deinitialises it.
    @Test func endingTheDeviceReleasesItsTransport() throws {
        let time = VirtualTime()
        let region = UnsafeMutableRawBufferPointer.allocate(byteCount: Device.requiredBytes(), alignment: 8)
        defer { region.deallocate() }
        weak var released: ScriptedPeer?
        do {
            let peer = ScriptedPeer(time: time)
            released = peer
            let device = try Device(
                idScope: view("0ne00000A0A"), registrationID: view("device1"),
                transport: ScriptedTransport(peer: peer), clock: VirtualClock(time: time), memory: region,
                observer: RecordingObserver())
            #expect(device.transport.peer === peer)
        }
        #expect(released == nil)
    }

    @Test func aRegionOneByteShortIsRefusedWithTheSizes() {
        let time = VirtualTime()
        let needed = Device.requiredBytes()
        let region = UnsafeMutableRawBufferPointer.allocate(byteCount: needed - 1, alignment: 8)
        defer { region.deallocate() }
        do {
            _ = try Device(
                idScope: view("0ne00000A0A"), registrationID: view("device1"),
                transport: ScriptedTransport(peer: ScriptedPeer(time: time)), clock: VirtualClock(time: time), memory: region,
                observer: RecordingObserver())
            Issue.record("a region of \(needed - 1) bytes was accepted")
        } catch {
            guard case .bufferTooSmall(let tooSmall) = error else { Issue.record("\(error)"); return }
            #expect(tooSmall == BufferTooSmall(needed: needed, capacity: needed - 1))
        }
    }

    /// A device over a scripted peer with `limits`, in a region of exactly the size they need.
    func withDevice(_ limits: DeviceLimits, _ body: (inout Device, ScriptedPeer, VirtualTime) throws -> Void) throws {
        let time = VirtualTime()
        let peer = ScriptedPeer(time: time)
        let region = UnsafeMutableRawBufferPointer.allocate(byteCount: Device.requiredBytes(limits), alignment: 8)
        defer { region.deallocate() }
        var device = try Device(
            idScope: view("0ne00000A0A"), registrationID: view("device1"),
            transport: ScriptedTransport(peer: peer), clock: VirtualClock(time: time), memory: region, limits: limits,
            observer: RecordingObserver())
        try body(&device, peer, time)
    }

    /// A message larger than the whole outbox can never be queued: the step fails at once with
    /// the sizes, instead of waiting for acknowledgements until its deadline.
    @Test func aMessageLargerThanTheOutboxFailsAtOnceWithTheSizes() throws {
        var limits = DeviceLimits()
        limits.outbox = 128
        try withDevice(limits) { device, peer, time in
            let started = time.now
            do throws(DeviceFlowFailure<ScriptedFailure>) {
                _ = try device.run(messages: 1, interval: .seconds(1)) { (_, buffer) throws(JSONWriteError) -> ByteView? in
                    var json = JSONWriter(into: buffer)
                    json.beginObject()
                    json.key("s")
                    json.string(view("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"))
                    json.endObject()
                    return try json.finish()
                }
                Issue.record("a 181-byte PUBLISH was queued in a 128-byte outbox")
            } catch {
                // 3 bytes of fixed header, 2 + 66 of topic, 2 of packet id, 108 of body.
                guard case .session(.bufferTooSmall(let tooSmall)) = error else { Issue.record("\(error)"); return }
                #expect(tooSmall == BufferTooSmall(needed: 181, capacity: 128))
            }
            #expect(peer.received.last == "DISCONNECT")
            #expect(!peer.received.contains { $0.hasPrefix("PUBLISH devices/") })
            #expect((time.now - started).milliseconds < 10_000, "failed after \((time.now - started).milliseconds) ms, not at once")
        }
    }

    @Test func aConnectTextTooSmallForTheUserNameStopsBeforeAnyTraffic() throws {
        var limits = DeviceLimits()
        limits.connectText = 16
        try withDevice(limits) { device, peer, _ in
            do throws(DeviceFlowFailure<ScriptedFailure>) {
                _ = try device.provision()
                Issue.record("a 16-byte connect-text buffer held the DPS user name")
            } catch {
                guard case .bufferTooSmall(let tooSmall) = error else { Issue.record("\(error)"); return }
                #expect(tooSmall == BufferTooSmall(needed: 56, capacity: 16), "0ne00000A0A/registrations/device1/api-version=2019-03-31")
            }
            #expect(peer.received.isEmpty)
        }
    }
}
