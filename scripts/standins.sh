#!/usr/bin/env bash
# The local stand-ins for Azure: the DPS emulator (`dps-device standin dps`) and the IoT Hub
# (mosquitto with TLS 1.2, client certificates, CN as identity, per-device ACL).
#
#   scripts/standins.sh start     start both (restarting any left by an earlier run)
#   scripts/standins.sh stop      stop both, by the PIDs in the run directory
#   scripts/standins.sh status    say what runs
#
# Settings (environment):
#   STANDIN_CERTS   directory with server.pem/.key, server-ca.pem, root-ca.pem   (build/demo/certs)
#   STANDIN_CONFIG  DPS stand-in configuration JSON                            (build/demo/standin.json)
#   STANDIN_RUN_DIR PIDs, logs, mosquitto.conf and its ACL                     (build/standins)
#   DPS_LISTEN      127.0.0.1:8883      HUB_ADDRESS 127.0.0.2      HUB_PORT 8883
#   HUB_CLIENT_CAS  CA files mosquitto trusts for client certificates (root-ca.pem server-ca.pem)
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
MOSQUITTO=${MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}

start_hub() {
    [ -x "$MOSQUITTO" ] || { echo "error: mosquitto is not installed: run \`make setup\` (apt-get install mosquitto)" >&2; exit 1; }
    # shellcheck disable=SC2086
    cat $HUB_CLIENT_CAS > "$RUN/hub-client-cas.pem"
    # set_tcp_nodelay: a PUBACK goes out at once, not after the client's delayed TCP ACK (Nagle
    # held it ~45 ms when a device sends several messages without waiting; docs/benchmarks.md).
    # Each device (its certificate CN is its user name) may publish only its telemetry and read
    # only its cloud-to-device messages; the monitor (CN=monitor) reads every device's telemetry.
    # (mosquitto's # never matches topics starting with $, and these need none.)
    cat > "$RUN/mosquitto.acl" <<X
user monitor
topic read devices/+/messages/events/#

pattern write devices/%u/messages/events/#
pattern read devices/%u/messages/devicebound/#
X
    {
        [ "$(id -u)" = 0 ] && echo "user root"
        cat <<X
per_listener_settings false
log_dest stderr
log_type error
log_type warning
log_type notice
log_type information
log_type subscribe
connection_messages true
log_timestamp_format %Y-%m-%dT%H:%M:%S
listener $HUB_PORT $HUB_ADDRESS
set_tcp_nodelay true
cafile $RUN/hub-client-cas.pem
certfile $STANDIN_CERTS/server.pem
keyfile $STANDIN_CERTS/server.key
tls_version tlsv1.2
require_certificate true
use_identity_as_username true
acl_file $RUN/mosquitto.acl
X
    } > "$RUN/mosquitto.conf"
    start_bg "$RUN/mosquitto.pid" "$RUN/mosquitto.log" "$MOSQUITTO" -c "$RUN/mosquitto.conf"
    wait_for_log "$RUN/mosquitto.log" " running" 10 "$RUN/mosquitto.pid" mosquitto
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
    stop_pidfile "$RUN/mosquitto.pid" mosquitto
}

status() {
    local code=0
    if pid_alive "$RUN/dps.pid" "dps-device standin"; then echo "DPS stand-in: running (pid $(cat "$RUN/dps.pid")), log $RUN/dps.log"
    else echo "DPS stand-in: stopped"; code=1; fi
    if pid_alive "$RUN/mosquitto.pid" mosquitto; then echo "IoT Hub stand-in (mosquitto): running (pid $(cat "$RUN/mosquitto.pid")), log $RUN/mosquitto.log"
    else echo "IoT Hub stand-in (mosquitto): stopped"; code=1; fi
    return $code
}

mkdir -p "$RUN"
case "${1:-}" in
    start)
        stop_all   # a previous, interrupted run may have left them (or stale PID files)
        start_hub
        if ! start_dps; then stop_all; exit 1; fi
        echo "stand-ins: DPS on $DPS_LISTEN (log $RUN/dps.log), IoT Hub on $HUB_ADDRESS:$HUB_PORT (log $RUN/mosquitto.log)"
        ;;
    stop) stop_all; echo "stand-ins: stopped" ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
