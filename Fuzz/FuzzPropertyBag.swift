// Target `property-bag`: PropertyBagReader over the input, each key and value percent-decoded
// into a small buffer; PercentEncoding.decode on the whole input too, in place and round trip.
//
// Input: byte 0 is the decode buffer size; the rest is the bag.

func fuzzPropertyBag(_ data: ByteView) {
    var input = FuzzInput(data)
    let capacity = Int(input.byte() & 0x3F)
    let bag = FuzzBuffer(copying: input.rest)
    let small = FuzzBuffer(count: capacity)

    var reader = PropertyBagReader(bag.view)
    var pairs = 0
    while true {
        let pair: (key: ByteView, value: ByteView)?
        do throws(PropertyBagError) { pair = try reader.next() } catch {
            fuzzCheck(error.offset >= 0 && error.offset < bag.raw.count, "error offset \(error.offset)")
            break
        }
        guard let pair else { break }
        pairs += 1
        fuzzCheck(!pair.key.isEmpty, "empty key handed out")
        // The reader checked the escapes, so decoding can only run out of room.
        checkDecodes(pair.key, small: small, isKey: true)
        checkDecodes(pair.value, small: small, isKey: false)
        if PercentEncoding.decodedEquals(pair.key, "$rid") {
            do throws(PropertyBagError) {
                let found = try reader.value(forKey: "$rid")
                fuzzCheck(found != nil, "value(forKey:) misses a key next() found")
            } catch { finding("value(forKey:) threw after next() read past the same pairs: \(error)") }
        }
    }
    fuzzCheck(pairs <= bag.raw.count, "more pairs than bytes")
    checkCloudToDeviceTopic(bag.view)
    do throws(PropertyBagError) { _ = try reader.value(forKey: "retry-after") } catch {}

    // The whole input as one percent-encoded text.
    let whole = FuzzBuffer(count: bag.raw.count)
    do throws(PercentDecodingError) {
        let decoded = try PercentEncoding.decode(bag.view, into: whole.raw)
        fuzzCheck(PercentEncoding.decodedEquals(bag.view, decoded), "decodedEquals disagrees with decode")
        let inPlace = FuzzBuffer(copying: bag.view)
        do throws(PercentDecodingError) {
            let again = try PercentEncoding.decode(inPlace.view, into: inPlace.raw)
            fuzzCheck(again == decoded, "in-place decode differs")
        } catch { finding("in-place decode threw \(error)") }
        roundTrip(decoded)
    } catch {
        switch error {
        case .invalidEscape(let at), .truncatedEscape(let at):
            fuzzCheck(at >= 0 && at < bag.raw.count && bag.view[at] == UInt8(ascii: "%"), "escape error not at a %")
        case .bufferTooSmall:
            finding("an exact-size buffer was too small")
        }
    }
}

/// Behind a cloud-to-device topic's prefix, the bag is found whole, whatever bytes it holds.
private func checkCloudToDeviceTopic(_ bag: ByteView) {
    let prefix = ByteView("devices/d1/messages/devicebound/")
    let topic = FuzzBuffer(count: prefix.count + bag.count)
    prefix.copyBytes(to: topic.raw.baseAddress!)
    bag.copyBytes(to: topic.raw.baseAddress! + prefix.count)
    let found = PropertyBagReader.bag(inTopic: topic.view)
    fuzzCheck(found == bag, "the bag of a cloud-to-device topic is \(found.map(hexString) ?? "nil"), not \(hexString(bag))")
    fuzzCheck(IoTHubTopics.cloudToDeviceProperties(topic: topic.view, deviceID: ByteView("d1")) == bag,
              "cloudToDeviceProperties disagrees with bag(inTopic:)")
}

private func checkDecodes(_ text: ByteView, small: FuzzBuffer, isKey: Bool) {
    do throws(PercentDecodingError) {
        let decoded = try PercentEncoding.decode(text, into: small.raw)
        fuzzCheck(PercentEncoding.decodedEquals(text, decoded), "decodedEquals(\(hexString(text)), decoded) is false")
        roundTrip(decoded)
    } catch {
        guard case .bufferTooSmall(let tooSmall) = error, tooSmall.capacity == small.raw.count, tooSmall.needed > tooSmall.capacity,
              tooSmall.needed <= text.count else {
            finding("decoding a checked \(isKey ? "key" : "value") \(hexString(text)) threw \(error)")
        }
    }
}

/// Encoding then decoding gives the bytes back.
private func roundTrip(_ decoded: ByteView) {
    let encoded = FuzzBuffer(count: decoded.count * 3)
    var writer = TextWriter(into: encoded.raw)
    PercentEncoding.encode(decoded, into: &writer)
    do throws(BufferTooSmall) {
        let text = try writer.finish()
        let back = FuzzBuffer(count: decoded.count)
        do throws(PercentDecodingError) {
            let again = try PercentEncoding.decode(text, into: back.raw)
            fuzzCheck(again == decoded, "percent round trip differs")
        } catch { finding("encoded text does not decode: \(error)") }
        // A bag written with the writer reads back as the one pair.
        if !decoded.isEmpty {
            let bagBuffer = FuzzBuffer(count: decoded.count * 6 + 1)
            var bagWriter = PropertyBagWriter(into: bagBuffer.raw)
            bagWriter.add(key: decoded, value: decoded)
            let written: ByteView
            do throws(BufferTooSmall) { written = try bagWriter.finish() } catch { finding("bag writer overflow") }
            var reader = PropertyBagReader(written)
            do throws(PropertyBagError) {
                guard let pair = try reader.next() else { finding("written bag has no pair") }
                fuzzCheck(PercentEncoding.decodedEquals(pair.key, decoded) && PercentEncoding.decodedEquals(pair.value, decoded),
                          "written bag reads back differently: \(hexString(written))")
                let second = try reader.next()
                fuzzCheck(second == nil, "written bag has a second pair")
            } catch { finding("written bag does not read: \(error) \(hexString(written))") }
        }
    } catch { finding("encode overflowed 3x buffer") }
}
