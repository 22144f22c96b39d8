# Interoperability of the twin and direct methods: the official Python SDK (azure-iot-device
# 2.14, scripts/python-sdk-twin.py) provisions through our DPS stand-in and uses the device twin
# and direct methods of our hub stand-in, driven by the service commands (`dps-device hub …`).
#
# A section of scripts/e2e-test.sh: `source` it there (it uses its DPS_DEVICE, CERTS, RUN, SCOPE,
# FAILURES and standins-lib.sh's pass/fail/section; the venv is $VENV, else
# build/venv-azure-iot, installed like section 4 when missing). Or run it by itself, with
# certificates made on the spot when $CERTS has none:
#   DPS_DEVICE=path/to/dps-device CERTS=dir RUN=dir [VENV=dir] bash scripts/e2e-python-twin.sh
# Settings: DPS_LISTEN (127.0.0.1:8883) and HUB_ADDRESS (127.0.0.2) as for scripts/standins.sh;
# both ports must be 8883, the only port the SDK uses. PYTHON_TWIN_SECTION names the section (7).
# E2E_REQUIRE_PYTHON_SDK=1 makes an SDK that cannot be installed a failure, not a skip.
#
# The script prints "ready for desired" / "ready for methods" once the SDK has subscribed (its
# handler setters return after the SUBACK); the driver waits for each line in the script's output
# file before it runs the service command, then checks every line the script prints.

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    # Run by itself: what scripts/e2e-test.sh would otherwise provide.
    set -euo pipefail
    source "$(dirname "${BASH_SOURCE[0]}")/standins-lib.sh"
    : "${DPS_DEVICE:?set DPS_DEVICE to the dps-device binary}" "${CERTS:?set CERTS to a certificate directory}" "${RUN:?set RUN to a run directory}"
    export DPS_DEVICE
    FAILURES=0
    PYTHON_TWIN_STANDALONE=1
    mkdir -p "$RUN"
    pytwin_cleanup() {
        local code=$?
        trap - EXIT INT TERM
        stop_pidfile "$RUN/python-twin.pid" python-sdk-twin
        STANDIN_RUN_DIR=$RUN "$ROOT/scripts/standins.sh" stop > /dev/null 2>&1 || true
        exit $code
    }
    trap pytwin_cleanup EXIT
    trap 'exit 130' INT TERM
fi

# pytwin_wait PATTERN SECONDS: waits until a line of the script's output matches PATTERN
# (grep -E, whole line); false when the script ends first or time runs out.
pytwin_wait() {
    local pattern=$1 seconds=$2 i
    for i in $(seq $((seconds * 10))); do
        grep -Eqx -- "$pattern" "$PYTWIN_OUT" 2>/dev/null && return 0
        pid_alive "$RUN/python-twin.pid" python-sdk-twin || break
        sleep 0.1
    done
    grep -Eqx -- "$pattern" "$PYTWIN_OUT" 2>/dev/null
}

# pytwin_line TEXT: the script printed exactly TEXT as a line.
pytwin_line() { grep -Fqx -- "$1" "$PYTWIN_OUT"; }

# pytwin_expect NAME COMMAND...: pass, or fail showing (at the first failure only) the script's
# output, the last service command's and the hub's log.
pytwin_expect() {
    local name=$1; shift
    if "$@"; then pass "$name"; return 0; fi
    fail "$name"
    [ "$PYTWIN_SHOWN" = 1 ] && return 0
    PYTWIN_SHOWN=1
    echo "      the Python SDK script ($PYTWIN_OUT):"; sed 's/^/        /' "$PYTWIN_OUT" 2>/dev/null || true
    echo "      last service command (exit $PYTWIN_STATUS):"; printf '%s\n' "$PYTWIN_SERVICE_OUT" | sed 's/^/        /'
    echo "      hub log:"; tail -n 40 "$RUN/hub.log" 2>/dev/null | sed 's/^/        /' || true
}

# pytwin_twin CONDITION: the last service command printed a twin (JSON) for which the Python
# expression CONDITION, over d (its properties.desired) and r (its properties.reported), holds.
pytwin_twin() {
    python3 -c 'import json, sys
p = json.loads(sys.argv[2])["properties"]
d, r = p["desired"], p["reported"]
sys.exit(0 if eval(sys.argv[1]) else 1)' "$1" "$PYTWIN_SERVICE_OUT" 2>/dev/null
}

# pytwin_hub ARGS...: `dps-device hub ARGS` as the service, output in $PYTWIN_SERVICE_OUT.
pytwin_hub() {
    set +e
    PYTWIN_SERVICE_OUT=$(timeout 60 "$DPS_DEVICE" hub "$@" --host "$PYTWIN_HUB" --cert "$CERTS/monitor.pem" \
        --key "$CERTS/monitor.key" --ca-file "$CERTS/server-ca.pem" 2>&1)
    PYTWIN_STATUS=$?
    set -e
}

section "${PYTHON_TWIN_SECTION:-7}. Interoperability: the official Python SDK's twin and direct methods against our hub stand-in"
PYTWIN_DPS_LISTEN=${DPS_LISTEN:-127.0.0.1:8883}
PYTWIN_HUB=${HUB_ADDRESS:-127.0.0.2}
PYTWIN_SCOPE=${SCOPE:-0ne00000DEMO}
PYTWIN_OUT=$RUN/python-twin.out
PYTWIN_STATUS=0
PYTWIN_SHOWN=0
PYTWIN_SERVICE_OUT=
VENV=${VENV:-$ROOT/build/venv-azure-iot}
if [ "${PYTHON_TWIN_STANDALONE:-0}" = 1 ] && [ ! -f "$CERTS/server.pem" ]; then
    make_certs "$CERTS" "${PYTWIN_DPS_LISTEN%:*}" "$PYTWIN_HUB"
fi
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import azure.iot.device" 2>/dev/null; then
    # Only the default venv, or a directory not there yet, is (re)made here.
    [ "$VENV" = "$ROOT/build/venv-azure-iot" ] && rm -rf "$VENV"
    if [ ! -e "$VENV" ] && python3 -m venv "$VENV" > "$RUN/python-twin-pip.log" 2>&1 \
        && "$VENV/bin/pip" install -q "azure-iot-device==2.14.0" >> "$RUN/python-twin-pip.log" 2>&1; then :; else
        [ "$VENV" = "$ROOT/build/venv-azure-iot" ] && rm -rf "$VENV"
        PYTWIN_WHY="cannot install azure-iot-device from PyPI into $VENV (offline?); see $RUN/python-twin-pip.log"
        [ -e "$VENV" ] && PYTWIN_WHY="$VENV has no usable azure-iot-device, and it is not the default venv, so it is left alone"
        if [ "${E2E_REQUIRE_PYTHON_SDK:-0}" = 1 ]; then fail "$PYTWIN_WHY"
        else echo "  skip $PYTWIN_WHY. Set E2E_REQUIRE_PYTHON_SDK=1 to make this a failure."; fi
    fi
fi
if [ "${PYTWIN_DPS_LISTEN##*:}" != 8883 ]; then
    fail "DPS_LISTEN=$PYTWIN_DPS_LISTEN: the Python SDK reaches DPS on port 8883 only"
elif [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import azure.iot.device" 2>/dev/null; then
    # A DPS configuration that assigns to this hub, a fresh twin store (exact $versions).
    write_config "$RUN/python-twin-dps.json" "$PYTWIN_SCOPE" "$CERTS/root-ca.pem" "$PYTWIN_HUB" true true
    rm -f "$RUN/twins.json"
    STANDIN_CERTS=$CERTS STANDIN_CONFIG=$RUN/python-twin-dps.json STANDIN_RUN_DIR=$RUN DPS_LISTEN=$PYTWIN_DPS_LISTEN \
        HUB_ADDRESS=$PYTWIN_HUB HUB_PORT=8883 "$ROOT/scripts/standins.sh" start > /dev/null
    # `timeout` bounds the script even if nobody stops it (an interrupted e2e run).
    start_bg "$RUN/python-twin.pid" "$PYTWIN_OUT" timeout 150 "$VENV/bin/python" -u "$ROOT/scripts/python-sdk-twin.py" \
        --id-scope "$PYTWIN_SCOPE" --host "${PYTWIN_DPS_LISTEN%:*}" --registration-id device1 --cert "$CERTS/device1.pem" \
        --key "$CERTS/device1.key" --ca "$CERTS/server-ca.pem" --wait 30

    pytwin_wait 'ready for desired|FAIL: .*' 60 || true
    pytwin_expect "the SDK provisions through our DPS (status assigned, hub $PYTWIN_HUB, device id device1) and connects to our hub" \
        eval 'pytwin_line "status: assigned" && pytwin_line "hub: $PYTWIN_HUB" && pytwin_line "device id: device1" && pytwin_line connected'
    pytwin_expect "get_twin(): desired and reported, each with an integer \$version (1 and 1 on a new twin)" \
        pytwin_line 'check get_twin: desired $version 1, reported $version 1'
    pytwin_expect "a new twin's GET is what IoT Hub answers: {\"desired\":{\"\$version\":1},\"reported\":{\"\$version\":1}} (no \$metadata)" \
        pytwin_line 'twin: {"desired":{"$version":1},"reported":{"$version":1}}'
    pytwin_expect "patch_twin_reported_properties({\"sdk\":\"python\",\"n\":1}) is accepted; get_twin() then has it at reported \$version 2" \
        eval 'pytwin_line "reported patch accepted" && pytwin_line "check reported: sdk=python n=1, reported \$version 1 -> 2" \
            && pytwin_line "twin: {\"desired\":{\"\$version\":1},\"reported\":{\"sdk\":\"python\",\"n\":1,\"\$version\":2}}"'

    if pytwin_line "ready for desired"; then
        pytwin_hub twin update device1 --desired '{"color":"blue"}'
        pytwin_expect "hub twin update device1 --desired {\"color\":\"blue\"} answers the twin with desired \$version 2" \
            eval '[ $PYTWIN_STATUS = 0 ] && pytwin_twin "d[\"color\"] == \"blue\" and d[\"\$version\"] == 2"'
        pytwin_wait 'ready for methods|FAIL: .*' 40 || true
    else
        fail "the script did not get to \"ready for desired\""
    fi
    pytwin_expect "on_twin_desired_properties_patch_received gets the patch with its \$version: {\"color\":\"blue\",\"\$version\":2}" \
        pytwin_line 'desired patch: {"color":"blue","$version":2}'
    pytwin_expect "get_twin() after the patch has it under desired at \$version 2" \
        eval 'pytwin_line "check desired in twin: \$version 2" \
            && pytwin_line "twin: {\"desired\":{\"color\":\"blue\",\"\$version\":2},\"reported\":{\"sdk\":\"python\",\"n\":1,\"\$version\":2}}"'

    if pytwin_line "ready for methods"; then
        pytwin_hub invoke device1 nosuch --timeout 10
        pytwin_expect "hub invoke device1 nosuch: the SDK's send_method_response with status 404 and a payload reaches the caller" \
            eval '[ $PYTWIN_STATUS = 0 ] && [ "$PYTWIN_SERVICE_OUT" = "{\"status\":404,\"payload\":{\"error\":\"no method nosuch here; this device has echo\"}}" ]'
        pytwin_hub invoke device1 echo --payload '{"x":1}' --timeout 10
        pytwin_expect "hub invoke device1 echo --payload {\"x\":1}: {\"status\":200,\"payload\":{\"x\":1}} (MethodResponse.create_from_method_request)" \
            eval '[ $PYTWIN_STATUS = 0 ] && [ "$PYTWIN_SERVICE_OUT" = "{\"status\":200,\"payload\":{\"x\":1}}" ]'
    else
        fail "the script did not get to \"ready for methods\""
    fi
    for _ in $(seq 300); do pid_alive "$RUN/python-twin.pid" python-sdk-twin || break; sleep 0.1; done
    stop_pidfile "$RUN/python-twin.pid" python-sdk-twin
    pytwin_expect "on_method_request_received saw both calls, each answered: nosuch 404, echo 200 with payload {\"x\":1}" \
        eval 'grep -Eqx "method request: nosuch \\\$rid=[^ ]+ payload null -> answered 404" "$PYTWIN_OUT" \
            && grep -Eqx "method request: echo \\\$rid=[^ ]+ payload \\{\"x\":1\\} -> answered 200" "$PYTWIN_OUT"'
    pytwin_expect "the script ends with every check passed, shuts the client down, and no FAIL line" \
        eval 'pytwin_line "all checks passed" && pytwin_line "shut down" && ! grep -q "^FAIL" "$PYTWIN_OUT"'

    pytwin_hub twin show device1
    pytwin_expect "hub twin show: reported sdk \"python\" and n 1 at \$version 2, desired color \"blue\" at \$version 2 (with \$metadata: the service view)" \
        eval '[ $PYTWIN_STATUS = 0 ] && pytwin_twin "d[\"color\"] == \"blue\" and d[\"\$version\"] == 2 and r[\"sdk\"] == \"python\" and r[\"n\"] == 1 and r[\"\$version\"] == 2 and \"\$metadata\" in d"'
    pytwin_expect "the hub granted each of the SDK's subscriptions (twin responses, desired patches, methods) and closed no connection for a bad topic" \
        eval 'grep -q "device1 SUBSCRIBE \$iothub/twin/res/# -> SUBACK 1$" "$RUN/hub.log" \
            && grep -q "device1 SUBSCRIBE \$iothub/twin/PATCH/properties/desired/# -> SUBACK 1$" "$RUN/hub.log" \
            && grep -q "device1 SUBSCRIBE \$iothub/methods/POST/# -> SUBACK 1$" "$RUN/hub.log" \
            && ! grep -q "not an IoT Hub device topic\|0x80" "$RUN/hub.log"'
    cp "$RUN/hub.log" "$RUN/python-twin-hub.log"
    STANDIN_RUN_DIR=$RUN "$ROOT/scripts/standins.sh" stop > /dev/null
fi

if [ "${PYTHON_TWIN_STANDALONE:-0}" = 1 ]; then
    echo
    if [ "$FAILURES" -ne 0 ]; then echo "e2e-python-twin: $FAILURES check(s) failed"; exit 1; fi
    echo "e2e-python-twin: all checks passed"
fi
