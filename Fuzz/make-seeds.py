#!/usr/bin/env python3
"""Regenerates the committed seed corpora under Fuzz/corpus/<target>/ from the MQTT test
fixtures (Tests/MQTTCodecTests/Fixtures/*.json) and the hand-made DPS topics, JSON bodies,
property bags and base64 texts below. Deterministic: the same inputs give the same files.

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
