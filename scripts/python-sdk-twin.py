"""The official Python SDK (azure-iot-device 2.14) against the hub stand-in: twin and direct methods.

Provisions through DPS with X.509 like scripts/python-sdk-device.py (same flags), connects to the
assigned hub, then checks, one flushed line each (a driver greps them; scripts/e2e-python-twin.sh):

  1. get_twin(): "desired" and "reported", each with an integer "$version" (each get_twin()
     prints "twin: {…}", the twin as compact JSON, in the order received);
  2. patch_twin_reported_properties({"sdk": "python", "n": 1}): a new get_twin() has them, at a
     higher reported "$version";
  3. a desired-properties patch handler: prints "ready for desired" once the SDK has subscribed,
     then waits (--wait seconds) for the driver's `dps-device hub twin update` and prints
     "desired patch: {…}" (compact JSON as received, "$version" included); a get_twin() then
     shows the patch under "desired" at that version;
  4. a method request handler: prints "ready for methods", then waits for the driver's
     `dps-device hub invoke DEVICE echo --payload …`; "echo" is answered 200 with the request's
     payload, any other method 404. Ends once "echo" has been answered.

A check that fails prints "FAIL: …" and the script exits 1 (2 for a provisioning failure); all
passing ends with "all checks passed" and exit 0.
"""
import argparse
import json
import queue
import sys

from azure.iot.device import IoTHubDeviceClient, MethodResponse, ProvisioningDeviceClient, X509

parser = argparse.ArgumentParser()
parser.add_argument("--id-scope", required=True)
parser.add_argument("--host", default="global.azure-devices-provisioning.net")
parser.add_argument("--registration-id", default="device1")
parser.add_argument("--cert", required=True)
parser.add_argument("--key", required=True)
parser.add_argument("--ca", help="server CA PEM (default: the system's)")
parser.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the desired patch and for the method call")
args = parser.parse_args()


def say(line):
    print(line, flush=True)


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class CheckFailed(Exception):
    pass


def check(condition, what):
    if not condition:
        raise CheckFailed(what)


def is_version(value):
    return isinstance(value, int) and not isinstance(value, bool)


ca = open(args.ca).read() if args.ca else None
x509 = X509(cert_file=args.cert, key_file=args.key)
provisioning = ProvisioningDeviceClient.create_from_x509_certificate(
    provisioning_host=args.host, registration_id=args.registration_id, id_scope=args.id_scope,
    x509=x509, server_verification_cert=ca)
result = provisioning.register()
say(f"status: {result.status}")
if result.status != "assigned":
    say("FAIL: provisioning did not assign the device")
    sys.exit(2)
state = result.registration_state
say(f"hub: {state.assigned_hub}")
say(f"device id: {state.device_id}")

client = IoTHubDeviceClient.create_from_x509_certificate(
    x509=x509, hostname=state.assigned_hub, device_id=state.device_id, server_verification_cert=ca)
patches = queue.Queue()
methods = queue.Queue()


def on_desired(patch):
    patches.put(patch)


def on_method(request):
    # Answered here, in the SDK's handler thread; the main thread is told what happened.
    if request.name == "echo":
        response = MethodResponse.create_from_method_request(request, 200, request.payload)
    else:
        response = MethodResponse.create_from_method_request(
            request, 404, {"error": f"no method {request.name} here; this device has echo"})
    try:
        client.send_method_response(response)
        methods.put((request, response.status, None))
    except Exception as error:  # reported by the main thread
        methods.put((request, response.status, error))


code = 0
try:
    client.connect()
    say("connected")

    # 1. The whole twin.
    twin = client.get_twin()
    say(f"twin: {compact(twin)}")
    check(isinstance(twin, dict) and isinstance(twin.get("desired"), dict) and isinstance(twin.get("reported"), dict),
          f"get_twin() is not {{\"desired\": {{…}}, \"reported\": {{…}}}}: {compact(twin)}")
    desired_version, reported_version = twin["desired"].get("$version"), twin["reported"].get("$version")
    check(is_version(desired_version) and is_version(reported_version),
          f"get_twin() lacks an integer $version on each side: {compact(twin)}")
    say(f"check get_twin: desired $version {desired_version}, reported $version {reported_version}")

    # 2. A reported patch, read back.
    client.patch_twin_reported_properties({"sdk": "python", "n": 1})
    say("reported patch accepted")
    twin = client.get_twin()
    say(f"twin: {compact(twin)}")
    reported = twin.get("reported", {})
    check(reported.get("sdk") == "python" and reported.get("n") == 1,
          f"get_twin() after the reported patch does not have sdk=python, n=1: {compact(reported)}")
    check(is_version(reported.get("$version")) and reported["$version"] > reported_version,
          f"reported $version did not go up from {reported_version}: {compact(reported)}")
    say(f"check reported: sdk={reported['sdk']} n={reported['n']}, reported $version {reported_version} -> {reported['$version']}")

    # 3. A desired patch pushed by the service.
    client.on_twin_desired_properties_patch_received = on_desired  # returns once subscribed
    say("ready for desired")
    try:
        patch = patches.get(timeout=args.wait)
    except queue.Empty:
        raise CheckFailed(f"no desired patch arrived in {args.wait:g} s")
    say(f"desired patch: {compact(patch)}")
    check(is_version(patch.get("$version")) and patch["$version"] > desired_version,
          f"the desired patch's $version is not above {desired_version}")
    twin = client.get_twin()
    say(f"twin: {compact(twin)}")
    desired = twin.get("desired", {})
    check(desired.get("$version") == patch["$version"]
          and all(desired.get(k) == v for k, v in patch.items() if not k.startswith("$")),
          f"get_twin() after the desired patch does not have it at $version {patch['$version']}: {compact(desired)}")
    say(f"check desired in twin: $version {desired['$version']}")

    # 4. A direct method, answered.
    client.on_method_request_received = on_method  # returns once subscribed
    say("ready for methods")
    while True:
        try:
            request, status, error = methods.get(timeout=args.wait)
        except queue.Empty:
            raise CheckFailed(f"no echo method call arrived in {args.wait:g} s")
        if error is not None:
            raise CheckFailed(f"send_method_response for {request.name} failed: {error!r}")
        say(f"method request: {request.name} $rid={request.request_id} payload {compact(request.payload)} -> answered {status}")
        if request.name == "echo":
            break
    say("all checks passed")
except CheckFailed as failure:
    say(f"FAIL: {failure}")
    code = 1
except Exception as error:
    say(f"FAIL: {type(error).__name__}: {error}")
    code = 1
finally:
    client.shutdown()
    say("shut down")
sys.exit(code)
