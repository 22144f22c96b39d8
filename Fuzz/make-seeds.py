#!/usr/bin/env python3
"""Regenerates the committed seed corpora under Fuzz/corpus/<target>/ from the MQTT test
fixtures (Tests/MQTTCodecTests/Fixtures/*.json) and the hand-made DPS topics, JSON bodies,
property bags, base64 texts, twin and method topics, twin bodies and twin scripts below. Deterministic: the same inputs give the same files.

Each target's input layout (its leading control bytes) is documented in its Fuzz/Fuzz*.swift file.
Usage: Fuzz/make-seeds.py   (from anywhere; rewrites Fuzz/corpus/ completely)
"""
import hashlib
import json
import shutil
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests" / "MQTTCodecTests" / "Fixtures"
CORPUS = ROOT / "Fuzz" / "corpus"


def packets(direction=None):
    """(name, bytes) of every packet vector in the fixtures (not the bare remaining-length ones)."""
    out = []
    for fixture in sorted(FIXTURES.glob("*.json")):
        for v in json.loads(fixture.read_text())["vectors"]:
            if v.get("direction") == "encoding" or "hex" not in v:
                continue
            if direction and v["direction"] != direction:
                continue
            out.append((v["name"], bytes.fromhex(v["hex"])))
    return out


def publish(topic: bytes, payload: bytes, qos=0, pid=1, dup=False, retain=False) -> bytes:
    body = struct.pack(">H", len(topic)) + topic + (struct.pack(">H", pid) if qos else b"") + payload
    return bytes([0x30 | (0x08 if dup else 0) | qos << 1 | (1 if retain else 0)]) + varint(len(body)) + body


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        digit, n = n & 0x7F, n >> 7
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


ASSIGNED = (b'{"operationId":"4.abc","status":"assigned","registrationState":{"x509":{},'
            b'"registrationId":"device1","createdDateTimeUtc":"2025-05-22T08:06:58.2Z",'
            b'"assignedHub":"contoso.azure-devices.net","deviceId":"device1","status":"assigned",'
            b'"substatus":"initialAssignment","lastUpdatedDateTimeUtc":"2025-05-22T08:06:58.5Z",'
            b'"etag":"IjAwMDAi","payload":{"config":[1,2,{"k":null}]}}}')
BODIES = [
    ASSIGNED,
    b'{"operationId":"4.d0a6e8f44a1c3f6b.0c2c7e0b","status":"assigning"}',
    b'{"operationId":"o","status":"failed","registrationState":{"registrationId":"device1",'
    b'"status":"failed","errorCode":400209,"errorMessage":"Custom allocation failed"}}',
    b'{"operationId":"o","status":"disabled","registrationState":{"registrationId":"device1","status":"disabled"}}',
    b'{"errorCode":401002,"trackingId":"8ad0463c-6427-4479-9dfa-3e8bb7003e9b",'
    b'"message":"The request is unauthorized.","timestampUtc":"2025-05-22T08:06:58.5Z"}',
    b'{"errorCode":429001,"trackingId":"t","message":"Operations are being throttled \\u00e9\\ud83d\\ude00"}',
    b'{"operationId":"o","status":"assigned","registrationState":{"assignedHub":"h.net","status":"assigned"}}',
    b'{"operationId":"\\"esc\\\\aped\\/\\b\\f\\n\\r\\t","status":"unassigned"}',
]
JSON_DOCS = BODIES + [
    b'[1,-0,0.5,-12.25e+3,1E-7,true,false,null,"",{},[],[[[[]]]]]',
    b'{"a":{"b":{"c":{"d":[{"e":"\\u0041\\u00df\\u6771\\ud800\\udc00"}]}}}}',
    b'  {"k" : 9223372036854775807 , "m" : -9223372036854775808, "n": 9223372036854775808}  ',
    '{"utf8":"h\u00e9llo \u6771\u4eac \U0001f600"}'.encode(),
    b'"just a string"',
    b'123',
]
TOPICS = [
    b"$dps/registrations/res/202/?$rid=1&retry-after=3",
    b"$dps/registrations/res/200/?$rid=4294967295",
    b"$dps/registrations/res/429/?retry-after=10&$rid=7",
    b"$dps/registrations/res/401/",
    b"$dps/registrations/res/500",
    b"$dps/registrations/res/200/?$rid=1&&x=%41&retry-after=0",
    b"$dps/registrations/res/200/?%24rid=1",
    b"devices/d1/messages/devicebound/%24.to=%2Fdevices%2Fd1&k=v",
    b"devices/d1/messages/devicebound/%24.to=/devices/d1/messages/devicebound&k=a/b?c=d",
]
BAGS = [
    b"$rid=1&retry-after=3",
    b"%24.to=%2Fdevices%2Fd1%2Fmessages%2Fdevicebound&%24.ct=application%2Fjson&%24.ce=utf-8&k=v",
    b"&&a&b=&=c",
    b"$.mid=abc&$.cid=%7e%7E&iothub-ack=full&x=%zz",
    b"k=%E6%9D%B1%E4%BA%AC&v=a+b%20c",
]
# dps-body: a response whose members are null (they count as absent).
NULL_BODY = (b'{"operationId":null,"status":"assigned","registrationState":{"assignedHub":"h","deviceId":"d",'
             b'"substatus":null,"errorMessage":null,"payload":null},"trackingId":null}')
# options: command lines from docs/dps-device.md, packaging/ and the tests, one field a line;
# `$NAME=value` is an environment variable.
OPTIONS = [
    ["provision", "--id-scope", "SCOPE", "--cert", "device1.pem", "--key", "device1.key"],
    ["run", "--id-scope", "0ne00XXXXXX", "--cert", "./device1.pem", "--key", "./device1.key"],
    ["run", "$PROVISIONING_IDSCOPE=0ne00XXXXXX", "$X509_CERT_FILE=./device1.pem", "$X509_KEY_FILE=./device1.key"],
    ["run", "--id-scope", "0ne00000DEMO", "--provisioning-host", "127.0.0.1", "--ca", "build/demo/certs/server-ca.pem",
     "--cert", "build/demo/certs/device1.pem", "--key", "build/demo/certs/device1.key"],
    ["run", "--messages", "forever", "--duration", "forever", "--interval", "60",
     "--body-command", "/usr/local/bin/read-sensor", "--log-format", "json",
     "$PROVISIONING_IDSCOPE=0ne00XXXXXX", "$X509_CERT_FILE=/etc/dps-device/device1.pem",
     "$X509_KEY_FILE=/etc/dps-device/device1.key", "$DPS_DEVICE_STATE=/var/lib/dps-device/assignment.json",
     "$PROVISIONING_HOST=global.azure-devices-provisioning.net", "$PROVISIONING_REGISTRATION_ID=device1"],
    ["run", "--id-scope", "0ne00000BNCH", "--provisioning-host", "127.0.0.1:8883", "--ca", "server-ca.pem",
     "--cert", "device1.pem", "--key", "device1.key", "--messages", "3", "--interval", "0"],
    ["provision", "--id-scope=0ne00000A0A", "--cert=device1.pem", "--key=device1.key", "--state",
     "/var/lib/dps-device/assignment.json", "--payload", '{"modelId":"dtmi:com:example:Thermostat;1"}',
     "--registration-id", "device1", "--dps-host", "[::1]:8883", "--timeout", "30", "--keep-alive", "240",
     "--json", "--verbose", "$X509_PASS_PHRASE=secret"],
    ["run", "--id-scope", "s", "--cert", "c.pem", "--key", "k.key", "--body", '{"temperature":21.5}',
     "--hub-port", "8884", "--reprovision", "--ca-file", "ca.pem", "--key-passphrase", "secret", "--duration", "10"],
    ["run", "--help"],
    ["run", "--id-scope", "s", "--cert", "c.pem", "--key", "k.key", "--messages=-1", "--interval=-0.5",
     "--timeout", "-5", "--provisioning-host", "dps.example:99999", "--ca=", "--nope", "stray"],
]
BASE64 = [b"", b"Zg==", b"Zm8=", b"Zm9v", b"Zm9vYmFy", b"YWJjZGVmZ2hpamtsbW5vcA==",
          b"SGVsbG8sIFdvcmxkIQ==", b"AAECAwQFBgcICQoLDA0ODw==", b"++//", b"QR==", b"Zg=a"]

# twin-topic: IoT Hub's twin and method topics, valid and one step off (from the tests).
TWIN_TOPICS = [
    b"$iothub/twin/res/200/?$rid=1",
    b"$iothub/twin/res/204/?$rid=2&$version=5",
    b"$iothub/twin/res/204/?$version=9223372036854775807&$rid=4294967295",
    b"$iothub/twin/res/429/?$rid=3&retry-after=7&other=x",
    b"$iothub/twin/res/500/?$rid=1",
    b"$iothub/twin/res/200?$rid=1",
    b"$iothub/twin/res/200",
    b"$iothub/twin/res/200/?$version=1",
    b"$iothub/twin/res/200/?$rid=4294967296",
    b"$iothub/twin/res/204/?$rid=1&$version=-1",
    b"$iothub/twin/res/2000/?$rid=1",
    b"$iothub/twin/res/000/?$rid=1",
    b"$iothub/twin/res/20/?$rid=1",
    b"$iothub/twin/res/200/?$rid=%zz",
    b"$iothub/twin/re/200/?$rid=1",
    b"$iothub/twin/PATCH/properties/desired/?$version=12",
    b"$iothub/twin/PATCH/properties/desired/",
    b"$iothub/twin/PATCH/properties/desired/?a=b&$version=3",
    b"$iothub/twin/PATCH/properties/desired/x",
    b"$iothub/twin/PATCH/properties/desired/?$version=v1",
    b"$iothub/methods/POST/reboot/?$rid=1",
    b"$iothub/methods/POST/thermostat1*getMaxMinReport/?$rid=a7",
    b"$iothub/methods/POST/a*b*c/?x=1&$rid=ff&y",
    b"$iothub/methods/POST//?$rid=1",
    b"$iothub/methods/POST/reboot",
    b"$iothub/methods/POST/reboot/$rid=1",
    b"$iothub/methods/POST/reboot/?$rid=",
    b"$iothub/methods/POST/reboot/?x=1",
    b"$iothub/methods/POST/reboot/?$rid=1&%g",
    b"$iothub/twin/GET/?$rid=7",
]
# ... and tails for after each prefix (the target also tries the input behind each of them).
TWIN_TAILS = [b"200/?$rid=1&$version=4", b"429/?retry-after=10&$rid=7", b"?$version=3",
              b"reboot/?$rid=1", b"comp*cmd/?$rid=2a&x=y"]
# twin-body: full twins and patches, valid and not (from the tests).
TWIN_BODIES = [
    b'{"desired":{"targetTemperature":21.5,"$metadata":{"$lastUpdated":"2026-12-03T10:00:00Z"},"$version":3},'
    b'"reported":{"serial":"A1","$version":5},"tags":{}}',
    b' {"desired":{"$version":1}} ',
    b'{"reported":{"$version":2},"desired":{"fan":{"speed":2,"$version":40},"$version":7},"desired":{"$version":8}}',
    b'{"desired":{"$version":-9223372036854775808},"reported":{}}',
    b'{"desired":{"$version":9223372036854775808}}',
    b'{"reported":{"$version":1}}',
    b'{"desired":{"a":1}}',
    b'{"desired":{"$version":"3"}}',
    b'{"desired":{"$version":3.5}}',
    b'{"desired":{"$version":1e2}}',
    b'{"desired":[1]}',
    b'{"desired":{"$version":1},"reported":7}',
    b'{"desired":{"$version":1},"reported":null}',
    b'{"desired":{"$version":1}',
    b'{"desired":{"$version":1}}x',
    b'{"\\u0064esired":{"\\u0024version":2}}',
    b'{"fan":{"speed":2,"$version":40},"$version":7}',
    b'{"fan":2}',
    b'[1]',
    b'null',
    b'',
]


def twin_script(*ops, settings=0x1D, patch_size=32, seed=7):
    """twin-machine: the three setting bytes, then the operations (see Fuzz/FuzzTwinMachine.swift)."""
    return bytes([settings, patch_size, seed]) + b"".join(ops)


CONNECTED, LOST, REQUEST, DRAIN = b"\x00", b"\x01", b"\x02", b"\x05"


def report(body: bytes) -> bytes:
    return bytes([3, len(body)]) + body


def later(a: int) -> bytes:
    """Time passes: a * a * 10 ms; 0 jumps to the twin's next deadline."""
    return bytes([4, a])


def response(status: int, rid: int, flags=0, version=0, retry_after=0, payload=b"\x00\x00") -> bytes:
    """A twin response: status is an index in `statuses` (200, 204, 400, 404, 429, 500, 503, ...),
    rid 0 the last GET's id, 1 the last patch's."""
    return bytes([6, status, rid, flags]) + struct.pack(">H", version) + bytes([retry_after]) + payload


def inbound(kind: int, d=0, payload=b"\x00\x00", raw=b"") -> bytes:
    """Another inbound topic: kind 0 a desired patch (d: its version, the newest the model holds
    + (d & 0x0F) - 4), 1 `raw` as the topic, 2 the response prefix and `raw`, 3 not the twin's."""
    return bytes([7, kind, len(raw) if raw else d]) + raw + payload


def payload(kind: int, x: int, raw=b"") -> bytes:
    """1 full twin, 2 patch with $version, 3 patch without, 4 raw bytes, ...; the version is the
    newest the model holds + (x & 0x0F) - 4."""
    return bytes([kind, len(raw) if kind == 4 else x]) + raw


TWIN_SCRIPTS = [
    # GET after connect; a patch waits in it; the older twin is asked for again; patches in order.
    twin_script(CONNECTED, DRAIN, inbound(0, 5, payload(2, 5)), response(0, 0, payload=payload(1, 3)), DRAIN,
                response(0, 0, payload=payload(1, 5)), inbound(0, 6, payload(2, 6)), inbound(0, 3, payload(2, 3)),
                inbound(0x04, 0, payload(2, 5))),
    # A reported patch accepted (204 with $version), then one rejected, one too large, one in flight.
    twin_script(CONNECTED, DRAIN, response(0, 0, payload=payload(1, 5)), report(b'{"serial":"A1"}'), DRAIN,
                report(b'{"x":1}'), response(1, 1, flags=1, version=7), report(b'{"fw":"1.0"}'), DRAIN,
                response(3, 1), report(b"x" * 40)),
    # Throttled with retry-after, then a 5xx with a backoff; time passes; answered.
    twin_script(CONNECTED, DRAIN, response(4, 0, flags=2, retry_after=3), later(0), DRAIN,
                response(5, 0), later(0), DRAIN, response(0, 0, flags=4, payload=payload(1, 5)), settings=0x20),
    # The answer never comes: asked again after the timeout; an answer to no request is ignored.
    twin_script(CONNECTED, DRAIN, later(255), DRAIN, response(0, 2, payload=payload(1, 5)),
                response(0, 0, payload=payload(1, 5)), settings=0x00),
    # A reconnect with a patch in flight sends it again; lost and found.
    twin_script(report(b'{"a":true}'), CONNECTED, DRAIN, LOST, CONNECTED, DRAIN, response(1, 1, flags=1, version=2),
                response(0, 0, payload=payload(1, 5)), REQUEST, DRAIN, response(6, 0), later(40), DRAIN, patch_size=16),
    # A rejected GET, then patches delivered directly; a patch without a version in its topic.
    twin_script(CONNECTED, DRAIN, response(3, 0), inbound(0, 5, payload(2, 5)), inbound(0x04, 0, payload(2, 6)),
                inbound(0x04, 0, payload(3, 0)), inbound(0x08, 0, payload(2, 7)), inbound(0x0C, 0, payload(2, 8))),
    # A malformed full twin is asked for again later.
    twin_script(CONNECTED, DRAIN, response(0, 0, payload=payload(4, 0, b'{"desired":{}}')), later(0), DRAIN,
                response(0, 0, payload=payload(5, 5)), later(0), DRAIN, response(0, 0, payload=payload(6, 5)),
                settings=0xE3),
    # Messages that are not the twin's, and malformed twin ones.
    twin_script(CONNECTED, DRAIN, inbound(3, 0), inbound(7, 0), inbound(1, raw=b"$iothub/twin"),
                inbound(2, raw=b"200/?$rid="), response(0, 0, flags=16), response(0x80 | 100, 0),
                response(0, 0, flags=8, payload=payload(7, 0))),
]


def seeds():
    server = packets("server->client")
    everything = packets()
    stream = b"".join(p for _, p in everything)
    # frames: storage index, limit byte, 2 chunking bytes, then a stream.
    for i, (name, p) in enumerate(everything):
        yield "frames", bytes([0x0F, 0x80, i & 0xFF, 0x5A]) + p
    for size_index in range(16):
        yield "frames", bytes([size_index, 0x80 | size_index, size_index, 0x33]) + stream[:600]
    yield "frames", bytes([0x0F, 0x80, 0x00, 0x01]) + stream
    # decode: one packet each.
    for name, p in everything:
        yield "decode", p
    # dps-topic: the topic as it is.
    for t in TOPICS:
        yield "dps-topic", t
    for t in [b"202/?$rid=1&retry-after=3", b"200", b"200/?$rid=1"]:
        yield "dps-topic", t
    # json: depth/buffer byte, seed byte, document.
    for i, d in enumerate(JSON_DOCS):
        yield "json", bytes([0x53, i]) + d
    # property-bag: buffer size byte, bag.
    for i, b in enumerate(BAGS + TOPICS):
        yield "property-bag", bytes([8 + i]) + b
    # dps-body: arena size byte, body.
    for i, b in enumerate(BODIES + [NULL_BODY]):
        yield "dps-body", bytes([(i * 37) & 0xFF]) + b
    # session: 4 sizing bytes, seed byte, then what the server sends after CONNACK.
    sub_ack = bytes.fromhex("9004000101" + "00")  # SUBACK id 1, codes 01 00
    res_topic = b"$dps/registrations/res/200/?$rid=1"
    flows = [
        sub_ack + publish(res_topic, ASSIGNED, qos=1, pid=2) + bytes.fromhex("d000"),
        sub_ack + bytes.fromhex("40020001 40020002 b0020003 d000"),
        publish(b"devices/fuzz-device/messages/devicebound/%24.to=x&k=v", b"hello", qos=1, pid=9)
        + publish(b"t", b"", qos=0) + publish(b"t", b"x", qos=1, pid=9, dup=True),
        b"".join(p for _, p in server),
    ]
    for i, flow in enumerate(flows):
        yield "session", bytes([0xFF, 0x40, 0x80, i, i]) + flow
        yield "session", bytes([0x10, 0x7F, 0x20, 0, 0x80 + i]) + flow
    # twin-topic: the topic (also tried behind each prefix by the target).
    for t in TWIN_TOPICS + TWIN_TAILS:
        yield "twin-topic", t
    # twin-body: the body.
    for b in TWIN_BODIES:
        yield "twin-body", b
    # twin-machine: setting bytes, then a script.
    for script in TWIN_SCRIPTS:
        yield "twin-machine", script
    # base64: buffer size byte, text.
    for i, t in enumerate(BASE64):
        yield "base64", bytes([i * 3]) + t
    # options: fields on lines; the second command line once more with NUL between fields.
    for fields in OPTIONS:
        yield "options", "\n".join(fields).encode()
    yield "options", "\0".join(OPTIONS[1]).encode()


def main():
    # Regression inputs (regression-*) are kept; seeds are made afresh.
    for old in CORPUS.glob("*/seed-*"):
        old.unlink()
    counts = {}
    for target, data in seeds():
        directory = CORPUS / target
        directory.mkdir(parents=True, exist_ok=True)
        (directory / ("seed-" + hashlib.sha1(data).hexdigest()[:16])).write_bytes(data)
        counts[target] = counts.get(target, 0) + 1
    for target in sorted(counts):
        print(f"{target}: {len(list((CORPUS / target).iterdir()))} seeds")


if __name__ == "__main__":
    main()
