#!/usr/bin/env bash
# `make cli-failure-test` (part of `make e2e-test`): the built `dps-device provision` / `run`
# against everything a careless user or a hostile server can do, one table row per case.
# Every row runs the binary and checks its exit status, that its message names the cause (an
# extended regular expression), that it did not trap (no signal death, no "Fatal error"), that
# it did not hang (it ended within the row's seconds), and that no Swift debug text
# ("Optional(", "DeviceCore.") reached the user.
#
# The servers are started here, on 127.0.0.21: openssl s_server with bad certificates and old
# or new protocol versions, a silent port, a port that hangs up, an HTTP server, a plain
# mosquitto, a proxy that resets on the device certificate, an IoT Hub that never acknowledges
# (scripts/hostile-servers.py), and the DPS stand-in. Certificates are made with openssl.
# DPS_DEVICE names the binary under test (default: the release build).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/standins-lib.sh"

DIR=${CLI_FAILURE_TEST_DIR:-$ROOT/build/cli-failure-test}
PKI=$DIR/pki
RUN=$DIR/run
HOST=127.0.0.21
SCOPE=0ne00000FAIL
FAILURES=0
CASES=0

build_release
DPS_DEVICE=$(dps_device_path)
export DPS_DEVICE

# ---------------------------------------------------------------------------------------------
# Servers

PIDS=()
cleanup() {
    local code=$?
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    stop_pidfile "$RUN/dps.pid" "dps-device standin"
    exit $code
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$DIR"; mkdir -p "$PKI" "$RUN"

make_pki() {
    cd "$PKI"
    cat > server-ext.cnf <<X
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:$HOST
X
    sed 's/^extendedKeyUsage.*/extendedKeyUsage = clientAuth/' server-ext.cnf > client-only-ext.cnf
    sed "s/^subjectAltName.*/subjectAltName = DNS:wrong.example.invalid/" server-ext.cnf > wrong-name-ext.cnf
    printf 'basicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = clientAuth\n' > device-ext.cnf
    printf 'basicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n' > server-only-device-ext.cnf
    local ca_flags=(-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign")
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=Failure Test Root CA" "${ca_flags[@]}" -keyout root.key -out root.pem
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -subj "/CN=Unrelated CA" "${ca_flags[@]}" -keyout unrelated.key -out unrelated.pem
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr
    local sign=(openssl x509 -req -days 365 -in server.csr -CA root.pem -CAkey root.key -CAcreateserial)
    "${sign[@]}" -extfile server-ext.cnf -out server.pem
    "${sign[@]}" -extfile client-only-ext.cnf -out client-only-server.pem
    "${sign[@]}" -extfile wrong-name-ext.cnf -out wrong-name.pem
    openssl x509 -req -days 365 -in server.csr -CA unrelated.pem -CAkey unrelated.key -CAcreateserial -extfile server-ext.cnf -out untrusted.pem
    # An expired server certificate: chosen dates need `openssl ca`.
    mkdir -p ca/newcerts && : > ca/index.txt && echo 1001 > ca/serial
    printf '[ca]\ndefault_ca=c\n[c]\ndir=./ca\ndatabase=$dir/index.txt\nnew_certs_dir=$dir/newcerts\nserial=$dir/serial\ndefault_md=sha256\npolicy=p\nunique_subject=no\n[p]\ncommonName=supplied\n' > ca.cnf
    openssl ca -batch -notext -config ca.cnf -cert root.pem -keyfile root.key -extfile server-ext.cnf \
        -startdate 20200101000000Z -enddate 20210101000000Z -in server.csr -out expired.pem
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=device1" -keyout device.key -out device.csr
    openssl x509 -req -days 365 -in device.csr -CA root.pem -CAkey root.key -CAcreateserial -extfile device-ext.cnf -out device.pem
    openssl x509 -req -days 365 -in device.csr -CA root.pem -CAkey root.key -CAcreateserial -extfile server-only-device-ext.cnf -out server-only-device.pem
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=bad id!" -keyout bad-cn.key -out bad-cn.csr
    openssl x509 -req -days 365 -in bad-cn.csr -CA root.pem -CAkey root.key -CAcreateserial -extfile device-ext.cnf -out bad-cn.pem
    mkfifo fifo.pem
    truncate -s 5M huge.pem
    mkdir -p a-directory
    cd - > /dev/null
}
make_pki > "$DIR/pki.log" 2>&1 || { cat "$DIR/pki.log"; exit 1; }

# server NAME PORT COMMAND...: starts a server, waits until PORT accepts.
server() {
    local name=$1 port=$2; shift 2
    "$@" > "$RUN/$name.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "error: the $name server did not start on $HOST:$port; its log:" >&2
    sed 's/^/    /' "$RUN/$name.log" >&2
    exit 1
}
hostile() { server "$1" "$2" python3 "$ROOT/scripts/hostile-servers.py" "$1" "$HOST" "$2" "${@:3}"; }
s_server() {
    local name=$1 port=$2; shift 2
    server "$name" "$port" openssl s_server -accept "$HOST:$port" -quiet -key "$PKI/server.key" "$@"
}

REFUSED=18940
hostile silent 18941
python3 "$ROOT/scripts/hostile-servers.py" full-backlog "$HOST" 18957 > "$RUN/full-backlog.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q ready "$RUN/full-backlog.log" && break; sleep 0.05; done
hostile close 18942
hostile http 18943
server mosquitto 18944 mosquitto -c <(printf 'listener 18944 %s\nallow_anonymous true\n' "$HOST")
s_server tls11 18945 -cert "$PKI/server.pem" -tls1_1 -cipher 'DEFAULT@SECLEVEL=0'
s_server tls13 18946 -cert "$PKI/server.pem" -tls1_3
s_server expired 18947 -cert "$PKI/expired.pem"
s_server wrong-name 18948 -cert "$PKI/wrong-name.pem"
s_server untrusted 18949 -cert "$PKI/untrusted.pem"
s_server not-for-servers 18950 -cert "$PKI/client-only-server.pem"
s_server unknown-ca 18951 -cert "$PKI/server.pem" -Verify 1 -verify_return_error -CAfile "$PKI/unrelated.pem"
s_server client-auth 18952 -cert "$PKI/server.pem" -Verify 1 -verify_return_error -CAfile "$PKI/root.pem"
server asks-certificate 18953 python3 "$ROOT/scripts/hostile-servers.py" mute-hub "$HOST" 18953 "$PKI/server.pem" "$PKI/server.key" "$PKI/root.pem"
hostile cut-after-certificate 18954 18953
hostile mute-hub 18955 "$PKI/server.pem" "$PKI/server.key"

# The DPS stand-in, for waits inside a registration: it answers 202 with retry-after 30.
cat > "$DIR/standin.json" <<X
{ "idScope": "$SCOPE", "retryAfterSeconds": 30,
  "groups": [ { "name": "failure-test", "caFile": "pki/root.pem", "enabled": true, "verified": true, "iotHub": "$HOST" } ] }
X
start_bg "$RUN/dps.pid" "$RUN/dps.log" "$DPS_DEVICE" standin dps --listen "$HOST:18956" --config "$DIR/standin.json" \
    --cert "$PKI/server.pem" --key "$PKI/server.key" --retry-after 30
wait_for_log "$RUN/dps.log" "listening on" 15 "$RUN/dps.pid" "dps-device standin"

# ---------------------------------------------------------------------------------------------
# The table

DEVICE=(--id-scope "$SCOPE" --cert "$PKI/device.pem" --key "$PKI/device.key" --ca "$PKI/root.pem")
at() { echo "--provisioning-host=$HOST:$1"; }

# check NAME STATUS SECONDS PATTERN -- ARGS...: runs `dps-device ARGS` (from $DIR, with the
# environment in $CASE_ENV) and checks the row.
check() {
    local name=$1 want=$2 seconds=$3 pattern=$4; shift 5
    local start status out problems=()
    CASES=$((CASES + 1))
    start=$(date +%s%N)
    set +e
    out=$(cd "$DIR" && timeout -s KILL $((seconds + 10)) env ${CASE_ENV:-} "$DPS_DEVICE" "$@" 2>&1 < /dev/null)
    status=$?
    set -e
    local took=$(( ($(date +%s%N) - start) / 1000000 ))
    [ "$status" = "$want" ] || problems+=("exit $status, expected $want")
    grep -Eq -- "$pattern" <<< "$out" || problems+=("the output does not match /$pattern/")
    [ $took -le $((seconds * 1000)) ] || problems+=("took $took ms, more than $seconds s")
    { [ "$status" -ge 128 ] && [ "$status" != 130 ]; } && problems+=("killed by signal $((status - 128))")
    grep -Eq 'Fatal error|Crash|Backtrace|Optional\(|DeviceCore\.|LinuxBoard\.' <<< "$out" && problems+=("a trap or debug text in the output")
    report "$name" "$took" "$out" "${problems[@]}"
}

# signal_case NAME SIGNAL WAIT_PATTERN PATTERN -- ARGS...: starts `dps-device ARGS`, sends
# SIGNAL once its output matches WAIT_PATTERN, and expects exit 130 within a second with
# output matching PATTERN.
signal_case() {
    local name=$1 signal=$2 wait_pattern=$3 pattern=$4; shift 5
    local log="$RUN/signal-$CASES.log" pid status problems=() sent took
    CASES=$((CASES + 1))
    (cd "$DIR" && exec "$DPS_DEVICE" "$@") > "$log" 2>&1 < /dev/null &
    pid=$!
    for _ in $(seq 300); do grep -Eq -- "$wait_pattern" "$log" && break; sleep 0.05; done
    grep -Eq -- "$wait_pattern" "$log" || problems+=("never printed /$wait_pattern/")
    sleep 0.3
    sent=$(date +%s%N)
    kill "-$signal" "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; problems+=("still running 2 s after SIG$signal"); fi
    set +e; wait "$pid"; status=$?; set -e
    took=$(( ($(date +%s%N) - sent) / 1000000 ))
    [ "$status" = 130 ] || problems+=("exit $status, expected 130")
    [ $took -le 1000 ] || problems+=("ended $took ms after SIG$signal")
    grep -Eq -- "$pattern" "$log" || problems+=("the output does not match /$pattern/")
    report "$name" "$took" "$(cat "$log")" "${problems[@]}"
}

report() {
    local name=$1 took=$2 out=$3; shift 3
    if [ $# -eq 0 ]; then pass "$name ($took ms)"; return; fi
    fail "$name"
    printf '      %s\n' "$@"
    printf '%s\n' "$out" | tail -n 8 | sed 's/^/        | /'
}

section "1. Every value is bounded before any traffic"
check "--timeout 0 is out of range" 64 2 'timeout must be 1 to 86400 seconds, got 0' -- provision "${DEVICE[@]}" --timeout 0
check "a negative --timeout gets the range message" 64 2 'timeout must be 1 to 86400 seconds, got -5' -- provision "${DEVICE[@]}" --timeout -5
check "--messages -1 gets the range message" 64 2 'messages must be 0 to 1000000000, or forever; got -1' -- run "${DEVICE[@]}" --messages -1
check "--interval 1e9 is out of range" 64 2 'interval must be 0 to 86400 seconds' -- run "${DEVICE[@]}" --interval 1e9
check "--hub-port 70000 is not a port" 64 2 "hub-port.*a port from 1 to 65535" -- run "${DEVICE[@]}" --hub-port 70000
check "--keep-alive 5000 is more than IoT Hub allows" 64 2 'keep-alive must be 1 to 1177 seconds' -- provision "${DEVICE[@]}" --keep-alive 5000
# (A --body larger than IoT Hub's 256 KiB cannot reach it: Linux limits one argument to 128 KiB.)
check "a --body that is not JSON" 64 2 'body is not valid JSON: .* at byte 5' -- run "${DEVICE[@]}" --body '{"a":}'
check "an ID scope with a space and a slash" 64 2 'the ID scope "a b/c" is not one' -- provision "${DEVICE[@]}" --id-scope "a b/c"
check "a registration id DPS would refuse" 64 2 'registration id "dev ice" has " " at offset 3' -- provision "${DEVICE[@]}" --registration-id "dev ice"
check "a certificate whose CN cannot be a registration id" 4 2 'its CN is the registration id, and the registration id "bad id!" has " "' -- provision "${DEVICE[@]}" --cert pki/bad-cn.pem --key pki/bad-cn.key
check "a 300-character host name" 64 2 'the host name is 300 characters; DNS allows at most 253' -- provision "${DEVICE[@]}" --provisioning-host "$(head -c 300 /dev/zero | tr '\0' a)"

section "2. An empty value is an error; bytes that are not UTF-8 are refused"
check "--provisioning-host \"\" never falls back to Azure's endpoint" 64 2 'provisioning-host is empty' -- provision "${DEVICE[@]}" --provisioning-host ""
check "--id-scope \"\" never falls back to the environment" 64 2 'id-scope is empty' -- provision "${DEVICE[@]}" --id-scope ""
check "--state \"\"" 64 2 'state is empty' -- run "${DEVICE[@]}" --state ""
check "an ID scope that is not UTF-8" 64 2 'the value of --id-scope\) is not UTF-8 text: byte 0xFF at offset 1' -- provision "${DEVICE[@]}" --id-scope "$(printf 'a\xffb')"
check "a --body that is not UTF-8" 64 2 'the value of --body\) is not UTF-8 text: byte 0xFF at offset 6' -- run "${DEVICE[@]}" --body "$(printf '{"a":"\xff"}')"
check "a --ca path that is not UTF-8" 64 2 'the value of --ca\) is not UTF-8 text' -- provision "${DEVICE[@]}" --ca "$(printf 'pki/\xffroot.pem')"
CASE_ENV="PROVISIONING_IDSCOPE=$(printf '\xfe')" check "an environment variable that is not UTF-8" 64 2 'the environment variable PROVISIONING_IDSCOPE is not UTF-8 text: byte 0xFE at offset 0' -- provision --cert pki/device.pem --key pki/device.key

section "3. Files are read safely"
check "a FIFO as --cert" 4 2 'fifo.pem": it is a FIFO \(named pipe\), not a regular file' -- provision "${DEVICE[@]}" --cert pki/fifo.pem
check "/dev/zero as --key" 4 2 '/dev/zero.*not a regular file' -- provision "${DEVICE[@]}" --key /dev/zero
check "a directory as --ca" 4 2 'a-directory.*it is a directory, not a file' -- provision "${DEVICE[@]}" --ca pki/a-directory
check "a 5 MiB --cert" 4 2 'huge.pem' -- provision "${DEVICE[@]}" --cert pki/huge.pem
check "--cert and --key swapped" 4 2 'holds a PRIVATE KEY, not a certificate: are --cert and --key swapped\?' -- provision "${DEVICE[@]}" --cert pki/device.key --key pki/device.pem
check "a missing --key" 4 2 'the private key file "pki/nothing.key" does not exist' -- provision "${DEVICE[@]}" --key pki/nothing.key

section "4. Signals end every wait at once"
signal_case "SIGTERM during a backoff" TERM 'Retrying in' 'Connecting to DPS' -- provision "${DEVICE[@]}" "$(at $REFUSED)" --timeout 60
signal_case "SIGTERM during a TCP connect that hangs" TERM 'Connecting to DPS' 'Connecting to DPS' -- provision "${DEVICE[@]}" "$(at 18957)" --timeout 60
signal_case "SIGINT during a TLS handshake with a silent server" INT 'Connecting to DPS' 'Connecting to DPS' -- provision "${DEVICE[@]}" "$(at 18941)" --timeout 60
signal_case "SIGTERM during a DPS wait (202, retry-after 30)" TERM 'asking again in' 'Disconnected from DPS' -- provision "${DEVICE[@]}" "$(at 18956)" --timeout 120
echo "{\"format\":1,\"idScope\":\"$SCOPE\",\"registrationId\":\"device1\",\"provisioningHost\":\"$HOST:18956\",\"assignedHub\":\"$HOST\",\"deviceId\":\"device1\",\"savedAt\":\"2026-12-02T00:00:00.000Z\"}" > "$DIR/mute-hub.state"
signal_case "SIGTERM while waiting for PUBACKs: a clean DISCONNECT" TERM 'Sending message 1' 'Stopped by SIGINT/SIGTERM: 0 messages sent and acknowledged' -- run "${DEVICE[@]}" "$(at 18956)" --state mute-hub.state --hub-port 18955 --interval 0 --timeout 60

section "5. --timeout bounds everything, and says how far the run got"
check "a silent server: the handshake ends at --timeout 2" 2 4 'did not finish in 2\.[0-9] s \(--timeout 2\): no connection to DPS 127\.0\.0\.21:18941 succeeded in 1 attempt; the last attempt: the TLS handshake with 127\.0\.0\.21:18941 timed out' -- provision "${DEVICE[@]}" "$(at 18941)" --timeout 2
check "a TCP connect that hangs: ends at --timeout 2" 2 4 'did not finish in 2\.[0-9] s \(--timeout 2\): no connection to DPS 127\.0\.0\.21:18957 succeeded in 1 attempt; the last attempt: connecting to 127\.0\.0\.21:18957 timed out' -- provision "${DEVICE[@]}" "$(at 18957)" --timeout 2
check "nothing listening: retried, then named" 2 4 'no connection to DPS 127\.0\.0\.21:18940 succeeded in [0-9]+ attempts?; the last attempt: 127\.0\.0\.21:18940 refused the connection' -- provision "${DEVICE[@]}" "$(at $REFUSED)" --timeout 3
check "DPS keeps answering 202: the registration ends at --timeout 3" 3 5 'DPS did not finish the registration in 3\.[0-9] s \(--timeout 3\): connected to DPS 127\.0\.0\.21:18956 once, and DPS answered 1 time without assigning the device' -- provision "${DEVICE[@]}" "$(at 18956)" --timeout 3
check "a hub that never acknowledges: 0 of 3 messages" 3 8 'IoT Hub acknowledged 0 of 3 messages' -- run "${DEVICE[@]}" "$(at 18956)" --state mute-hub.state --hub-port 18955 --interval 0 --timeout 3

section "6. Permanent TLS failures are final and named"
check "a plain MQTT port (mosquitto without TLS)" 4 20 'hung up on 3 handshakes in a row on the TLS ClientHello without answering: the port does not speak TLS' -- provision "${DEVICE[@]}" "$(at 18944)" --timeout 60
check "a port that hangs up at once" 4 20 'hung up on 3 handshakes in a row on the TLS ClientHello' -- provision "${DEVICE[@]}" "$(at 18942)" --timeout 60
check "an HTTP server" 4 3 'does not speak TLS: it answered the ClientHello with the bytes 48 54 54 50 2f \(HTTP: a web server\)' -- provision "${DEVICE[@]}" "$(at 18943)"
check "a TLS 1.1 server" 4 3 'speaks only TLS 1\.1, which this client does not accept' -- provision "${DEVICE[@]}" "$(at 18945)"
check "a TLS 1.3-only server" 4 3 'does not accept TLS 1\.2 \(alert 70, protocol_version\)' -- provision "${DEVICE[@]}" "$(at 18946)"
check "an expired server certificate" 4 3 'the certificate "CN=localhost" of 127\.0\.0\.21 expired: it is valid from 2020-01-01 00:00:00 UTC to 2021-01-01 00:00:00 UTC' -- provision "${DEVICE[@]}" "$(at 18947)"
check "a server certificate for another name" 4 3 'the server.s certificate is not for "127\.0\.0\.21": it names wrong\.example\.invalid' -- provision "${DEVICE[@]}" "$(at 18948)"
check "a server certificate from an unknown CA" 4 3 'the certificate of 127\.0\.0\.21 is not trusted: its chain does not lead to a CA in ".*pki/root\.pem"' -- provision "${DEVICE[@]}" "$(at 18949)"
check "a server certificate not for TLS servers (no serverAuth)" 4 3 'the certificate of 127\.0\.0\.21 is not for TLS servers' -- provision "${DEVICE[@]}" "$(at 18950)"
check "a server that does not trust the device's CA" 4 3 'rejected the device certificate \(alert 48, unknown_ca\)' -- provision "${DEVICE[@]}" "$(at 18951)"
check "a device certificate not for TLS clients (no clientAuth)" 4 3 'refused the device certificate "CN=device1" \(pki/server-only-device\.pem\): it is not for TLS clients' -- provision "${DEVICE[@]}" "$(at 18952)" --cert pki/server-only-device.pem
check "a server that resets on the device certificate: the CA to trust" 4 20 'hung up on 3 handshakes in a row right after receiving the device certificate "CN=device1" \(.*pki/device\.pem\).*It must trust the CA that issued it, "CN=Failure Test Root CA"' -- provision "${DEVICE[@]}" "$(at 18954)" --timeout 60

echo
if [ "$FAILURES" -gt 0 ]; then
    echo "cli-failure-test: $FAILURES of $CASES cases failed"
    exit 1
fi
echo "cli-failure-test: all $CASES cases passed"
