import DeviceCore

/// IoT Plug and Play's conventions over DPS and the twin (`azure-iot-mqtt.md` §2): the model id
/// announced at registration, components, and writable-property acknowledgements. Commands are
/// direct methods (`DirectMethodRequest.component` and `.command`); the model id in the hub's
/// user name is `IoTHubConfiguration.modelID`.
///
/// A firmware that does not use Plug and Play links none of this.
public enum PlugAndPlay {
    /// `{"modelId":"{dtmi}"}`: pass it as `DPSConfiguration.customPayload`, which DPS expects to
    /// hold the model id (a top-level `modelId` is refused with 400012).
    public static func registrationPayload(modelID: ByteView, into json: inout JSONWriter) {
        json.beginObject()
        json.key("modelId")
        json.string(modelID)
        json.endObject()
    }

    /// Opens component `name` inside a reported patch: `"name":{"__t":"c"`. Write its
    /// properties, then `json.endObject()`.
    public static func beginComponent(_ name: ByteView, into json: inout JSONWriter) {
        json.key(name)
        json.beginObject()
        json.key("__t")
        json.string("c")
    }

    /// The acknowledgement of writable property `name` inside a reported patch (or component):
    /// `"name":{"value":{value},"ac":{status},"av":{version},"ad":"{description}"}` — `value`
    /// as raw JSON (the value now in effect), `status` HTTP-like (200 applied, 202 in
    /// progress, 400 refused), `version` the desired `$version` it answers.
    public static func acknowledgement(
        _ name: ByteView, value: ByteView, status: Int, version: Int64, description: ByteView? = nil, into json: inout JSONWriter
    ) {
        json.key(name)
        json.beginObject()
        json.key("value")
        json.raw(value)
        json.key("ac")
        json.integer(status)
        json.key("av")
        json.integer(version)
        if let description {
            json.key("ad")
            json.string(description)
        }
        json.endObject()
    }
}
