#!/usr/bin/env bash
# End-to-end tests against the local stand-ins (`make e2e-test`, part of `make test`):
#  1. the demo flow: provision device1, send 3 messages, the monitor sees them with the right
#     origin and payload;
#  2. the DPS stand-in's failure paths through `dps-device provision`: unknown CA (401, and the
#     error names the fix), unverified CA, CN != registration id, wrong ID scope, disabled group,
#     throttling (429, then success), a connection dropped mid-registration (retry, success),
#     a second registration of the same device (same device id and hub); then the stand-in as
#     a server that cannot be starved: silent clients and its timeouts, running out of file
#     descriptors (under prlimit, CPU time measured), its options' and configuration's checks;
#  3. the hub stand-in: a device cannot publish as another device;
#  4. interoperability: the official Python SDK (azure-iot-device 2.14 from PyPI, in a venv
#     under build/) provisions through our DPS and sends to our hub. Skipped with a notice when
#     PyPI cannot be reached, unless E2E_REQUIRE_PYTHON_SDK=1;
#  5. the firmware (board/modem-demo) under QEMU, on both boards, does the same job through
#     `dps-device modem` (`make qemu-demo`), and the monitor sees its three messages;
#  6. twin and direct methods (scripts/e2e-twin-methods.sh): `dps-device run` with --method,
#     --report, --on-desired and --model-id against the hub stand-in, driven by `dps-device hub`,
#     a forced reconnect, the twin store across a restart;
#  7. the official Python SDK's twin and direct methods (get_twin, patch_twin_reported_properties,
#     the desired-patch and method handlers) against the hub stand-in (scripts/e2e-python-twin.sh).
# E2E_SECTIONS picks sections (default "1 2 3 4 5"), e.g. E2E_SECTIONS=2; DPS_DEVICE=path uses
# that binary instead of building the release one.
# Exits non-zero if a check failed, showing the relevant logs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/standins-lib.sh"

E2E=$ROOT/build/e2e
CERTS=$E2E/certs
RUN=$E2E/run
CASE_PORT=${E2E_DPS_PORT:-18884}
SCOPE=0ne00000DEMO
FAILURES=0
SECTIONS=" ${E2E_SECTIONS:-1 2 3 4 5 6 7} "
# wants N: whether section N is to run.
wants() { [[ "$SECTIONS" == *" $1 "* ]]; }


cleanup() {
    local code=$?
    trap - EXIT INT TERM
    stop_pidfile "$RUN/case-dps.pid" "dps-device standin"
    stop_pidfile "$RUN/monitor.pid" "dps-device monitor"
    stop_pidfile "$RUN/twin-device.pid" "dps-device run"
    stop_pidfile "$RUN/proxy.pid" hostile-servers
    stop_pidfile "$RUN/python-twin.pid" python-sdk-twin
    STANDIN_RUN_DIR=$RUN "$ROOT/scripts/standins.sh" stop > /dev/null 2>&1 || true
    exit $code
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Build once; the demo's own build step is then a no-op.
build_release
DPS_DEVICE=$(dps_device_path)
export DPS_DEVICE

# Certificates and stand-in configurations for sections 2 to 4.
rm -rf "$E2E"; mkdir -p "$RUN"
make_certs "$CERTS"
( cd "$CERTS"
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 365 -subj "/CN=Some Other CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout other-ca.key -out other-ca.pem 2>/dev/null )
write_config "$E2E/good.json" "$SCOPE" certs/root-ca.pem 127.0.0.2 true true
write_config "$E2E/unknown-ca.json" "$SCOPE" certs/other-ca.pem 127.0.0.2 true true
write_config "$E2E/unverified.json" "$SCOPE" certs/root-ca.pem 127.0.0.2 false true
write_config "$E2E/disabled.json" "$SCOPE" certs/root-ca.pem 127.0.0.2 true false

# start_case CONFIG [DPS FLAGS...]: a DPS stand-in for one case, under $CASE_LIMIT when set
# (e.g. CASE_LIMIT="prlimit --nofile=16:16").
start_case() {
    local config=$1; shift
    stop_pidfile "$RUN/case-dps.pid" "dps-device standin"
    # shellcheck disable=SC2086
    start_bg "$RUN/case-dps.pid" "$RUN/case-dps.log" ${CASE_LIMIT:-} "$DPS_DEVICE" standin dps --listen "127.0.0.1:$CASE_PORT" \
        --config "$config" --cert "$CERTS/server.pem" --key "$CERTS/server.key" --retry-after 1 "$@"
    wait_for_log "$RUN/case-dps.log" "listening on" 10 "$RUN/case-dps.pid" "dps-device standin"
}

# provision [EXTRA FLAGS...]: device1 against the case's DPS; output in $OUT, status in $STATUS.
provision() {
    set +e
    OUT=$(timeout 60 "$DPS_DEVICE" provision --id-scope "${SCOPE_OVERRIDE:-$SCOPE}" --provisioning-host "127.0.0.1:$CASE_PORT" \
        --ca-file "$CERTS/server-ca.pem" --cert "$CERTS/device1.pem" --key "$CERTS/device1.key" --timeout 40 "$@" 2>&1)
    STATUS=$?
    set -e
}

# expect NAME CONDITION-COMMAND: pass or fail, showing the device output and the DPS log on failure.
expect() {
    local name=$1; shift
    if "$@"; then pass "$name"; else
        fail "$name"
        echo "      device (exit $STATUS):"; printf '%s\n' "$OUT" | sed 's/^/        /'
        echo "      DPS log:"; sed 's/^/        /' "$RUN/case-dps.log" 2>/dev/null || true
    fi
}
has() { grep -q -- "$1" <<< "$OUT"; }
log_has() { grep -q -- "$1" "$RUN/case-dps.log"; }

# ---------------------------------------------------------------------------------------------
if wants 1; then
section "1. The demo flow (scripts/demo.sh)"
if DEMO_DIR=$E2E/demo STANDIN_RUN_DIR=$RUN "$ROOT/scripts/demo.sh" > "$E2E/demo.out" 2>&1; then
    pass "make demo exits 0"
else
    fail "make demo failed:"; sed 's/^/      /' "$E2E/demo.out"
fi
if python3 - "$RUN/monitor.log" <<'PY'
import json, sys
events = [json.loads(l)["event"] for l in open(sys.argv[1]) if l.startswith('{"event"')]
assert len(events) == 3, f"{len(events)} events, expected 3"
for i, e in enumerate(events, 1):
    assert e["origin"] == "device1", e
    assert e["module"] == "" and e["interface"] == "" and e["component"] == "", e
    p = e["payload"]
    assert isinstance(p, dict), f"payload is not JSON: {p!r}"
    assert set(p) >= {"temperature", "humidity", "message", "timestamp", "deviceId"}, p
    assert p["deviceId"] == "device1" and f"(message {i}/3)" in p["message"], p
    assert e["properties"]["system"]["content_type"] == "application/json", e
PY
then pass "the monitor printed 3 events: origin device1, the walkthrough's payload, content type JSON"
else fail "the monitor's events (build/e2e/run/monitor.log) are not right"; fi
if DEMO_DIR=$E2E/demo STANDIN_RUN_DIR=$RUN "$ROOT/scripts/demo.sh" > "$E2E/demo2.out" 2>&1; then
    pass "make demo works a second time in a row"
else
    fail "the second demo run failed:"; tail -30 "$E2E/demo2.out" | sed 's/^/      /'
fi
# An interrupted run: processes and PID files left behind, plus a stale PID file.
DEMO_DIR=$E2E/demo STANDIN_RUN_DIR=$RUN STANDIN_CERTS=$E2E/demo/certs STANDIN_CONFIG=$E2E/demo/standin.json \
    "$ROOT/scripts/standins.sh" start > /dev/null
echo 999999 > "$RUN/monitor.pid"
if DEMO_DIR=$E2E/demo STANDIN_RUN_DIR=$RUN "$ROOT/scripts/demo.sh" > "$E2E/demo3.out" 2>&1; then
    pass "make demo works after an interrupted run (stand-ins left running, stale PID file)"
else
    fail "the demo after an interrupted run failed:"; tail -30 "$E2E/demo3.out" | sed 's/^/      /'
fi
if STANDIN_RUN_DIR=$RUN "$ROOT/scripts/standins.sh" status > /dev/null; then fail "the demo left stand-ins running"
else pass "the demo stopped everything it started"; fi
fi

# ---------------------------------------------------------------------------------------------
if wants 2; then
section "2. DPS stand-in failure paths (dps-device provision against 127.0.0.1:$CASE_PORT)"
start_case "$E2E/good.json"
provision
expect "a verified, enabled group assigns device1 to 127.0.0.2" eval '[ $STATUS = 0 ] && has "Assigned hub: 127.0.0.2" && has "Device ID: device1"'
provision
expect "a second registration returns the same device id and hub (state file)" \
    eval '[ $STATUS = 0 ] && has "Device ID: device1" && log_has "known device" && [ -f "$E2E/good.state.json" ]'
SCOPE_OVERRIDE=0ne0000WRONG provision
expect "wrong ID scope: CONNACK 5, and the error says to check the ID scope" \
    eval '[ $STATUS != 0 ] && has "CONNACK 5" && has "ID scope" && log_has "unknown ID scope"'

start_case "$E2E/unknown-ca.json"
provision
expect "unknown CA: 401 with error code 401002 and a tracking id, and the error names the fix" \
    eval '[ $STATUS != 0 ] && has "status 401" && has "401002" && has "tracking id" && has "uploaded and verified" && log_has "401 401002"'

start_case "$E2E/unverified.json"
provision
expect "unverified CA: 401, the message says to complete proof of possession" \
    eval '[ $STATUS != 0 ] && has "401002" && has "proof of possession"'

start_case "$E2E/disabled.json"
provision
expect "disabled group: status disabled, the error says to enable the enrollment" \
    eval '[ $STATUS != 0 ] && has "disabled" && has "enable the enrollment"'

start_case "$E2E/good.json"
set +e
OUT=$(timeout 20 mosquitto_pub -h 127.0.0.1 -p "$CASE_PORT" --cafile "$CERTS/server-ca.pem" --cert "$CERTS/device1.pem" \
    --key "$CERTS/device1.key" --tls-version tlsv1.2 -i device2 -u "$SCOPE/registrations/device2/api-version=2019-03-31" \
    -t '$dps/registrations/PUT/iotdps-register/?$rid=1' -m '{"registrationId":"device2"}' -q 1 2>&1)
STATUS=$?
set -e
expect "CN != registration id: CONNACK 5 (not authorised), logged with the reason" \
    eval '[ $STATUS != 0 ] && has "not authorised" && log_has "is not the certificate'"'"'s CN"'

start_case "$E2E/good.json" --throttle 1 --throttle-retry-after 1
provision
expect "throttling: 429 with retry-after, then the device succeeds" \
    eval '[ $STATUS = 0 ] && has "Assigned hub: 127.0.0.2" && log_has "429 throttled"'

start_case "$E2E/good.json" --fail 1
provision
expect "a 500 from DPS: the device retries and succeeds" eval '[ $STATUS = 0 ] && log_has "FAULT fail"'

start_case "$E2E/good.json" --drop-after 3
provision
expect "connection dropped mid-registration (after the register request): the device reconnects and succeeds" \
    eval '[ $STATUS = 0 ] && log_has "FAULT drop" && [ "$(grep -c "CONNACK 0" "$RUN/case-dps.log")" -ge 2 ]'

start_case "$E2E/good.json" --refuse-connect 3 --refuse-times 1 --delay 300
provision
expect "CONNECT refused once with 3 (server unavailable), responses delayed: the device retries and succeeds" \
    eval '[ $STATUS = 0 ] && log_has "FAULT refuseConnect"'

# Stalled clients hold up nobody, and the timeouts close them: a silent TCP client and a TLS
# client that never sends CONNECT are connected while device1 provisions; then each is closed
# at its timeout (2 s here), with a line naming the peer and the timeout.
start_case "$E2E/good.json" --handshake-timeout 2 --connect-timeout 2
exec 3<> "/dev/tcp/127.0.0.1/$CASE_PORT"
python3 - "$CASE_PORT" "$CERTS" > "$RUN/quiet.out" 2>&1 <<'PY' &
import socket, ssl, sys
port, certs = int(sys.argv[1]), sys.argv[2]
context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
context.load_verify_locations(certs + "/server-ca.pem")
context.load_cert_chain(certs + "/device1.pem", certs + "/device1.key")
tls = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20), server_hostname="127.0.0.1")
print("handshake done", flush=True)
print("closed by the server after", len(tls.recv(100)), "bytes", flush=True)
PY
quiet_client=$!
for _ in $(seq 50); do grep -q "handshake done" "$RUN/quiet.out" && break; sleep 0.1; done
provision
for _ in $(seq 100); do log_has "CONNECT timeout" && log_has "handshake timeout" && break; sleep 0.1; done
exec 3<&-
wait "$quiet_client" || true
expect "a silent TCP client and a TLS client without CONNECT, connected meanwhile, do not hold up a registration" \
    eval '[ $STATUS = 0 ] && has "Device ID: device1" && log_has "timeouts: handshake 2 s, CONNECT 2 s, keep-alive 1.5 × (MQTT-3.1.2-24), idle at most 1767 s"'
expect "then the silent client is closed at the handshake timeout, the quiet one at the CONNECT timeout, without an answer" \
    eval 'grep -q "closed by the server after 0 bytes" "$RUN/quiet.out" && log_has "dps 127.0.0.1#1 TLS handshake failed: handshake timeout (not finished 2 s after the TCP connection)$" \
        && log_has "dps 127.0.0.1#2 - connection closed: CONNECT timeout (no CONNECT 2 s after the TLS handshake)$"'

# Out of file descriptors: the stand-in under a limit of 16 open files and 20 silent clients
# (a dozen accepted, the rest waiting in the listen backlog). accept(2) fails with EMFILE; the
# stand-in must not spin (at most 0.5 s of CPU over 3 s at the limit, where a busy loop takes
# all 3), must log the episode once when it begins and once when it ends, and must serve
# device1 once the clients are gone.
CASE_LIMIT="prlimit --nofile=16:16" start_case "$E2E/good.json"
python3 - "$CASE_PORT" 20 5 > "$RUN/holder.out" 2>&1 <<'PY' &
import socket, sys, time
port, count, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
held = []
for _ in range(count):
    try:
        held.append(socket.create_connection(("127.0.0.1", port), timeout=2))
    except OSError:
        pass
print(len(held), "connected", flush=True)
time.sleep(seconds)
PY
holder=$!
for _ in $(seq 100); do log_has "accept failed" && grep -q connected "$RUN/holder.out" && break; sleep 0.1; done
dps_pid=$(cat "$RUN/case-dps.pid")
cpu_ms() { awk -v tck="$(getconf CLK_TCK)" '{ print int(($14 + $15) * 1000 / tck) }' "/proc/$1/stat"; }
cpu_before=$(cpu_ms "$dps_pid"); sleep 3; cpu_at_limit=$(( $(cpu_ms "$dps_pid") - cpu_before ))
wait "$holder" || true
for _ in $(seq 50); do log_has "accepting again" && break; sleep 0.1; done
provision
echo "      (at the descriptor limit: ${cpu_at_limit} ms of CPU in 3 s; $(cat "$RUN/holder.out"))"
expect "out of file descriptors: no busy loop (${cpu_at_limit} ms of CPU in 3 s), one line as the episode begins and one as it ends, then device1 provisions" \
    eval '[ "$cpu_at_limit" -lt 500 ] && [ "$(grep -c "accept failed: EMFILE (Too many open files: the process.s limit of 16 file descriptors, RLIMIT_NOFILE)" "$RUN/case-dps.log")" = 1 ] \
        && [ "$(grep -c "accepting again: the backlog is drained" "$RUN/case-dps.log")" = 1 ] && [ $STATUS = 0 ] && has "Device ID: device1"'
stop_pidfile "$RUN/case-dps.pid" "dps-device standin"

# The options are checked before the stand-in starts: exit 64, the problem in words, the usage line.
while IFS='|' read -r flags message; do
    eval "extra=($flags)"
    set +e
    OUT=$("$DPS_DEVICE" standin dps --listen "127.0.0.1:$CASE_PORT" --config "$E2E/good.json" --cert "$CERTS/server.pem" \
        --key "$CERTS/server.key" "${extra[@]}" 2>&1 < /dev/null)
    STATUS=$?
    set -e
    expect "standin dps $flags: exit 64, $message" eval '[ $STATUS = 64 ] && has "^Error: $message$" && has "^Usage: dps-device standin dps "'
done <<'TABLE'
--retry-after 3601|--retry-after must be 0 to 3600 seconds, got 3601
--throttle -1|--throttle must be 0 to 1000000 times, got -1
--throttle 1 --throttle-retry-after 3601|--throttle-retry-after must be 0 to 3600 seconds, got 3601
--fail 1000001|--fail must be 0 to 1000000 times, got 1000001
--drop-after 0|--drop-after must be 1 to 1000000 (the packet.s number on its connection: CONNECT is 1), got 0
--drop-after 3 --drop-times -1|--drop-times must be 0 to 1000000 times, got -1
--refuse-connect 6|--refuse-connect must be 1 to 5 (a CONNACK refusal code), got 6
--refuse-connect 3 --refuse-times 1000001|--refuse-times must be 0 to 1000000 times, got 1000001
--delay 60001|--delay must be 0 to 60000 milliseconds, got 60001
--handshake-timeout 0|--handshake-timeout must be 0.1 to 3600 seconds, got 0
--connect-timeout 3601|--connect-timeout must be 0.1 to 3600 seconds, got 3601
--idle-timeout 0.05|--idle-timeout must be 0.1 to 86400 seconds, got 0.05
--throttle-retry-after 1|--throttle-retry-after belongs to a fault that is not asked for: pass --throttle N too
--drop-times 2|--drop-times belongs to a fault that is not asked for: pass --drop-after N too
--refuse-times 2|--refuse-times belongs to a fault that is not asked for: pass --refuse-connect CODE too
--listen 127.0.0.1:0|--listen must be HOST:PORT with a port from 1 to 65535, e.g. 127.0.0.1:8883; got "127.0.0.1:0"
--listen ''|--listen is empty: pass HOST:PORT
--config ''|--config is empty: pass the stand-in configuration.s path
--retry-after ''|The value '' is invalid for '--retry-after <retry-after>'
--delay soon|The value 'soon' is invalid for '--delay <delay>'
--throttel 1|Unknown option '--throttel'. Did you mean '--throttle'?
TABLE

# The configuration file is checked the same way: exit 1, every problem named by its key.
cat > "$E2E/bad-faults.json" <<'X'
{ "idScope": "0ne00000DEMO", "groups": [ { "name": "g", "caFile": "certs/root-ca.pem", "enabled": true, "verified": true, "iotHub": "127.0.0.2" } ],
  "faults": { "throtle": { "times": 1 }, "delayMilliseconds": -5 } }
X
set +e
OUT=$("$DPS_DEVICE" standin dps --listen "127.0.0.1:$CASE_PORT" --config "$E2E/bad-faults.json" --cert "$CERTS/server.pem" \
    --key "$CERTS/server.key" 2>&1 < /dev/null)
STATUS=$?
set -e
expect "a configuration with a misspelt fault and a negative delay: exit 1, both named" \
    eval '[ $STATUS = 1 ] && [ "$OUT" = "error: the stand-in configuration \"$E2E/bad-faults.json\" is not valid:
  unknown key \"faults.throtle\" (known here: throttle, fail, drop, refuseConnect, delayMilliseconds)
  faults.delayMilliseconds must be 0 to 60000 milliseconds, got -5" ]'
fi

# ---------------------------------------------------------------------------------------------
if wants 3; then
section "3. IoT Hub stand-in: a device may only send as itself"
export STANDIN_CERTS=$CERTS STANDIN_CONFIG=$E2E/good.json STANDIN_RUN_DIR=$RUN
"$ROOT/scripts/standins.sh" start > /dev/null
start_bg "$RUN/monitor.pid" "$RUN/acl-monitor.log" "$DPS_DEVICE" monitor --host 127.0.0.2 --cert "$CERTS/monitor.pem" \
    --key "$CERTS/monitor.key" --ca-file "$CERTS/server-ca.pem" --count 1 --timeout 30
wait_for_log "$RUN/acl-monitor.log" "monitor: ready" 15 "$RUN/monitor.pid" "dps-device monitor"
pubopts=(-h 127.0.0.2 -p 8883 --cafile "$CERTS/server-ca.pem" --cert "$CERTS/device1.pem" --key "$CERTS/device1.key" -i device1 -q 1
         -u "127.0.0.2/device1/?api-version=2021-04-12")
mosquitto_pub "${pubopts[@]}" -t 'devices/device2/messages/events/' -m '{"spoofed":true}' 2>/dev/null || true  # the hub closes the connection
mosquitto_pub "${pubopts[@]}" -t 'devices/device1/messages/events/a=1' -m '{"own":true}'
for i in $(seq 100); do pid_alive "$RUN/monitor.pid" "dps-device monitor" || break; sleep 0.1; done
OUT=$(cat "$RUN/acl-monitor.log"); STATUS=0
expect "device1 may publish as itself, not as device2" eval 'has "\"origin\": \"device1\"" && ! has spoofed && has "\"application\": {\"a\": \"1\"}"'
"$ROOT/scripts/standins.sh" stop > /dev/null
fi

# ---------------------------------------------------------------------------------------------
if wants 4; then
section "4. Interoperability: the official Python SDK (azure-iot-device 2.14) through our stand-ins"
export STANDIN_CERTS=$CERTS STANDIN_CONFIG=$E2E/good.json STANDIN_RUN_DIR=$RUN
VENV=$ROOT/build/venv-azure-iot
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import azure.iot.device" 2>/dev/null; then
    rm -rf "$VENV"
    if python3 -m venv "$VENV" > "$E2E/pip.log" 2>&1 && "$VENV/bin/pip" install -q "azure-iot-device==2.14.0" >> "$E2E/pip.log" 2>&1; then :; else
        rm -rf "$VENV"
        if [ "${E2E_REQUIRE_PYTHON_SDK:-0}" = 1 ]; then fail "cannot install azure-iot-device from PyPI (see $E2E/pip.log)"
        else echo "  skip cannot install azure-iot-device from PyPI (offline?); see $E2E/pip.log. Set E2E_REQUIRE_PYTHON_SDK=1 to make this a failure."; fi
    fi
fi
if [ -x "$VENV/bin/python" ]; then
    "$ROOT/scripts/standins.sh" start > /dev/null
    start_bg "$RUN/monitor.pid" "$RUN/sdk-monitor.log" "$DPS_DEVICE" monitor --host 127.0.0.2 --cert "$CERTS/monitor.pem" \
        --key "$CERTS/monitor.key" --ca-file "$CERTS/server-ca.pem" --count 3 --timeout 90
    wait_for_log "$RUN/sdk-monitor.log" "monitor: ready" 15 "$RUN/monitor.pid" "dps-device monitor"
    set +e
    OUT=$(cd "$CERTS" && timeout 120 "$VENV/bin/python" "$ROOT/scripts/python-sdk-device.py" \
        --id-scope "$SCOPE" --host 127.0.0.1 --cert device1.pem --key device1.key --ca server-ca.pem 2>&1)
    STATUS=$?
    set -e
    for i in $(seq 100); do pid_alive "$RUN/monitor.pid" "dps-device monitor" || break; sleep 0.1; done
    cp "$RUN/dps.log" "$RUN/case-dps.log"
    expect "the Python SDK registers through our DPS (assigned, hub 127.0.0.2, device device1)" \
        eval '[ $STATUS = 0 ] && has "status: assigned" && has "hub: 127.0.0.2" && has "device id: device1"'
    OUT=$(cat "$RUN/sdk-monitor.log")
    expect "the Python SDK's 3 messages reach our hub, seen by the monitor as origin device1" \
        eval '[ "$(grep -c "\"origin\": \"device1\"" "$RUN/sdk-monitor.log")" = 3 ] && has "Hello from the Python SDK"'
    "$ROOT/scripts/standins.sh" stop > /dev/null
fi

fi

# ---------------------------------------------------------------------------------------------
if wants 5; then
section "5. The firmware under QEMU through the modem bridge (make qemu-demo), on both boards"
for board in mps2-an386 microbit; do
    if QEMU_DEMO_BOARD=$board DEMO_DEVICE=firmware DEMO_DIR=$E2E/qemu-demo-$board STANDIN_RUN_DIR=$RUN \
            "$ROOT/scripts/demo.sh" > "$E2E/qemu-demo-$board.out" 2>&1; then
        pass "$board: make qemu-demo exits 0: the firmware was provisioned and its 3 messages were acknowledged"
    else
        fail "$board: make qemu-demo failed:"; tail -40 "$E2E/qemu-demo-$board.out" | sed 's/^/      /'
    fi
    if python3 - "$RUN/monitor.log" "$E2E/qemu-demo-$board/firmware.log" "$board" <<'PY'
import json, sys
core = {"mps2-an386": "Cortex-M4, QEMU mps2-an386", "microbit": "Cortex-M0, QEMU micro:bit"}[sys.argv[3]]
events = [json.loads(l)["event"] for l in open(sys.argv[1]) if l.startswith('{"event"')]
assert len(events) == 3, f"{len(events)} events, expected 3"
for i, e in enumerate(events, 1):
    assert e["origin"] == "device1", e
    p = e["payload"]
    assert p["message"] == f"Hello from Swift X.509 DPS firmware ({core})! (message {i}/3)", p
    assert p["deviceId"] == "device1" and p["timestamp"].startswith("20"), p
console = open(sys.argv[2], errors="replace").read()
assert "registration id device1" in console and "3 of 3 messages acknowledged" in console, console
assert "0 damaged frames, 0 bytes overrun" in console, console
PY
    then pass "$board: the monitor saw the firmware's 3 messages (origin device1, its greeting, the modem's wall-clock time)"
    else fail "$board: the firmware's messages at the monitor (build/e2e/run/monitor.log) are not right"; fi
done

# A firmware failure through the modem: the modem trusts the wrong CA for the servers. The
# firmware must stop at once (not retry) with the modem's reason, and exit 2.
QEMU_DEMO=$E2E/qemu-demo-mps2-an386
mkdir -p "$E2E/qemu-untrusted"
STANDIN_CERTS=$QEMU_DEMO/certs STANDIN_CONFIG=$QEMU_DEMO/standin.json STANDIN_RUN_DIR=$RUN "$ROOT/scripts/standins.sh" start > /dev/null
set +e
run_firmware mps2-an386 "$ROOT/build/qemu/mps2-an386/modem-demo.elf" "$E2E/qemu-untrusted" --cert "$QEMU_DEMO/certs/device1.pem" \
    --key "$QEMU_DEMO/certs/device1.key" --ca "$QEMU_DEMO/certs/root-ca.pem" > "$E2E/qemu-untrusted.out" 2>&1
STATUS=$?
set -e
STANDIN_RUN_DIR=$RUN "$ROOT/scripts/standins.sh" stop > /dev/null
OUT=$(tr -d '\r' < "$E2E/qemu-untrusted/firmware.log"; cat "$E2E/qemu-untrusted/modem.log")
cp "$RUN/dps.log" "$RUN/case-dps.log"
expect "the firmware stops at once with the modem's TLS error when the modem does not trust the server (exit 2)" \
    eval '[ $STATUS = 2 ] && has "flow: connecting, attempt 1" && ! has "attempt 2" && has "flow failed: transport: modem error 4: " \
        && has "not trusted" && ! has "CONNACK"'
fi

# ---------------------------------------------------------------------------------------------
if wants 6; then
source "$ROOT/scripts/e2e-twin-methods.sh"
fi

# ---------------------------------------------------------------------------------------------
if wants 7; then
source "$ROOT/scripts/e2e-python-twin.sh"
fi

echo
if [ "$FAILURES" -ne 0 ]; then echo "e2e: $FAILURES check(s) failed"; exit 1; fi
echo "e2e: all checks passed"
