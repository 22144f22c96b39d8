# Section 6 of scripts/e2e-test.sh (sourced; uses its E2E, CERTS, RUN, SCOPE, DPS_DEVICE,
# expect/has/pass/fail): `dps-device run` serving the twin and direct methods against the hub
# stand-in, driven by the service commands, through a proxy that drops the connection once
# (scripts/hostile-servers.py cut-on-signal); then the twin store across a restart of the hub.

section "6. Twin and direct methods: dps-device run against the hub stand-in, driven by dps-device hub"
export STANDIN_CERTS=$CERTS STANDIN_CONFIG=$E2E/good.json STANDIN_RUN_DIR=$RUN
rm -f "$RUN/twins.json"
"$ROOT/scripts/standins.sh" start > /dev/null
SERVICE=(--cert "$CERTS/monitor.pem" --key "$CERTS/monitor.key" --ca-file "$CERTS/server-ca.pem")
PROXY_PORT=${E2E_HUB_PROXY_PORT:-18883}
start_bg "$RUN/proxy.pid" "$RUN/proxy.log" python3 "$ROOT/scripts/hostile-servers.py" cut-on-signal 127.0.0.2 "$PROXY_PORT" 8883
wait_for_log "$RUN/proxy.log" ready 10 "$RUN/proxy.pid" hostile-servers
# Acknowledges each writable property with its value and the desired $version (Plug and Play).
ACK='python3 -c "import json,sys; d=json.load(sys.stdin); print(json.dumps({k: {\"value\": v, \"ac\": 200, \"av\": d[\"\$version\"]} for k, v in d.items() if not k.startswith(\"\$\")}))"'
start_bg "$RUN/twin-device.pid" "$RUN/twin-device.log" "$DPS_DEVICE" run --id-scope "$SCOPE" --provisioning-host 127.0.0.1 \
    --ca "$CERTS/server-ca.pem" --cert "$CERTS/device1.pem" --key "$CERTS/device1.key" --hub-port "$PROXY_PORT" \
    --messages 2 --duration 25 --model-id "dtmi:com:example:Thermostat;1" --report '{"firmware":"1.2.0"}' \
    --method 'echo=cat' --method 'fail=echo "disk full" >&2; exit 3' --on-desired "$ACK"
wait_for_log "$RUN/twin-device.log" "Twin received" 30 "$RUN/twin-device.pid" "dps-device run"
wait_for_log "$RUN/twin-device.log" "Reported properties accepted" 10 "$RUN/twin-device.pid" "dps-device run"

hub() { set +e; OUT=$("$DPS_DEVICE" hub "$@" "${SERVICE[@]}" 2>&1); STATUS=$?; set -e; }
hub invoke device1 echo --payload '{"x":1,"s":"é"}' --timeout 10
expect "a method answered by the shell command: hub invoke prints {\"status\":200,\"payload\":…} with the request echoed" \
    eval '[ $STATUS = 0 ] && [ "$OUT" = "{\"status\":200,\"payload\":{\"x\":1,\"s\":\"é\"}}" ]'
hub invoke device1 fail
expect "a failing method command: status 500 with its standard error as {\"error\": …}" \
    eval '[ $STATUS = 0 ] && [ "$OUT" = "{\"status\":500,\"payload\":{\"error\":\"disk full\"}}" ]'
hub invoke device1 nosuch
expect "a method with no handler: 404, and the answer names the methods the device has" \
    eval '[ $STATUS = 0 ] && has "{\"status\":404,\"payload\":{\"error\":\"no handler for method nosuch on this device; it has echo, fail\"}}"'
hub c2d send device1 "hello device" --props "kind=greeting,a b=x&y"
expect "hub c2d send queues a message and answers its id" eval '[ $STATUS = 0 ] && has "\"queued\":1"'
wait_for_log "$RUN/twin-device.log" "Message from the cloud" 10 "$RUN/twin-device.pid" "dps-device run" || true
OUT=$(cat "$RUN/twin-device.log"); STATUS=0
expect "the device gets the C2D message with its properties, application ones percent-encoded" \
    eval 'grep -Eq "Message from the cloud: hello device \(properties: \\\$\.mid=[0-9a-f-]{36}&kind=greeting&a%20b=x%26y\)" <<< "$OUT"'
hub twin update device1 --desired '{"targetTemperature":21.5}'
expect "hub twin update answers the twin with desired \$version 2" eval '[ $STATUS = 0 ] && has "\"targetTemperature\":21.5" && has "\"\$version\":2"'
wait_for_log "$RUN/twin-device.log" "Desired properties patch v2" 10 "$RUN/twin-device.pid" "dps-device run" || true
sleep 1
hub twin show device1
expect "the device acknowledged the writable property through --on-desired (value 21.5, ac 200, av 2), model id and --report in the twin" \
    eval '[ $STATUS = 0 ] && has "\"targetTemperature\":{\"value\":21.5,\"ac\":200,\"av\":2}" && has "\"firmware\":\"1.2.0\"" \
        && has "\"modelId\":\"dtmi:com:example:Thermostat;1\"" && has "\"connectionState\":\"Connected\""'

# The network drops; a patch made while the device is away must reach it through its GET.
kill -USR1 "$(cat "$RUN/proxy.pid")"
hub twin update device1 --desired '{"targetTemperature":23}'
wait_for_log "$RUN/twin-device.log" "desired properties v3" 30 "$RUN/twin-device.pid" "dps-device run" || true
sleep 1
hub twin show device1
expect "after a forced reconnect the device re-reads the twin (desired v3) and acknowledges 23 at av 3: no patch lost" \
    eval '[ $STATUS = 0 ] && has "\"targetTemperature\":{\"value\":23,\"ac\":200,\"av\":3}"'
OUT=$(cat "$RUN/twin-device.log"); STATUS=0
expect "the device printed each event: twin received twice (after each connect), the patch with its version, the methods with their status" \
    eval '[ $(grep -c "Twin received" <<< "$OUT") -ge 2 ] && has "Desired properties patch v2: {\"targetTemperature\":21.5,\"\$version\":2}" \
        && has "Direct method echo called" && has "answered 404" && has "answered 500" && has "Connection to IoT Hub"'
for i in $(seq 400); do pid_alive "$RUN/twin-device.pid" "dps-device run" || break; sleep 0.1; done
set +e; wait "$(cat "$RUN/twin-device.pid")" 2>/dev/null; set -e
OUT=$(cat "$RUN/twin-device.log"); STATUS=0
expect "the run ends after --duration with a clean DISCONNECT: Done, 2 messages acknowledged" eval 'has "Done: 2 messages sent and acknowledged." && has "Disconnected from IoT Hub"'
hub invoke device1 echo
expect "a method on a device that is offline: exit 1, and the hub says it is not connected" eval '[ $STATUS = 1 ] && has "404" && has "is not connected"'
hub twin update device1 --desired '[1]'
expect "a desired patch that is not an object is refused before it is sent (exit 64)" eval '[ $STATUS = 64 ] && has "--desired must be a JSON object"'

"$ROOT/scripts/standins.sh" stop > /dev/null
cp "$RUN/hub.log" "$RUN/twin-hub.log"   # the restart starts a new log
"$ROOT/scripts/standins.sh" start > /dev/null
hub twin show device1
expect "twins survive a restart of the hub stand-in (desired 23 at v3, the acknowledgement, Disconnected)" \
    eval '[ $STATUS = 0 ] && has "\"targetTemperature\":23," && has "\"av\":3" && has "\"connectionState\":\"Disconnected\""'
hub twin update device1 --desired '{"targetTemperature":null,"mode":{"fan":"auto","eco":true}}'
hub twin update device1 --desired '{"mode":{"eco":null}}'
expect "desired patches merge as IoT Hub's do: null removes a property, objects merge (\$version 5)" \
    eval '[ $STATUS = 0 ] && ! grep -q "\"desired\":{\"targetTemperature\"" <<< "$OUT" && has "\"desired\":{\"mode\":{\"fan\":\"auto\"},\"\$metadata\"" && has "\"\$version\":5}"'
hub twin update device1 --desired '{"$version":9}'
expect "a desired patch with a \$ name is refused by the hub (exit 1, 400)" eval '[ $STATUS = 1 ] && has "400" && has "starting with \$ are IoT Hub"'
stop_pidfile "$RUN/proxy.pid" hostile-servers
"$ROOT/scripts/standins.sh" stop > /dev/null
