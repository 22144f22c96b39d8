#!/usr/bin/env bash
# The local stand-ins for Azure: the DPS emulator (`dps-device standin dps`) and the IoT Hub
# (`dps-device standin hub`: TLS 1.2, client certificates, CN as identity, twins and methods).
#
#   scripts/standins.sh start     start both (restarting any left by an earlier run)
#   scripts/standins.sh stop      stop both, by the PIDs in the run directory
#   scripts/standins.sh status    say what runs
#
# Settings (environment):
#   STANDIN_CERTS   directory with server.pem/.key, server-ca.pem, root-ca.pem   (build/demo/certs)
#   STANDIN_CONFIG  DPS stand-in configuration JSON                            (build/demo/standin.json)
#   STANDIN_RUN_DIR PIDs, logs and the hub's twin store                        (build/standins)
#   DPS_LISTEN      127.0.0.1:8883      HUB_ADDRESS 127.0.0.2      HUB_PORT 8883
#   HUB_CLIENT_CAS  CA files the hub trusts for client certificates (root-ca.pem server-ca.pem)
#   DPS_FLAGS       extra flags for `dps-device standin dps` (fault injection)
#   DPS_DEVICE      the dps-device binary (default: the release build)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/standins-lib.sh"

STANDIN_CERTS=${STANDIN_CERTS:-$ROOT/build/demo/certs}
STANDIN_CONFIG=${STANDIN_CONFIG:-$ROOT/build/demo/standin.json}
RUN=${STANDIN_RUN_DIR:-$ROOT/build/standins}
DPS_LISTEN=${DPS_LISTEN:-127.0.0.1:8883}
HUB_ADDRESS=${HUB_ADDRESS:-127.0.0.2}
HUB_PORT=${HUB_PORT:-8883}
HUB_CLIENT_CAS=${HUB_CLIENT_CAS:-$STANDIN_CERTS/root-ca.pem $STANDIN_CERTS/server-ca.pem}
DPS_FLAGS=${DPS_FLAGS:-}

start_hub() {
    local binary ca cas=()
    binary=$(dps_device_path)
    [ -x "$binary" ] || { echo "error: $binary is missing: build it first (swift build -c release)" >&2; exit 1; }
    for ca in $HUB_CLIENT_CAS; do cas+=(--client-ca "$ca"); done
    # Devices are known by their certificate's CN; the certificate with CN=monitor is the
    # service identity (the monitor and `dps-device hub …`). Twins persist in $RUN/twins.json.
    start_bg "$RUN/hub.pid" "$RUN/hub.log" "$binary" standin hub --listen "$HUB_ADDRESS:$HUB_PORT" \
        --cert "$STANDIN_CERTS/server.pem" --key "$STANDIN_CERTS/server.key" "${cas[@]}" --twins "$RUN/twins.json"
    wait_for_log "$RUN/hub.log" "listening on" 10 "$RUN/hub.pid" "dps-device standin"
}

start_dps() {
    local binary
    binary=$(dps_device_path)
    [ -x "$binary" ] || { echo "error: $binary is missing: build it first (swift build -c release)" >&2; exit 1; }
    # shellcheck disable=SC2086
    start_bg "$RUN/dps.pid" "$RUN/dps.log" "$binary" standin dps --listen "$DPS_LISTEN" --config "$STANDIN_CONFIG" \
        --cert "$STANDIN_CERTS/server.pem" --key "$STANDIN_CERTS/server.key" $DPS_FLAGS
    wait_for_log "$RUN/dps.log" "listening on" 10 "$RUN/dps.pid" "dps-device standin"
}

stop_all() {
    stop_pidfile "$RUN/dps.pid" "dps-device standin"
    stop_pidfile "$RUN/hub.pid" "dps-device standin"
}

status() {
    local code=0
    if pid_alive "$RUN/dps.pid" "dps-device standin"; then echo "DPS stand-in: running (pid $(cat "$RUN/dps.pid")), log $RUN/dps.log"
    else echo "DPS stand-in: stopped"; code=1; fi
    if pid_alive "$RUN/hub.pid" "dps-device standin"; then echo "IoT Hub stand-in: running (pid $(cat "$RUN/hub.pid")), log $RUN/hub.log"
    else echo "IoT Hub stand-in: stopped"; code=1; fi
    return $code
}

mkdir -p "$RUN"
case "${1:-}" in
    start)
        stop_all   # a previous, interrupted run may have left them (or stale PID files)
        start_hub
        if ! start_dps; then stop_all; exit 1; fi
        echo "stand-ins: DPS on $DPS_LISTEN (log $RUN/dps.log), IoT Hub on $HUB_ADDRESS:$HUB_PORT (log $RUN/hub.log)"
        ;;
    stop) stop_all; echo "stand-ins: stopped" ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
