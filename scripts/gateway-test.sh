#!/usr/bin/env bash
# `make gateway-test` (part of `make e2e-test`): `dps-device run` as a Linux gateway agent,
# against the local stand-ins on their own addresses (DPS 127.0.0.11:8883, hub 127.0.0.12:8883;
# 127.0.0.13:8883 is a "hub" that refuses every device), so that it never meets `make demo`:
#  1. --state: the first run registers and saves the assignment; the next one connects straight
#     to the hub (no DPS connection at all); --reprovision registers again; a corrupt or
#     foreign state file is a warning, then a registration; a hub that refuses the saved device
#     (CONNACK 5, and CONNACK 4 from a server that is no hub) makes it register again;
#  2. service mode: --messages forever stops cleanly on SIGTERM (DISCONNECT, exit 130, within a
#     second); --duration keeps it connected after the messages;
#  3. --body-command: each body is the command's JSON (the monitor sees it); a failing command
#     costs that message only, named, and the run exits 5;
#  4. --log-format json: every line is one JSON object with a step and a time.
# DPS_DEVICE names the binary under test (default: the release build); `make dist-test` runs this
# with the binary from the `make dist` tarball, in a clean environment.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/standins-lib.sh"

GW=${GATEWAY_TEST_DIR:-$ROOT/build/gateway-test}
CERTS=$GW/certs
RUN=$GW/run
SCOPE=0ne00000GATE
DPS_ADDRESS=127.0.0.11
HUB_ADDRESS=127.0.0.12
REFUSER_ADDRESS=127.0.0.13
FAILURES=0
# The agent under test runs in a clean environment (`env -i`: no PATH, no HOME, nothing from
# the toolchain) when DIST_CLEAN_ENV=1.
ENV_FLAGS=()
[ "${DIST_CLEAN_ENV:-0}" = 1 ] && ENV_FLAGS=(-i)


cleanup() {
    local code=$?
    trap - EXIT INT TERM
    stop_pidfile "$RUN/refuser.pid" "dps-device standin"
    stop_pidfile "$RUN/monitor.pid" "dps-device monitor"
    stop_pidfile "$RUN/agent.pid" "dps-device run"
    STANDIN_RUN_DIR=$RUN "$ROOT/scripts/standins.sh" stop > /dev/null 2>&1 || true
    exit $code
}
trap cleanup EXIT
trap 'exit 130' INT TERM

build_release
DPS_DEVICE=$(dps_device_path)
# The tools that make certificates and run the stand-ins are the developer build's when the
# agent under test is another binary (the dist tarball's has them too, but need not).
TOOLS=${GATEWAY_TOOLS:-$DPS_DEVICE}
AGENT_BIN=$DPS_DEVICE
AGENT=(env "${ENV_FLAGS[@]}" "$AGENT_BIN")
export DPS_DEVICE=$TOOLS

rm -rf "$GW"; mkdir -p "$RUN"
make_certs "$CERTS" "$DPS_ADDRESS" "$HUB_ADDRESS" "$REFUSER_ADDRESS"
write_config "$GW/standin.json" "$SCOPE" certs/root-ca.pem "$HUB_ADDRESS" true true
# The refusing "hub": a DPS stand-in that answers every CONNECT with CONNACK 5.
write_config "$GW/refuser.json" "$SCOPE" certs/root-ca.pem "$HUB_ADDRESS" true true
export STANDIN_CERTS=$CERTS STANDIN_CONFIG=$GW/standin.json STANDIN_RUN_DIR=$RUN
DPS_LISTEN=$DPS_ADDRESS:8883 HUB_ADDRESS=$HUB_ADDRESS DPS_FLAGS="--assign-at-once" "$ROOT/scripts/standins.sh" start > /dev/null
start_bg "$RUN/refuser.pid" "$RUN/refuser.log" "$TOOLS" standin dps --listen "$REFUSER_ADDRESS:8883" \
    --config "$GW/refuser.json" --cert "$CERTS/server.pem" --key "$CERTS/server.key" --refuse-connect 5
wait_for_log "$RUN/refuser.log" "listening on" 10 "$RUN/refuser.pid" "dps-device standin"
start_bg "$RUN/monitor.pid" "$RUN/monitor.log" "$TOOLS" monitor --host "$HUB_ADDRESS" --cert "$CERTS/monitor.pem" \
    --key "$CERTS/monitor.key" --ca-file "$CERTS/server-ca.pem" --timeout 600
wait_for_log "$RUN/monitor.log" "monitor: ready" 15 "$RUN/monitor.pid" "dps-device monitor"

STATE=$GW/agent.state
# agent [FLAGS...]: `dps-device run` as device1 with --state (or, with STATE_BY_ENV=1, with
# DPS_DEVICE_STATE); output in $OUT, status in $STATUS, the DPS log lines it caused in $DPS_LINES.
agent() {
    local before state=(--state "$STATE") variables=()
    [ "${STATE_BY_ENV:-0}" = 1 ] && state=() && variables=("DPS_DEVICE_STATE=$STATE")
    before=$(wc -l < "$RUN/dps.log")
    set +e
    OUT=$(cd "$GW" && timeout 60 env "${ENV_FLAGS[@]}" "${variables[@]}" "$AGENT_BIN" run --id-scope "$SCOPE" \
        --provisioning-host "$DPS_ADDRESS" --ca "$CERTS/server-ca.pem" --cert "$CERTS/device1.pem" --key "$CERTS/device1.key" \
        "${state[@]}" --messages 1 --interval 0 --timeout 20 "$@" 2>&1)
    STATUS=$?
    set -e
    DPS_LINES=$(tail -n +"$((before + 1))" "$RUN/dps.log")
}
expect() {
    local name=$1; shift
    if "$@"; then pass "$name"; else
        fail "$name"
        echo "      agent (exit $STATUS):"; printf '%s\n' "$OUT" | sed 's/^/        /'
        echo "      DPS log of the run:"; printf '%s\n' "$DPS_LINES" | sed 's/^/        /'
    fi
}
has() { grep -q -- "$1" <<< "$OUT"; }
registered() { grep -q "REGISTER" <<< "$DPS_LINES"; }
dps_contacted() { grep -q "CONNECT" <<< "$DPS_LINES"; }
state_has() { grep -q -- "$1" "$STATE"; }

# ---------------------------------------------------------------------------------------------
section "1. The saved assignment (--state)"
agent
expect "a first start registers with DPS and saves the assignment" \
    eval '[ $STATUS = 0 ] && registered && has "Saved the assignment in $STATE" && state_has "\"assignedHub\":\"$HUB_ADDRESS\"" \
        && state_has "\"registrationId\":\"device1\"" && state_has "\"idScope\":\"$SCOPE\"" && ! ls "$STATE".tmp.* > /dev/null 2>&1'
agent
expect "the next start connects straight to the saved hub: no DPS connection at all" \
    eval '[ $STATUS = 0 ] && ! dps_contacted && has "Using the assignment saved in $STATE" && has "1 message sent and acknowledged"'
STATE_BY_ENV=1 agent --reprovision
expect "--reprovision registers again and saves (the state file named by DPS_DEVICE_STATE)" \
    eval '[ $STATUS = 0 ] && registered && has "Saved the assignment in $STATE"'
printf '{"format":1,"idScope":"%s",' "$SCOPE" > "$STATE"
agent
expect "a corrupt state file is a warning, then a registration that rewrites it" \
    eval '[ $STATUS = 0 ] && has "warning: the state file $STATE is not a state file: it is not JSON" && registered && state_has "\"deviceId\":\"device1\""'
sed -i "s/\"idScope\":\"$SCOPE\"/\"idScope\":\"0ne00000OTHR\"/" "$STATE"
agent
expect "a state file of another ID scope is not used: warning, registration" \
    eval '[ $STATUS = 0 ] && has "is for registration id device1 in ID scope 0ne00000OTHR" && registered && state_has "\"idScope\":\"$SCOPE\""'
sed -i "s/\"assignedHub\":\"$HUB_ADDRESS\"/\"assignedHub\":\"$REFUSER_ADDRESS\"/" "$STATE"
agent
expect "a hub that refuses the saved device (CONNACK 5) makes it register again, then it sends" \
    eval '[ $STATUS = 0 ] && has "CONNACK 5" && has "the saved assignment is stale: registering with DPS again" && registered \
        && has "1 message sent and acknowledged" && state_has "\"assignedHub\":\"$HUB_ADDRESS\""'
sed -i "s/\"assignedHub\":\"$HUB_ADDRESS\"/\"assignedHub\":\"$DPS_ADDRESS\"/" "$STATE"
agent
expect "a saved hub that is no hub (the DPS endpoint: CONNACK 4) makes it register again" \
    eval '[ $STATUS = 0 ] && has "CONNACK 4" && has "registering with DPS again" && state_has "\"assignedHub\":\"$HUB_ADDRESS\""'
agent --state ""
expect "an empty --state is refused, not taken for 'no state'" eval '[ $STATUS = 64 ] && has "--state is empty"'

# ---------------------------------------------------------------------------------------------
section "2. Service mode: --messages forever, --duration, SIGTERM"
start_bg "$RUN/agent.pid" "$GW/forever.out" "${AGENT[@]}" run --id-scope "$SCOPE" --provisioning-host "$DPS_ADDRESS" \
    --ca "$CERTS/server-ca.pem" --cert "$CERTS/device1.pem" --key "$CERTS/device1.key" --state "$STATE" \
    --messages forever --interval 0.2 --duration forever
for _ in $(seq 100); do [ "$(grep -c "acknowledged by IoT Hub" "$GW/forever.out")" -ge 3 ] && break; sleep 0.1; done
AGENT_PID=$(cat "$RUN/agent.pid")
STOP_START=$(date +%s%N)
kill -TERM "$AGENT_PID"
set +e
for _ in $(seq 50); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.05; done
STOP_MS=$(( ($(date +%s%N) - STOP_START) / 1000000 ))
wait "$AGENT_PID" 2>/dev/null; STATUS=$?
set -e
OUT=$(cat "$GW/forever.out"); DPS_LINES=""
expect "--messages forever sends until SIGTERM, then disconnects and exits 130 within a second (took $STOP_MS ms)" \
    eval '[ $STATUS = 130 ] && [ $STOP_MS -lt 1000 ] && has "Sending message 3: " && has "Disconnected from IoT Hub" && ! has "Sending message 3/" \
        && has "Stopped by SIGINT/SIGTERM: [0-9]* messages sent and acknowledged." && ! has "error:"'
START_S=$(date +%s%N)
agent --duration 2
ELAPSED_MS=$(( ($(date +%s%N) - START_S) / 1000000 ))
expect "--duration 2 stays connected 2 s after the last acknowledgement, then exits 0 (took $ELAPSED_MS ms)" \
    eval '[ $STATUS = 0 ] && [ $ELAPSED_MS -ge 2000 ] && [ $ELAPSED_MS -lt 6000 ] && has "Staying connected 2 s"'

# ---------------------------------------------------------------------------------------------
section "3. --body-command"
cat > "$GW/sensor.sh" <<'X'
#!/bin/sh
# A sensor script: message 2 fails, as a sensor that is offline would.
if [ "$MESSAGE_INDEX" = 2 ]; then echo "sensor offline" >&2; exit 3; fi
printf '{"reading": %s, "of": "%s", "device": "%s"}\n' "$MESSAGE_INDEX" "$MESSAGE_COUNT" "$DEVICE_ID"
X
chmod +x "$GW/sensor.sh"
MONITOR_BEFORE=$(grep -c '"event"' "$RUN/monitor.log" || true)
agent --messages 3 --body-command "$GW/sensor.sh"
for _ in $(seq 50); do [ "$(grep -c '"reading": 3' "$RUN/monitor.log")" -ge 1 ] && break; sleep 0.1; done
MONITOR_NEW=$(tail -n +"$((MONITOR_BEFORE + 1))" "$RUN/monitor.log" | grep '"event"' || true)
expect "each body is the command's output; the failed one is named, not sent, and the run exits 5" \
    eval '[ $STATUS = 5 ] && has "Message 2/3 not sent: --body-command exited with status 3: sensor offline" \
        && has "Done: 2 messages sent and acknowledged; 1 not sent" \
        && grep -q "\"payload\": {\"reading\": 1, \"of\": \"3\", \"device\": \"device1\"}" <<< "$MONITOR_NEW" \
        && grep -q "\"reading\": 3" <<< "$MONITOR_NEW" && ! grep -q "\"reading\": 2" <<< "$MONITOR_NEW"'
agent --body-command 'echo "[1, 2]"'
expect "a command that prints JSON that is not an object is named" \
    eval '[ $STATUS = 5 ] && has "not sent: --body-command printed an array, not a JSON object"'
agent --body-command 'sleep 30'
expect "a command that hangs is killed after 10 s and named" \
    eval '[ $STATUS = 5 ] && has "not sent: --body-command ran past 10 s and was killed"'
agent --body '{}' --body-command 'true'
expect "--body and --body-command together are a usage error" eval '[ $STATUS = 64 ] && has "pass one"'

# ---------------------------------------------------------------------------------------------
section "4. --log-format json"
agent --log-format json --messages 2
expect "every line on standard output is one JSON object with step and time" \
    eval '[ $STATUS = 0 ] && python3 -c "
import json, sys
steps = []
for line in sys.stdin.read().splitlines():
    event = json.loads(line)
    assert event[\"time\"].endswith(\"Z\") and len(event[\"time\"]) == 24, event
    steps.append(event[\"step\"])
assert steps[0] == \"assignment_loaded\" and steps[-1] == \"done\", steps
assert steps.count(\"message_acknowledged\") == 2, steps
" <<< "$OUT"'

echo
if [ "$FAILURES" -ne 0 ]; then echo "gateway-test: $FAILURES check(s) failed"; exit 1; fi
echo "gateway-test: all checks passed"
