# Shared by scripts/standins.sh, scripts/demo.sh and scripts/e2e-test.sh (source it; bash).
# Processes are started in their own session and remembered by PID in a run directory; they are
# stopped by that PID only, after checking that the PID still belongs to the program we started
# (a PID file left by an interrupted run may name an unrelated process by now).

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
# Extra `swift build` flags, e.g. SWIFT_BUILD_FLAGS="--scratch-path .build-standin".
SWIFT_BUILD_FLAGS=${SWIFT_BUILD_FLAGS:-}
SWIFT=${SWIFT:-swift}

# The dps-device binary: $DPS_DEVICE, else the release build's.
dps_device_path() {
    if [ -n "${DPS_DEVICE:-}" ]; then echo "$DPS_DEVICE"; return; fi
    # shellcheck disable=SC2086
    echo "$(cd "$ROOT" && $SWIFT build -c release $SWIFT_BUILD_FLAGS --show-bin-path)/dps-device"
}

# build_release: the release dps-device, unless DPS_DEVICE names a binary.
build_release() {
    [ -n "${DPS_DEVICE:-}" ] && return 0
    # shellcheck disable=SC2086
    (cd "$ROOT" && $SWIFT build -c release --product dps-device $SWIFT_BUILD_FLAGS 2>&1 | tail -n 1)
}

# The end-to-end scripts' report: pass NAME, fail NAME (counts in $FAILURES), section TITLE.
pass() { printf '  \033[32mok\033[0m   %s\n' "$*"; }
fail() { printf '  \033[31mFAIL\033[0m %s\n' "$*"; FAILURES=$((FAILURES + 1)); }
section() { printf '\n\033[1m%s\033[0m\n' "$*"; }

# pid_alive PIDFILE NAME: true when PIDFILE names a live process whose command is NAME.
pid_alive() {
    local file=$1 name=$2 pid
    [ -f "$file" ] || return 1
    pid=$(cat "$file" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name"
}

# stop_pidfile PIDFILE NAME: SIGTERM the process (SIGKILL after 5 s), then remove the file.
# A stale file (dead process, or a PID now used by another program) is just removed.
stop_pidfile() {
    local file=$1 name=$2 pid i
    if pid_alive "$file" "$name"; then
        pid=$(cat "$file")
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$file"
}

# start_bg PIDFILE LOG CMD...: starts CMD in its own session (Ctrl-C in the terminal does not
# reach it; our trap stops it), output to LOG, and writes its PID.
start_bg() {
    local file=$1 log=$2; shift 2
    setsid "$@" > "$log" 2>&1 < /dev/null &
    echo $! > "$file"
}

# wait_for_log LOG PATTERN SECONDS PIDFILE NAME: waits until LOG matches; fails (showing the log)
# when the process exits first or time runs out.
wait_for_log() {
    local log=$1 pattern=$2 seconds=$3 file=$4 name=$5 i
    for i in $(seq $((seconds * 10))); do
        grep -q -- "$pattern" "$log" 2>/dev/null && return 0
        pid_alive "$file" "$name" || break
        sleep 0.1
    done
    grep -q -- "$pattern" "$log" 2>/dev/null && return 0
    echo "error: $name did not start; its log ($log):" >&2
    sed 's/^/    /' "$log" >&2 || true
    return 1
}

# make_certs DIR [IP...]: the walkthrough's certificates, plus the stand-ins' own, made by
# `dps-device certs` (mbedTLS; the walkthrough's nine OpenSSL commands in four lines).
#   root-ca.{key,pem}     CN=Root CA for IoT (10 years)       — the walkthrough's CA
#   device1.{key,pem}     CN=device1, signed by the root CA   — the walkthrough's device
#   server-ca.{key,pem}   CN=Local stand-in server CA         — trusted by devices (--ca)
#   server.{key,pem}      the stand-ins' TLS certificate: the IPs (127.0.0.1, 127.0.0.2), DNS localhost
#   monitor.{key,pem}     CN=monitor, signed by the server CA — the hub monitor's identity
make_certs() {
    local dir=$1 ip ips=(); shift
    [ $# -gt 0 ] || set -- 127.0.0.1 127.0.0.2
    for ip in "$@"; do ips+=(--ip "$ip"); done
    mkdir -p "$dir"
    "$DPS_DEVICE" certs root-ca --out-dir "$dir" --cn "Root CA for IoT" --force >/dev/null
    make_leaf device1 root-ca "$dir"
    "$DPS_DEVICE" certs server-ca --out-dir "$dir" --cn "Local stand-in server CA" --force >/dev/null
    "$DPS_DEVICE" certs server --ca "$dir/server-ca.pem" --ca-key "$dir/server-ca.key" --out-dir "$dir" \
        "${ips[@]}" --dns localhost --force >/dev/null
    make_leaf monitor server-ca "$dir"
}

# make_leaf NAME CA DIR: DIR/NAME.key and DIR/NAME.pem, CN=NAME, a client certificate signed by DIR/CA.
make_leaf() {
    local name=$1 ca=$2 dir=$3
    "$DPS_DEVICE" certs device --ca "$dir/$ca.pem" --ca-key "$dir/$ca.key" --cn "$name" --out-dir "$dir" --force >/dev/null
}

# write_config FILE SCOPE CAFILE HUB [VERIFIED] [ENABLED]: a one-group stand-in configuration.
write_config() {
    local file=$1 scope=$2 ca=$3 hub=$4 verified=${5:-false} enabled=${6:-true}
    cat > "$file" <<X
{
  "idScope": "$scope",
  "retryAfterSeconds": 3,
  "groups": [
    { "name": "walkthrough-group", "caFile": "$ca", "enabled": $enabled, "verified": $verified, "iotHub": "$hub" }
  ]
}
X
}

# prove_possession CONFIG CERTDIR CA: the portal's proof of possession for CA (in CERTDIR):
# get a code, sign a CN=<code> certificate with the CA, verify.
prove_possession() {
    local config=$1 dir=$2 ca=$3 code
    code=$("$DPS_DEVICE" standin verify --config "$config" 2>/dev/null)
    "$DPS_DEVICE" certs verification --ca "$dir/$ca.pem" --ca-key "$dir/$ca.key" --code "$code" --out-dir "$dir" --force >/dev/null
    "$DPS_DEVICE" standin verify --config "$config" --cert "$dir/verification-cert.pem"
}

# run_firmware BOARD ELF DIR MODEM_ARGS...: QEMU (-M BOARD) runs the firmware ELF with its modem
# UART on a Unix socket that `dps-device modem --serial SOCKET MODEM_ARGS...` serves; QEMU waits
# for the modem to connect before starting the CPU. The console (mps2-an386: UART0; microbit:
# semihosting) goes to DIR/firmware.log, the modem's log to DIR/modem.log, both shown live with a
# prefix. PIDs in $RUN (qemu.pid, modem.pid). Returns QEMU's exit status, which is the firmware's
# (semihosting exit): 0 when it did its job.
run_firmware() {
    local board=$1 elf=$2 dir=$3; shift 3
    local socket=$RUN/modem.sock status=0 qemu_pid tail_firmware tail_modem
    local serials=(-serial stdio -serial chardev:modem)            # UART0 console, UART1 modem
    [ "$board" = microbit ] && serials=(-serial chardev:modem)      # one UART; console by semihosting
    rm -f "$socket"
    start_bg "$RUN/qemu.pid" "$dir/firmware.log" timeout 300 qemu-system-arm -M "$board" -nographic \
        -monitor none -semihosting-config enable=on,target=native \
        -chardev "socket,id=modem,path=$socket,server=on,wait=on" "${serials[@]}" -kernel "$elf"
    qemu_pid=$(cat "$RUN/qemu.pid")
    start_bg "$RUN/modem.pid" "$dir/modem.log" "$DPS_DEVICE" modem --serial "$socket" "$@"
    tail -n +1 -F --pid="$qemu_pid" "$dir/firmware.log" 2>/dev/null | tr -d '\r' \
        | grep --line-buffered -v 'QEMU waiting for connection' | sed 's/^/    firmware | /' &
    tail_firmware=$!
    tail -n +1 -F --pid="$qemu_pid" "$dir/modem.log" 2>/dev/null | sed 's/^/    modem    | /' &
    tail_modem=$!
    wait "$qemu_pid" || status=$?
    rm -f "$RUN/qemu.pid"
    wait "$tail_firmware" "$tail_modem" 2>/dev/null || true
    for _ in $(seq 50); do pid_alive "$RUN/modem.pid" "dps-device modem" || break; sleep 0.1; done
    stop_pidfile "$RUN/modem.pid" "dps-device modem"
    return $status
}
