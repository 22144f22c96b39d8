#!/usr/bin/env bash
# `make demo`: the walkthrough (../shared/seed) end to end on this machine, no Azure account.
# Makes the certificates, proves possession of the root CA, starts a local DPS and IoT Hub,
# provisions device1 and sends its three messages, and shows them as the hub's monitor saw them.
# Stops everything it started, also when interrupted; safe to run again at any time.
#
# DEMO_DEVICE=firmware (`make qemu-demo`): the device is the firmware (board/modem-demo)
# under QEMU instead of `dps-device run`; it reaches the stand-ins through
# `dps-device modem` on its UART, which holds device1's certificate and key. QEMU_DEMO_BOARD
# picks the board: mps2-an386 (Cortex-M4, the default) or microbit (Cortex-M0, 16 KB of RAM).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/standins-lib.sh"

DEMO=${DEMO_DIR:-$ROOT/build/demo}
CERTS=$DEMO/certs
RUN=${STANDIN_RUN_DIR:-$ROOT/build/standins}
ID_SCOPE=0ne00000DEMO
DEMO_DEVICE=${DEMO_DEVICE:-dps-device}
QEMU_DEMO_BOARD=${QEMU_DEMO_BOARD:-mps2-an386}
case "$DEMO_DEVICE/$QEMU_DEMO_BOARD" in
    dps-device/*|firmware/mps2-an386|firmware/microbit) ;;
    *) echo "error: DEMO_DEVICE must be dps-device or firmware, and QEMU_DEMO_BOARD mps2-an386 or microbit" >&2; exit 2 ;;
esac
export STANDIN_CERTS=$CERTS STANDIN_CONFIG=$DEMO/standin.json STANDIN_RUN_DIR=$RUN

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
indent() { sed 's/^/    /'; }

cleanup() {
    local code=$?
    trap - EXIT INT TERM
    stop_pidfile "$RUN/monitor.pid" "dps-device monitor"
    stop_pidfile "$RUN/qemu.pid" qemu-system-arm
    stop_pidfile "$RUN/modem.pid" "dps-device modem"
    "$ROOT/scripts/standins.sh" stop > /dev/null 2>&1 || true
    if [ $code -ne 0 ]; then
        echo
        echo "The demo failed (exit $code). Logs: $RUN/dps.log, $RUN/hub.log, $RUN/monitor.log, $DEMO/device.log" >&2
    fi
    exit $code
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "1/7 Checking what this machine needs (make setup)"
"$ROOT/scripts/setup.sh"
echo "    mosquitto, mbedTLS and openssl are installed."

step "2/7 Building dps-device (release)"
if [ -n "${DPS_DEVICE:-}" ]; then
    echo "    using $DPS_DEVICE (DPS_DEVICE is set)"
else
    # shellcheck disable=SC2086
    (cd "$ROOT" && $SWIFT build -c release --product dps-device $SWIFT_BUILD_FLAGS 2>&1 | tail -n 1 | indent)
fi
DPS_DEVICE=$(dps_device_path)
export DPS_DEVICE
if [ "$DEMO_DEVICE" = firmware ]; then
    echo "    and the firmware (make qemu-demo-build: Embedded Swift for both boards, ID scope $ID_SCOPE and DPS 127.0.0.1:8883 compiled in)"
    mkdir -p "$RUN"
    if ! make -s -C "$ROOT" qemu-demo-build QEMU_DEMO_ID_SCOPE="$ID_SCOPE" QEMU_DEMO_DPS_HOST=127.0.0.1 \
            QEMU_DEMO_DPS_PORT=8883 QEMU_DEMO_MESSAGES=3 > "$RUN/firmware-build.log" 2>&1; then
        indent < "$RUN/firmware-build.log"
        echo "error: the firmware did not build (make qemu-demo-build)" >&2
        exit 1
    fi
    FIRMWARE=$ROOT/build/qemu/$QEMU_DEMO_BOARD/modem-demo.elf
fi

# Anything an interrupted run left behind (processes by PID, stale PID files).
mkdir -p "$RUN"
stop_pidfile "$RUN/monitor.pid" "dps-device monitor"
stop_pidfile "$RUN/act2-device.pid" "dps-device run"
stop_pidfile "$RUN/qemu.pid" qemu-system-arm
stop_pidfile "$RUN/modem.pid" "dps-device modem"
"$ROOT/scripts/standins.sh" stop > /dev/null

step "3/7 Making the certificates (the walkthrough's step 1) in $CERTS"
rm -rf "$DEMO"
rm -f "$RUN/twins.json"   # a new device1: its twin starts empty
make_certs "$CERTS"
cat <<X | indent
root-ca.pem    CN=Root CA for IoT      the CA you upload to DPS
device1.pem    CN=device1              the device; its CN is the registration id
server-ca.pem  the stand-ins' CA       what the device trusts instead of Azure's roots
monitor.pem    CN=monitor              the identity that may read every device's telemetry
X

step "4/7 Uploading the root CA to the local DPS and proving possession (steps 3 and 4)"
write_config "$DEMO/standin.json" "$ID_SCOPE" certs/root-ca.pem 127.0.0.2 false true
echo "    enrollment group 'walkthrough-group': CA root-ca.pem, enabled, assigns to the hub 127.0.0.2"
prove_possession "$DEMO/standin.json" "$CERTS" root-ca | indent

step "5/7 Starting the local DPS (127.0.0.1:8883), IoT Hub (127.0.0.2:8883) and the monitor"
"$ROOT/scripts/standins.sh" start | indent
start_bg "$RUN/monitor.pid" "$RUN/monitor.log" "$DPS_DEVICE" monitor --host 127.0.0.2 --cert "$CERTS/monitor.pem" \
    --key "$CERTS/monitor.key" --ca-file "$CERTS/server-ca.pem" --count 3 --timeout 120
wait_for_log "$RUN/monitor.log" "monitor: ready" 15 "$RUN/monitor.pid" "dps-device monitor"
echo "    monitor subscribed to devices/+/messages/events/# (like az iot hub monitor-events)"

if [ "$DEMO_DEVICE" = firmware ]; then
    step "6/7 Running the device (step 5): the firmware on QEMU's $QEMU_DEMO_BOARD, its modem on a UART"
    echo "    qemu-system-arm -M $QEMU_DEMO_BOARD -kernel ${FIRMWARE#"$ROOT"/} ... -serial unix:$RUN/modem.sock"
    echo "    dps-device modem --serial $RUN/modem.sock --cert device1.pem --key device1.key --ca server-ca.pem"
    if ! run_firmware "$QEMU_DEMO_BOARD" "$FIRMWARE" "$DEMO" --cert "$CERTS/device1.pem" --key "$CERTS/device1.key" \
            --ca "$CERTS/server-ca.pem" || ! grep -q '^modem-demo: ok' "$DEMO/firmware.log"; then
        echo "error: the firmware did not finish its job; its console: $DEMO/firmware.log, the modem's log: $DEMO/modem.log" >&2
        exit 1
    fi
else
    step "6/7 Running the device (step 5): dps-device run --id-scope $ID_SCOPE --provisioning-host 127.0.0.1 ..."
    "$DPS_DEVICE" run --id-scope "$ID_SCOPE" --provisioning-host 127.0.0.1 --ca "$CERTS/server-ca.pem" \
        --cert "$CERTS/device1.pem" --key "$CERTS/device1.key" --messages 3 --interval 1 2>&1 | tee "$DEMO/device.log" | indent
fi

step "7/7 What the IoT Hub received (step 6: az iot hub monitor-events)"
for i in $(seq 100); do pid_alive "$RUN/monitor.pid" "dps-device monitor" || break; sleep 0.1; done
events=$(grep '^{"event"' "$RUN/monitor.log" || true)
count=$(printf '%s' "$events" | grep -c '^{"event"' || true)
if command -v python3 > /dev/null; then
    printf '%s\n' "$events" | python3 -c 'import json,sys
for line in sys.stdin:
    if line.strip(): print(json.dumps(json.loads(line), indent=4, ensure_ascii=False))' | indent
else
    printf '%s\n' "$events" | indent
fi
echo
echo "    DPS stand-in log (one line per request):"
grep -E "CONNECT|REGISTER|POLL" "$RUN/dps.log" | sed 's/^[^ ]* dps /      /'
if [ "$count" -ne 3 ]; then
    echo "error: the monitor saw $count of 3 events; its log: $RUN/monitor.log" >&2
    exit 1
fi

if [ "$DEMO_DEVICE" != firmware ]; then
    # Act 2: the service side reaches the device (docs/twin-and-methods.md).
    step "Act 2 (1/2): device1 stays connected, serving a direct method and its twin"
    ACK='python3 -c "import json,sys; d=json.load(sys.stdin); print(json.dumps({k: {\"value\": v, \"ac\": 200, \"av\": d[\"\$version\"]} for k, v in d.items() if not k.startswith(\"\$\")}))"'
    echo "    dps-device run ... --messages 0 --duration 60 --method 'getStatus=echo {\"uptime\": 42}' --on-desired <acknowledge as Plug and Play does>"
    start_bg "$RUN/act2-device.pid" "$DEMO/act2-device.log" "$DPS_DEVICE" run --id-scope "$ID_SCOPE" --provisioning-host 127.0.0.1 \
        --ca "$CERTS/server-ca.pem" --cert "$CERTS/device1.pem" --key "$CERTS/device1.key" --messages 0 --duration 60 \
        --method 'getStatus=echo "{\"uptime\": 42, \"asked\": $(cat)}"' --on-desired "$ACK"
    wait_for_log "$DEMO/act2-device.log" "Twin received" 30 "$RUN/act2-device.pid" "dps-device run"
    SERVICE=(--cert "$CERTS/monitor.pem" --key "$CERTS/monitor.key" --ca-file "$CERTS/server-ca.pem")
    step "Act 2 (2/2): the service invokes a method and updates the desired properties (az iot hub invoke-device-method, device-twin update)"
    echo "    \$ dps-device hub invoke device1 getStatus --payload '{\"detail\": true}'"
    "$DPS_DEVICE" hub invoke device1 getStatus --payload '{"detail": true}' "${SERVICE[@]}" | indent
    echo "    \$ dps-device hub twin update device1 --desired '{\"targetTemperature\": 21.5}'"
    "$DPS_DEVICE" hub twin update device1 --desired '{"targetTemperature": 21.5}' "${SERVICE[@]}" > "$DEMO/twin-update.json"
    wait_for_log "$DEMO/act2-device.log" "Reported properties accepted" 15 "$RUN/act2-device.pid" "dps-device run"
    echo "    the device's own lines:"
    grep -E "Twin received|Direct method|Desired properties patch|Reported properties" "$DEMO/act2-device.log" | cut -c1-160 | sed 's/^/      /'
    echo "    \$ dps-device hub twin show device1   (the reported properties: the device's acknowledgement)"
    "$DPS_DEVICE" hub twin show device1 "${SERVICE[@]}" | python3 -c 'import json,sys; t=json.load(sys.stdin)["properties"]["reported"]; t.pop("$metadata"); print(json.dumps(t))' | indent
    stop_pidfile "$RUN/act2-device.pid" "dps-device run"
    grep -q '"targetTemperature": {"value": 21.5, "ac": 200, "av": 2}' <("$DPS_DEVICE" hub twin show device1 "${SERVICE[@]}" \
        | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["properties"]["reported"]))') \
        || { echo "error: device1 did not acknowledge the desired property; its log: $DEMO/act2-device.log" >&2; exit 1; }
fi

echo
echo "Done: device1 was provisioned by the local DPS and its 3 messages arrived at the local IoT Hub."
[ "$DEMO_DEVICE" = firmware ] || echo "      Then it answered a direct method and acknowledged a desired property the service set."
echo "Next: docs/local-standins.md (run the stand-ins yourself, inject faults, then the same commands against Azure)."
