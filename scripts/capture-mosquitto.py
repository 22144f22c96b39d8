#!/usr/bin/env python3
"""Capture the packets a real mosquitto sends to MQTT 3.1.1 clients, as codec test fixtures.

The script starts its own mosquitto brokers on loopback (free ports, generated configuration,
password and ACL files in a temporary directory), talks to them over raw sockets with MQTT 3.1.1
packets it builds by hand, and records every byte the broker sends back: CONNACK (accepted with
and without a session, and each refusal mosquitto can be made to send), SUBACK (granted 0, 1, 2
and 0x80 for an ACL-denied filter, one and many filters), PUBACK, PUBREC, PUBREL, PUBCOMP,
UNSUBACK, PINGRESP, and PUBLISH at QoS 0, 1 and 2 delivered to a subscriber (live, retained,
queued for an offline session, redelivered with DUP, with payloads whose remaining length takes
one, two and three bytes). The received byte stream is split into packets by the remaining
length; each packet is decoded here, independently of the Swift codec, into `fields`.

Usage:
    capture-mosquitto.py [--output FILE]   write the fixture file (default: the committed one)
    capture-mosquitto.py --check FILE      re-capture; exit 1 with a diff if FILE differs

Everything is deterministic (fixed client ids, topics, payloads and packet ids, fresh brokers
without persistence), so a re-run gives the same file byte for byte. Python standard library only.
Exit status: 0 success, 1 check found differences or the broker misbehaved, 2 setup problem
(mosquitto missing, broker would not start).
"""

import argparse
import difflib
import json
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUT = os.path.join(REPO, "Tests", "MQTTCodecTests", "Fixtures", "mosquitto_server_packets.json")

IO_TIMEOUT = 3.0          # seconds to wait for any one expected packet
QUIET_WAIT = 0.05         # seconds of silence that prove nothing unexpected was sent
STARTUP_TIMEOUT = 5.0     # seconds for a broker to start listening
OVERALL_TIMEOUT = 60      # hard limit for the whole run (SIGALRM)

# Self-signed certificate and key for the TLS listener that elicits CONNACK return code 4.
# TEST ONLY: generated for this script, protects nothing, never trust it anywhere.
# (openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500
#  -subj /CN=mosquitto-capture-test-only)
TEST_CERT_PEM = """-----BEGIN CERTIFICATE-----
MIIBkTCCATagAwIBAgIBATAKBggqhkjOPQQDAjAmMSQwIgYDVQQDDBttb3NxdWl0
dG8tY2FwdHVyZS10ZXN0LW9ubHkwIBcNMjYxMTI5MDUzODU1WhgPMjEyNjExMDUw
NTM4NTVaMCYxJDAiBgNVBAMMG21vc3F1aXR0by1jYXB0dXJlLXRlc3Qtb25seTBZ
MBMGByqGSM49AgEGCCqGSM49AwEHA0IABP1Fo1H5HNfcgKHRiJOPOOWilMVkW+GV
zfN/IJXY4iyv7a/aTXEay+g3draFrn8seyLz3NiBU2EHLZwTwFiaCZmjUzBRMB0G
A1UdDgQWBBS0IVM8SmcOTdPlDOBdAHVcPuo4WDAfBgNVHSMEGDAWgBS0IVM8SmcO
TdPlDOBdAHVcPuo4WDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYC
IQDlDQgWY6S/w46nyc4gf8T9z01otm2Y2lg1xVr/vAHuOQIhANqMj5cZX5wUdnZn
ssSIUqvaTvdvEiGcTjXhOIARbyCs
-----END CERTIFICATE-----
"""
TEST_KEY_PEM = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgM6+jTfq2uo0Gsr9d
ibSehk9s4cp0B/PYVGCCj6DWgiWhRANCAAT9RaNR+RzX3ICh0YiTjzjlopTFZFvh
lc3zfyCV2OIsr+2v2k1xGsvoN3a2ha5/LHsi89zYgVNhBy2cE8BYmgmZ
-----END PRIVATE KEY-----
"""

USER = "device1"
PASSWORD = "secret1"

# Topics: anonymous clients may use test/#; secret/# is denied explicitly.
ACL_FILE = """# anonymous clients (no user name)
topic readwrite test/#
topic deny secret/#

user device1
topic readwrite test/#
topic deny secret/#
"""

# Dynamic-security plugin configuration: anonymous clients may not subscribe to secret/#.
DYNSEC_CONFIG = {
    "defaultACLAccess": {"publishClientSend": True, "publishClientReceive": True, "subscribe": True, "unsubscribe": True},
    "clients": [],
    "groups": [{"groupname": "anonymous", "roles": [{"rolename": "no-secrets"}], "clients": []}],
    "roles": [{"rolename": "no-secrets", "acls": [
        {"acltype": "subscribePattern", "topic": "secret/#", "priority": 0, "allow": False}]}],
    "anonymousGroup": "anonymous",
}

NOTES = [
    "CONNACK return code 3 (server unavailable) is not captured because mosquitto 2.0 cannot be "
    "made to send it: its only use for MQTT 3.1.1 clients (src/handle_connect.c) is when copying "
    "the common name of a TLS client certificate runs out of memory. A broker at max_connections "
    "resets the new connection without any CONNACK.",
    "CONNACK return code 4 (bad user name or password): mosquitto 2.0 answers a wrong password, "
    "an unknown user and a missing user name with return code 5, never 4 "
    "(connack_rc5_wrong_password, connack_rc5_unknown_user, connack_rc5_anonymous_not_allowed). "
    "It sends 4 only on a TLS listener with use_identity_as_username when the client presents no "
    "certificate; connack_rc4_tls_identity_without_client_certificate was captured that way "
    "(self-signed test-only certificate embedded in the script).",
    "SUBACK 0x80 and acl_file: mosquitto 2.0's acl_file (and the default security checks) never "
    "refuse a SUBSCRIBE (security_default.c: subscribe ACLs are not implemented); a filter the "
    "acl_file denies is granted (suback_acl_file_denied_filter_granted, suback_multi_filter) and the "
    "ACL is applied to delivery instead. The 0x80 vectors (suback_failure_denied, "
    "suback_multi_filter_with_failure) come from a broker using mosquitto's dynamic-security plugin "
    "with a subscribePattern deny ACL.",
    "Protocol level 3 with protocol name \"MQTT\", level 6, and name \"MQIsdp\" with level 4 all get "
    "CONNACK return code 1 and the connection is closed.",
    "A retained message forwarded to a subscriber that was already subscribed carries retain=0; "
    "only delivery caused by the SUBSCRIBE itself carries retain=1 (MQTT-3.3.1-9).",
]


class CaptureError(Exception):
    """The broker did something the scenario did not allow for (exit 1)."""


class SetupError(Exception):
    """The environment is not fit to capture (exit 2)."""


# ----------------------------------------------------------------------------------------------
# Client packets, built by hand (MQTT 3.1.1, §3)

def varint(n):
    out = bytearray()
    while True:
        digit = n % 128
        n //= 128
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(first, body=b""):
    return bytes([first]) + varint(len(body)) + body


def mqtt_string(b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    return len(b).to_bytes(2, "big") + b


def connect(client_id, clean=True, keepalive=60, user=None, password=None, name="MQTT", level=4):
    flags = (0x02 if clean else 0) | (0x80 if user is not None else 0) | (0x40 if password is not None else 0)
    body = mqtt_string(name) + bytes([level, flags]) + keepalive.to_bytes(2, "big") + mqtt_string(client_id)
    if user is not None:
        body += mqtt_string(user)
    if password is not None:
        body += mqtt_string(password)
    return packet(0x10, body)


def subscribe(pid, filters):
    body = pid.to_bytes(2, "big") + b"".join(mqtt_string(f) + bytes([q]) for f, q in filters)
    return packet(0x82, body)


def unsubscribe(pid, filters):
    return packet(0xA2, pid.to_bytes(2, "big") + b"".join(mqtt_string(f) for f in filters))


def publish(topic, payload, qos=0, pid=None, retain=False, dup=False):
    first = 0x30 | (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    body = mqtt_string(topic) + (pid.to_bytes(2, "big") if qos else b"") + payload
    return packet(first, body)


def puback(pid):
    return packet(0x40, pid.to_bytes(2, "big"))


def pubrec(pid):
    return packet(0x50, pid.to_bytes(2, "big"))


def pubrel(pid):
    return packet(0x62, pid.to_bytes(2, "big"))


def pubcomp(pid):
    return packet(0x70, pid.to_bytes(2, "big"))


PINGREQ = packet(0xC0)
DISCONNECT = packet(0xE0)


# ----------------------------------------------------------------------------------------------
# Server packets: split a byte stream by remaining length, decode each one

def split_packet(buf):
    """(packet, rest) for the first whole packet in buf, or None if more bytes are needed."""
    if len(buf) < 2:
        return None
    value, shift, index = 0, 0, 1
    while True:
        if index == 5:
            raise CaptureError("remaining length longer than 4 bytes in %s" % bytes(buf[:8]).hex())
        if index >= len(buf):
            return None
        byte = buf[index]
        value |= (byte & 0x7F) << shift
        index += 1
        if not byte & 0x80:
            break
        shift += 7
    total = index + value
    if len(buf) < total:
        return None
    return bytes(buf[:total]), buf[total:]


def header(raw):
    """(remaining_length, remaining_length_bytes) of one whole packet."""
    value, shift, index = 0, 0, 1
    while True:
        byte = raw[index]
        value |= (byte & 0x7F) << shift
        index += 1
        if not byte & 0x80:
            return value, index - 1
        shift += 7


def decode_server_packet(raw):
    """The fields of one packet a server sends, checked strictly against MQTT 3.1.1."""
    remaining, length_bytes = header(raw)
    body = raw[1 + length_bytes:]
    if len(body) != remaining:
        raise CaptureError("packet %s: remaining length %d, body %d" % (raw.hex(), remaining, len(body)))
    first = raw[0]
    kind, flags = first >> 4, first & 0x0F

    def fixed(expected_flags, expected_length):
        if flags != expected_flags or remaining != expected_length:
            raise CaptureError("malformed packet %s" % raw.hex())

    if kind == 2:
        fixed(0, 2)
        if body[0] & 0xFE or body[1] > 5:
            raise CaptureError("malformed CONNACK %s" % raw.hex())
        return {"type": "CONNACK", "session_present": bool(body[0] & 1), "return_code": body[1]}
    if kind == 3:
        qos, retain, dup = (flags >> 1) & 3, bool(flags & 1), bool(flags & 8)
        if qos == 3 or (qos == 0 and dup):
            raise CaptureError("malformed PUBLISH flags %s" % raw.hex())
        topic_length = int.from_bytes(body[0:2], "big")
        topic = body[2:2 + topic_length].decode("utf-8")
        position = 2 + topic_length
        fields = {"type": "PUBLISH", "topic": topic, "qos": qos, "retain": retain, "dup": dup}
        packet_id = None
        if qos:
            packet_id = int.from_bytes(body[position:position + 2], "big")
            position += 2
        payload = body[position:]
        fields["payload_len"] = len(payload)
        if packet_id is not None:
            fields["packet_id"] = packet_id
        fields["payload_hex"] = payload.hex()
        return fields
    acks = {4: ("PUBACK", 0), 5: ("PUBREC", 0), 6: ("PUBREL", 2), 7: ("PUBCOMP", 0), 11: ("UNSUBACK", 0)}
    if kind in acks:
        name, required = acks[kind]
        fixed(required, 2)
        return {"type": name, "packet_id": int.from_bytes(body, "big")}
    if kind == 9:
        if flags != 0 or remaining < 3 or any(c not in (0, 1, 2, 0x80) for c in body[2:]):
            raise CaptureError("malformed SUBACK %s" % raw.hex())
        return {"type": "SUBACK", "packet_id": int.from_bytes(body[0:2], "big"), "granted_qos": list(body[2:])}
    if kind == 13:
        fixed(0, 0)
        return {"type": "PINGRESP"}
    raise CaptureError("unexpected packet from the server: %s" % raw.hex())


# ----------------------------------------------------------------------------------------------
# Brokers

def find_tool(name):
    path = shutil.which(name)
    if path:
        return path
    for directory in ("/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin", "/sbin"):
        candidate = os.path.join(directory, name)
        if os.access(candidate, os.X_OK):
            return candidate
    raise SetupError("%s not found; install it with `make setup` (scripts/setup.sh)" % name)


def find_dynsec_plugin():
    """The dynamic-security plugin shipped in Debian's mosquitto package."""
    import glob
    for candidate in (glob.glob("/usr/lib/*/mosquitto_dynamic_security.so")
                      + ["/usr/lib/mosquitto_dynamic_security.so", "/usr/lib64/mosquitto_dynamic_security.so",
                         "/usr/local/lib/mosquitto_dynamic_security.so"]):
        if os.path.exists(candidate):
            return candidate
    raise SetupError("mosquitto_dynamic_security.so not found (it comes with Debian's mosquitto package)")


def mosquitto_version(binary):
    result = subprocess.run([binary, "-h"], capture_output=True, text=True, timeout=10)
    for line in (result.stdout + result.stderr).splitlines():
        if line.startswith("mosquitto version "):
            return line.split()[2]
    raise SetupError("cannot tell the version of %s" % binary)


def debian_package_version():
    dpkg = shutil.which("dpkg-query")
    if not dpkg:
        return None
    result = subprocess.run([dpkg, "-W", "-f=${Version}", "mosquitto"], capture_output=True, text=True)
    return result.stdout.strip() or None if result.returncode == 0 else None


def free_ports(count):
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _die_with_parent():
    """Child side of Popen: have Linux SIGTERM the broker if this script dies without cleaning up."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Broker:
    """One mosquitto process with its own configuration in `directory`."""

    def __init__(self, binary, directory, name, make_config, listeners):
        self.binary = binary
        self.directory = directory
        self.name = name
        self.make_config = make_config      # ports -> configuration text
        self.listeners = listeners          # number of ports the configuration needs
        self.process = None
        self.ports = []
        self.log_path = os.path.join(directory, name + ".log")

    def start(self):
        last = ""
        for _ in range(3):  # a port picked as free can be taken before mosquitto binds it
            self.ports = free_ports(self.listeners)
            config_path = os.path.join(self.directory, self.name + ".conf")
            with open(config_path, "w") as f:
                f.write(self.make_config(self.ports))
            log = open(self.log_path, "wb")
            try:
                self.process = subprocess.Popen(
                    [self.binary, "-c", config_path], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
            finally:
                log.close()
            if self._wait_listening():
                return
            self.stop()
            last = self.log()
        raise SetupError("mosquitto (%s) did not start:\n%s" % (self.name, last))

    def _wait_listening(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT
        pending = list(self.ports)
        while pending and time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", pending[0]), timeout=0.5).close()
                pending.pop(0)
            except OSError:
                time.sleep(0.02)
        return not pending

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=3)
        self.process = None


# ----------------------------------------------------------------------------------------------
# Client connections

class Connection:
    def __init__(self, port, label, tls=False):
        self.label = label
        self.buffer = bytearray()
        self.closed_by_server = False
        sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE   # the broker's certificate is a test-only one
            sock = context.wrap_socket(sock)
        self.sock = sock

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        self.sock.settimeout(remaining)
        data = self.sock.recv(65536)
        if not data:
            self.closed_by_server = True
        self.buffer += data
        return bool(data)

    def _take(self):
        split = split_packet(self.buffer)
        if split is None:
            return None
        raw, rest = split
        self.buffer = bytearray(rest)
        return raw

    def packets(self, count):
        """The next `count` whole packets; fails if they do not arrive in time."""
        deadline = time.monotonic() + IO_TIMEOUT
        out = []
        try:
            while len(out) < count:
                raw = self._take()
                if raw is not None:
                    out.append(raw)
                elif not self._fill(deadline):
                    raise CaptureError("%s: connection closed after %d of %d packets (%s)"
                                       % (self.label, len(out), count, [p.hex() for p in out]))
        except socket.timeout:
            raise CaptureError("%s: timed out after %d of %d packets (%s; %s pending)"
                               % (self.label, len(out), count, [p.hex() for p in out], self.buffer.hex()))
        return out

    def packet(self):
        return self.packets(1)[0]

    def until_closed(self):
        """Every packet the server sends before it closes the connection."""
        deadline = time.monotonic() + IO_TIMEOUT
        try:
            while not self.closed_by_server:
                self._fill(deadline)
        except socket.timeout:
            raise CaptureError("%s: server did not close the connection" % self.label)
        except (ConnectionResetError, ssl.SSLError, ssl.SSLEOFError):
            self.closed_by_server = True
        out = []
        while (raw := self._take()) is not None:
            out.append(raw)
        if self.buffer:
            raise CaptureError("%s: %d stray bytes before close: %s" % (self.label, len(self.buffer), self.buffer.hex()))
        return out

    def quiet(self):
        """Fails if the server has sent anything not yet read."""
        if self.buffer:
            raise CaptureError("%s: unexpected bytes %s" % (self.label, self.buffer.hex()))
        self.sock.settimeout(QUIET_WAIT)
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            return
        if data:
            raise CaptureError("%s: unexpected bytes %s" % (self.label, data.hex()))

    def disconnect(self):
        """DISCONNECT, then wait for the broker to close, so it has processed it."""
        self.quiet()
        self.send(DISCONNECT)
        left = self.until_closed()
        if left:
            raise CaptureError("%s: packets after DISCONNECT: %s" % (self.label, [p.hex() for p in left]))
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ----------------------------------------------------------------------------------------------
# The scenario

class Recorder:
    def __init__(self):
        self.vectors = []
        self.warnings = []

    def add(self, name, raw, elicited_by, expect=None, anticipate=None):
        """Records `raw` as vector `name`. `expect` fields must match (the scenario depends on
        them); `anticipate` fields are what we guessed mosquitto would send: a mismatch is
        recorded as captured, with a warning."""
        if any(v["name"] == name for v in self.vectors):
            raise CaptureError("duplicate vector name %s" % name)
        fields = decode_server_packet(raw)
        for key, value in (expect or {}).items():
            if fields.get(key) != value:
                raise CaptureError("%s: %s is %r, expected %r (packet %s)" % (name, key, fields.get(key), value, raw.hex()))
        for key, value in (anticipate or {}).items():
            if fields.get(key) != value:
                self.warnings.append("%s: mosquitto sent %s=%r (anticipated %r)" % (name, key, fields.get(key), value))
        remaining, length_bytes = header(raw)
        self.vectors.append({
            "name": name,
            "direction": "server->client",
            "fields": fields,
            "remaining_length": remaining,
            "remaining_length_bytes": length_bytes,
            "hex": raw.hex(),
            "elicited_by": elicited_by,
        })
        return fields


def pattern(n, seed):
    """Deterministic payload bytes: (seed + i) % 256."""
    return bytes((seed + i) % 256 for i in range(n))


def acknowledge(conn, fields):
    """Completes a QoS 1 or 2 delivery the subscriber received, as a well-behaved client."""
    if fields["qos"] == 1:
        conn.send(puback(fields["packet_id"]))
    elif fields["qos"] == 2:
        conn.send(pubrec(fields["packet_id"]))
        rel = decode_server_packet(conn.packet())
        if rel != {"type": "PUBREL", "packet_id": fields["packet_id"]}:
            raise CaptureError("expected PUBREL for %d, got %r" % (fields["packet_id"], rel))
        conn.send(pubcomp(fields["packet_id"]))


def connack(conn, rec, name, request, elicited_by, expect_code=0, session_present=None):
    conn.send(request)
    raw = conn.packet()
    expect = {"type": "CONNACK"}
    if session_present is not None:
        expect["session_present"] = session_present
    if name:
        return rec.add(name, raw, elicited_by, expect=expect, anticipate={"return_code": expect_code})
    fields = decode_server_packet(raw)
    if fields != {"type": "CONNACK", "session_present": False, "return_code": 0}:
        raise CaptureError("connect refused: %r" % fields)
    return fields


def refused(rec, port, name, request, elicited_by, anticipated_code, tls=False):
    """A CONNECT the broker refuses: exactly one CONNACK, then the broker closes the connection."""
    conn = Connection(port, name, tls=tls)
    try:
        conn.send(request)
        got = conn.until_closed()
        if len(got) != 1:
            raise CaptureError("%s: expected one CONNACK before close, got %s" % (name, [p.hex() for p in got]))
        rec.add(name, got[0], elicited_by, expect={"type": "CONNACK", "session_present": False},
                anticipate={"return_code": anticipated_code})
    finally:
        conn.close()


def open_broker_scenario(rec, port):
    """Broker with allow_anonymous true, a password file and an ACL file denying secret/#."""
    sub = Connection(port, "cap-sub")
    pub = Connection(port, "cap-pub")
    try:
        connack(sub, rec, "connack_accepted_clean_session", connect("cap-sub", clean=True),
                "CONNECT client id cap-sub, clean session 1, anonymous", session_present=False)
        connack(pub, rec, None, connect("cap-pub", clean=True), "")

        # SUBACK: one filter per grant, then an ACL-denied filter, then many filters at once.
        for pid, topic, qos in ((1, "test/q0", 0), (2, "test/q1", 1), (3, "test/q2", 2)):
            sub.send(subscribe(pid, [(topic, qos)]))
            rec.add("suback_granted_qos%d" % qos, sub.packet(),
                    "SUBSCRIBE packet id %d, %s at QoS %d" % (pid, topic, qos),
                    expect={"type": "SUBACK", "packet_id": pid}, anticipate={"granted_qos": [qos]})
        sub.send(subscribe(4, [("secret/data", 1)]))
        rec.add("suback_acl_file_denied_filter_granted", sub.packet(),
                "SUBSCRIBE packet id 4, secret/data at QoS 1; the acl_file says `topic deny secret/#`, "
                "which mosquitto 2.0 does not check for SUBSCRIBE (it blocks delivery instead)",
                expect={"type": "SUBACK", "packet_id": 4}, anticipate={"granted_qos": [1]})
        multi = [("test/multi/0", 0), ("test/multi/1", 1), ("test/multi/2", 2), ("secret/multi", 1), ("test/multi/+", 2)]
        sub.send(subscribe(5, multi))
        rec.add("suback_multi_filter", sub.packet(),
                "SUBSCRIBE packet id 5: test/multi/0 QoS 0, test/multi/1 QoS 1, test/multi/2 QoS 2, "
                "secret/multi QoS 1 (acl_file-denied, granted anyway), test/multi/+ QoS 2",
                expect={"type": "SUBACK", "packet_id": 5}, anticipate={"granted_qos": [0, 1, 2, 1, 2]})
        sub.send(subscribe(0xFFFF, [("test/pid", 1)]))
        rec.add("suback_packet_id_65535", sub.packet(), "SUBSCRIBE packet id 65535, test/pid at QoS 1",
                expect={"type": "SUBACK", "packet_id": 0xFFFF}, anticipate={"granted_qos": [1]})

        # The acl_file denies secret/# for publishing and delivery: mosquitto acknowledges the
        # PUBLISH and drops it, so the subscriber granted secret/data above receives nothing.
        pub.send(publish("secret/data", b"denied", qos=1, pid=0x0101))
        rec.add("puback_acl_denied_publish", pub.packet(),
                "PUBLISH QoS 1 packet id 257 (0x0101) to secret/data, denied by the acl_file: "
                "mosquitto 2.0 still sends PUBACK and drops the message",
                expect={"type": "PUBACK", "packet_id": 0x0101})
        sub.send(PINGREQ)
        if decode_server_packet(sub.packet()) != {"type": "PINGRESP"}:
            raise CaptureError("the acl_file did not stop delivery to secret/data")

        # PUBLISH QoS 0 delivered to the subscriber.
        deliveries = [
            # name, topic, payload, publisher qos, publisher packet id, retain
            ("publish_q0", "test/q0", b"hello from mosquitto", 0, None, False),
            ("publish_q0_empty_payload", "test/q0", b"", 0, None, False),
            ("publish_q0_payload_200", "test/q0", pattern(200, 0), 0, None, False),
            ("publish_q0_downgraded_from_q1", "test/q0", b"sent at QoS 1, subscribed at 0", 1, 0x0102, False),
        ]
        for name, topic, payload, qos, pid, retain in deliveries:
            pub.send(publish(topic, payload, qos=qos, pid=pid, retain=retain))
            if qos == 1:
                ack = pub.packet()
                if name == "publish_q0_downgraded_from_q1":
                    rec.add("puback", ack, "PUBLISH QoS 1 packet id 258 (0x0102) to test/q0 from cap-pub",
                            expect={"type": "PUBACK", "packet_id": pid})
            rec.add(name, sub.packet(), "cap-pub PUBLISH QoS %d %s, %d-byte payload; cap-sub subscribed at QoS 0"
                    % (qos, topic, len(payload)),
                    expect={"type": "PUBLISH", "topic": topic, "qos": 0, "retain": False, "dup": False,
                            "payload_hex": payload.hex()})

        # PUBLISH QoS 1 delivered to the subscriber; PUBACK to the publisher.
        for name, payload, pid in (("publish_q1", b"hello at QoS 1", 0x0103),
                                   ("publish_q1_payload_16500", pattern(16500, 7), 0x0104)):
            pub.send(publish("test/q1", payload, qos=1, pid=pid))
            ack = decode_server_packet(pub.packet())
            if ack != {"type": "PUBACK", "packet_id": pid}:
                raise CaptureError("expected PUBACK %d, got %r" % (pid, ack))
            fields = rec.add(name, sub.packet(), "cap-pub PUBLISH QoS 1 packet id %d to test/q1, %d-byte payload; "
                             "cap-sub subscribed at QoS 1" % (pid, len(payload)),
                             expect={"type": "PUBLISH", "topic": "test/q1", "qos": 1, "retain": False, "dup": False,
                                     "payload_hex": payload.hex()})
            acknowledge(sub, fields)

        # QoS 2: PUBREC and PUBCOMP to the publisher, PUBLISH and PUBREL to the subscriber.
        payload = b"hello at QoS 2"
        pub.send(publish("test/q2", payload, qos=2, pid=0x0201))
        rec.add("pubrec", pub.packet(), "PUBLISH QoS 2 packet id 513 (0x0201) to test/q2 from cap-pub",
                expect={"type": "PUBREC", "packet_id": 0x0201})
        pub.send(pubrel(0x0201))
        rec.add("pubcomp", pub.packet(), "PUBREL packet id 513 from cap-pub",
                expect={"type": "PUBCOMP", "packet_id": 0x0201})
        fields = rec.add("publish_q2", sub.packet(), "cap-pub PUBLISH QoS 2 to test/q2; cap-sub subscribed at QoS 2",
                         expect={"type": "PUBLISH", "topic": "test/q2", "qos": 2, "retain": False, "dup": False,
                                 "payload_hex": payload.hex()})
        sub.send(pubrec(fields["packet_id"]))
        rec.add("pubrel", sub.packet(), "cap-sub PUBREC for the QoS 2 PUBLISH it received",
                expect={"type": "PUBREL", "packet_id": fields["packet_id"]})
        sub.send(pubcomp(fields["packet_id"]))

        # A retained PUBLISH forwarded to a live subscription: retain is cleared.
        payload = b"retained, live"
        pub.send(publish("test/q1", payload, qos=1, pid=0x0105, retain=True))
        pub.packet()
        fields = rec.add("publish_q1_retained_forwarded_live", sub.packet(),
                         "cap-pub PUBLISH QoS 1 retain 1 to test/q1 while cap-sub is subscribed to it",
                         expect={"type": "PUBLISH", "topic": "test/q1", "qos": 1, "dup": False,
                                 "payload_hex": payload.hex()}, anticipate={"retain": False})
        acknowledge(sub, fields)

        # Retained messages delivered because of a SUBSCRIBE: retain is set.
        pub.send(publish("test/retained/q0", b"retained at QoS 0", qos=0, retain=True))
        pub.send(publish("test/retained/q1", pattern(300, 33), qos=1, pid=0x0106, retain=True))
        pub.packet()
        pub.send(PINGREQ)  # both retained messages are stored once this is answered
        rec.add("pingresp", pub.packet(), "PINGREQ from cap-pub", expect={"type": "PINGRESP"})
        for pid, topic, qos, payload, name in (
                (6, "test/retained/q0", 0, b"retained at QoS 0", "publish_q0_retained_on_subscribe"),
                (7, "test/retained/q1", 1, pattern(300, 33), "publish_q1_retained_on_subscribe_payload_300")):
            sub.send(subscribe(pid, [(topic, qos)]))
            suback, message = sub.packets(2)
            if decode_server_packet(suback) != {"type": "SUBACK", "packet_id": pid, "granted_qos": [qos]}:
                raise CaptureError("expected SUBACK %d first, got %s" % (pid, suback.hex()))
            fields = rec.add(name, message, "SUBSCRIBE packet id %d to %s at QoS %d after cap-pub stored a retained "
                             "message there (%d-byte payload)" % (pid, topic, qos, len(payload)),
                             expect={"type": "PUBLISH", "topic": topic, "qos": qos, "dup": False,
                                     "payload_hex": payload.hex()}, anticipate={"retain": True})
            acknowledge(sub, fields)

        sub.send(unsubscribe(8, ["test/q0"]))
        rec.add("unsuback", sub.packet(), "UNSUBSCRIBE packet id 8, test/q0", expect={"type": "UNSUBACK", "packet_id": 8})
        sub.send(unsubscribe(0x1234, ["test/q1", "test/q2", "not/subscribed"]))
        rec.add("unsuback_multi_filter", sub.packet(), "UNSUBSCRIBE packet id 4660 (0x1234), three filters",
                expect={"type": "UNSUBACK", "packet_id": 0x1234})

        sub.disconnect()
        pub.quiet()

        # Persistent session: session present 0 on first connect, 1 on reconnect; a message
        # queued while offline; the unacknowledged message redelivered with DUP.
        persist = Connection(port, "cap-persist")
        connack(persist, rec, "connack_accepted_persistent_first_connect", connect("cap-persist", clean=False),
                "CONNECT client id cap-persist, clean session 0, no session stored yet", session_present=False)
        persist.send(subscribe(1, [("test/persist", 1)]))
        persist.packet()
        persist.disconnect()
        payload = b"queued while offline"
        pub.send(publish("test/persist", payload, qos=1, pid=0x0107))
        pub.packet()
        pub.send(PINGREQ)
        pub.packet()

        persist = Connection(port, "cap-persist")
        persist.send(connect("cap-persist", clean=False))
        ack, queued = persist.packets(2)
        rec.add("connack_accepted_session_present", ack,
                "CONNECT client id cap-persist, clean session 0, reconnecting to its stored session",
                expect={"type": "CONNACK", "return_code": 0}, anticipate={"session_present": True})
        first = rec.add("publish_q1_queued_for_offline_session", queued,
                        "QoS 1 message to test/persist published while cap-persist was offline, sent after its CONNACK",
                        expect={"type": "PUBLISH", "topic": "test/persist", "qos": 1, "retain": False,
                                "payload_hex": payload.hex()}, anticipate={"dup": False})
        persist.disconnect()    # without PUBACK: the message stays in flight

        persist = Connection(port, "cap-persist")
        persist.send(connect("cap-persist", clean=False))
        ack, again = persist.packets(2)
        if decode_server_packet(ack) != {"type": "CONNACK", "session_present": True, "return_code": 0}:
            raise CaptureError("expected CONNACK with session present, got %s" % ack.hex())
        fields = rec.add("publish_q1_redelivered_dup", again,
                         "reconnect of cap-persist after it left the QoS 1 PUBLISH unacknowledged",
                         expect={"type": "PUBLISH", "topic": "test/persist", "qos": 1, "retain": False,
                                 "packet_id": first["packet_id"], "payload_hex": payload.hex()},
                         anticipate={"dup": True})
        acknowledge(persist, fields)
        persist.disconnect()

        with_password = Connection(port, "cap-user")
        connack(with_password, rec, "connack_accepted_with_password",
                connect("cap-user", user=USER, password=PASSWORD),
                "CONNECT with the user name and password from the password file", session_present=False)
        with_password.disconnect()
        pub.disconnect()
    finally:
        sub.close()
        pub.close()

    # Refusals on the open broker.
    refused(rec, port, "connack_rc1_mqtt_level_3", connect("cap-level3", name="MQTT", level=3),
            "CONNECT protocol name \"MQTT\", protocol level 3", 1)
    refused(rec, port, "connack_rc1_mqtt_level_6", connect("cap-level6", name="MQTT", level=6),
            "CONNECT protocol name \"MQTT\", protocol level 6", 1)
    refused(rec, port, "connack_rc1_mqisdp_level_4", connect("cap-mqisdp", name="MQIsdp", level=4),
            "CONNECT protocol name \"MQIsdp\", protocol level 4", 1)
    refused(rec, port, "connack_rc2_empty_client_id_persistent", connect("", clean=False),
            "CONNECT empty client id, clean session 0", 2)
    refused(rec, port, "connack_rc5_wrong_password", connect("cap-badpass", user=USER, password="wrong"),
            "CONNECT user name device1 with a wrong password (mosquitto 2 answers 5, not 4)", 5)
    refused(rec, port, "connack_rc5_unknown_user", connect("cap-nouser", user="nobody", password="x"),
            "CONNECT user name not in the password file", 5)


def dynsec_broker_scenario(rec, port):
    """Broker whose dynamic-security plugin denies subscribing to secret/# (SUBACK 0x80)."""
    conn = Connection(port, "cap-dynsec")
    try:
        connack(conn, rec, None, connect("cap-dynsec"), "")
        conn.send(subscribe(1, [("secret/data", 1)]))
        rec.add("suback_failure_denied", conn.packet(),
                "SUBSCRIBE packet id 1, secret/data at QoS 1, to a broker whose dynamic-security plugin has "
                "a subscribePattern secret/# deny ACL for anonymous clients",
                expect={"type": "SUBACK", "packet_id": 1}, anticipate={"granted_qos": [0x80]})
        conn.send(subscribe(2, [("test/a", 0), ("secret/x", 2), ("test/b", 2), ("test/c", 1)]))
        rec.add("suback_multi_filter_with_failure", conn.packet(),
                "SUBSCRIBE packet id 2: test/a QoS 0, secret/x QoS 2 (denied), test/b QoS 2, test/c QoS 1; "
                "dynamic-security plugin as above",
                expect={"type": "SUBACK", "packet_id": 2}, anticipate={"granted_qos": [0, 0x80, 2, 1]})
        conn.disconnect()
    finally:
        conn.close()


def locked_broker_scenario(rec, plain_port, tls_port):
    """Broker with allow_anonymous false, and a TLS listener with use_identity_as_username."""
    refused(rec, plain_port, "connack_rc5_anonymous_not_allowed", connect("cap-anon"),
            "CONNECT without user name to a broker with allow_anonymous false", 5)
    refused(rec, tls_port, "connack_rc4_tls_identity_without_client_certificate", connect("cap-tls"),
            "CONNECT over TLS, no client certificate, to a listener with use_identity_as_username true", 4,
            tls=True)


def run_as_root_line():
    # As root, mosquitto switches to user `mosquitto` before it reads certificates and password
    # files, which live in our private temporary directory; `user root` keeps it as root.
    return "user %s\n" % pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else ""


def capture():
    mosquitto = find_tool("mosquitto")
    mosquitto_passwd = find_tool("mosquitto_passwd")
    dynsec_plugin = find_dynsec_plugin()
    version = mosquitto_version(mosquitto)
    package = debian_package_version()

    brokers = []
    with tempfile.TemporaryDirectory(prefix="capture-mosquitto-") as directory:
        try:
            password_file = os.path.join(directory, "passwords")
            subprocess.run([mosquitto_passwd, "-c", "-b", password_file, USER, PASSWORD], check=True,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=10)
            acl_file = os.path.join(directory, "acl")
            with open(acl_file, "w") as f:
                f.write(ACL_FILE)
            dynsec_file = os.path.join(directory, "dynamic-security.json")
            with open(dynsec_file, "w") as f:
                json.dump(DYNSEC_CONFIG, f, indent=1)
            cert_file = os.path.join(directory, "cert.pem")
            key_file = os.path.join(directory, "key.pem")
            with open(cert_file, "w") as f:
                f.write(TEST_CERT_PEM)
            with open(key_file, "w") as f:
                f.write(TEST_KEY_PEM)
            common = run_as_root_line() + "persistence false\nlog_dest stderr\nlog_type all\nper_listener_settings false\n"

            def open_config(ports):
                return common + ("listener %d 127.0.0.1\nallow_anonymous true\npassword_file %s\nacl_file %s\n"
                                 % (ports[0], password_file, acl_file))

            def locked_config(ports):
                return common + ("allow_anonymous false\npassword_file %s\n"
                                 "listener %d 127.0.0.1\n"
                                 "listener %d 127.0.0.1\ncertfile %s\nkeyfile %s\n"
                                 "require_certificate false\nuse_identity_as_username true\n"
                                 % (password_file, ports[0], ports[1], cert_file, key_file))

            def dynsec_config(ports):
                return common + ("allow_anonymous true\nplugin %s\nplugin_opt_config_file %s\nlistener %d 127.0.0.1\n"
                                 % (dynsec_plugin, dynsec_file, ports[0]))

            open_broker = Broker(mosquitto, directory, "open", open_config, 1)
            dynsec_broker = Broker(mosquitto, directory, "dynsec", dynsec_config, 1)
            locked_broker = Broker(mosquitto, directory, "locked", locked_config, 2)
            brokers = [open_broker, dynsec_broker, locked_broker]
            for broker in brokers:
                broker.start()

            rec = Recorder()
            try:
                open_broker_scenario(rec, open_broker.ports[0])
                dynsec_broker_scenario(rec, dynsec_broker.ports[0])
                locked_broker_scenario(rec, *locked_broker.ports)
            except (CaptureError, OSError) as error:
                logs = "\n".join("--- %s broker log ---\n%s" % (b.name, b.log()) for b in brokers)
                raise CaptureError("%s\n%s" % (error, logs))
            for broker in brokers:
                if broker.process.poll() is not None:
                    raise CaptureError("mosquitto (%s) exited during the capture:\n%s" % (broker.name, broker.log()))
        finally:
            for broker in brokers:
                broker.stop()

    generator = ("bytes sent by mosquitto %s%s to hand-built MQTT 3.1.1 clients on loopback, captured at "
                 "the client socket by scripts/capture-mosquitto.py and split into packets by remaining length"
                 % (version, " (Debian package %s)" % package if package else ""))
    document = {
        "generator": generator,
        "mosquitto": version,
        "protocol": "MQTT 3.1.1 (level 4)",
        "notes": NOTES,
        "vectors": rec.vectors,
    }
    return document, rec.warnings


def render(document):
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


VERSION_KEYS = ("generator", "mosquitto")


def check(path, document):
    try:
        with open(path, encoding="utf-8") as f:
            committed_text = f.read()
    except OSError as error:
        print("fixtures-check: cannot read %s: %s" % (path, error), file=sys.stderr)
        return 1
    live_text = render(document)
    if committed_text == live_text:
        print("fixtures-check: %s matches the live mosquitto %s (%d packets)"
              % (os.path.relpath(path), document["mosquitto"], len(document["vectors"])))
        return 0
    try:
        committed = json.loads(committed_text)
    except ValueError:
        committed = None
    if committed is not None:
        strip = lambda d: {k: v for k, v in d.items() if k not in VERSION_KEYS}
        if strip(committed) == strip(document):
            print("fixtures-check: warning: captured with mosquitto %s, live broker is %s; the bytes are the same"
                  % (committed.get("mosquitto"), document["mosquitto"]), file=sys.stderr)
            return 0
    clip = lambda line: line if len(line) <= 240 else line[:240] + "...(%d chars)\n" % len(line)
    diff = difflib.unified_diff(committed_text.splitlines(True), live_text.splitlines(True),
                                fromfile=path + " (committed)", tofile="live mosquitto %s" % document["mosquitto"])
    sys.stderr.writelines(clip(line) for line in diff)
    print("fixtures-check: FAILED: mosquitto's bytes differ from %s (run `make fixtures` to re-capture)"
          % os.path.relpath(path), file=sys.stderr)
    return 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--output", metavar="FILE", default=DEFAULT_OUTPUT,
                       help="write the fixture file here ('-' for stdout; default: %(default)s)")
    group.add_argument("--check", metavar="FILE", help="re-capture and compare with FILE; exit 1 on a difference")
    args = parser.parse_args()

    def interrupted(signum, frame):
        raise SystemExit("capture-mosquitto: %s, stopping" % signal.Signals(signum).name)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, interrupted)

    def timed_out(signum, frame):
        raise CaptureError("gave up after %d s" % OVERALL_TIMEOUT)

    signal.signal(signal.SIGALRM, timed_out)
    signal.alarm(OVERALL_TIMEOUT)
    try:
        document, warnings = capture()
    except SetupError as error:
        print("capture-mosquitto: %s" % error, file=sys.stderr)
        return 2
    except CaptureError as error:
        print("capture-mosquitto: %s" % error, file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
    for warning in warnings:
        print("capture-mosquitto: note: %s" % warning, file=sys.stderr)

    if args.check:
        return check(args.check, document)
    text = render(document)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(args.output + ".tmp", args.output)
        print("capture-mosquitto: wrote %d packets from mosquitto %s to %s"
              % (len(document["vectors"]), document["mosquitto"], os.path.relpath(args.output)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
