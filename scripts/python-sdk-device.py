"""The walkthrough's device script (../shared/seed), with its four hand-edited values as flags.

Provisions through DPS with X.509 (azure-iot-device 2.14), then sends 3 JSON messages one
second apart to the assigned hub (--messages, --interval). Used by scripts/e2e-test.sh and
scripts/bench.sh (--interval 0) against the local stand-ins; the SDK's port is fixed at 8883 and
it takes the server CA as PEM text. Each line is flushed as it is printed ("sent i/N" once
send_message has returned, i.e. after the PUBACK), so that a reader can time them.
"""
import argparse
import datetime
import json
import random
import sys
import time

from azure.iot.device import IoTHubDeviceClient, Message, ProvisioningDeviceClient, X509

parser = argparse.ArgumentParser()
parser.add_argument("--id-scope", required=True)
parser.add_argument("--host", default="global.azure-devices-provisioning.net")
parser.add_argument("--registration-id", default="device1")
parser.add_argument("--cert", required=True)
parser.add_argument("--key", required=True)
parser.add_argument("--ca", help="server CA PEM (default: the system's)")
parser.add_argument("--messages", type=int, default=3)
parser.add_argument("--interval", type=float, default=1.0, help="seconds to sleep after each message")
args = parser.parse_args()

ca = open(args.ca).read() if args.ca else None
x509 = X509(cert_file=args.cert, key_file=args.key)
provisioning = ProvisioningDeviceClient.create_from_x509_certificate(
    provisioning_host=args.host, registration_id=args.registration_id, id_scope=args.id_scope,
    x509=x509, server_verification_cert=ca)
result = provisioning.register()
print(f"status: {result.status}", flush=True)
if result.status != "assigned":
    sys.exit(1)
state = result.registration_state
print(f"hub: {state.assigned_hub}", flush=True)
print(f"device id: {state.device_id}", flush=True)

client = IoTHubDeviceClient.create_from_x509_certificate(
    x509=x509, hostname=state.assigned_hub, device_id=state.device_id, server_verification_cert=ca)
client.connect()
count = args.messages
for i in range(1, count + 1):
    body = {
        "temperature": round(random.uniform(20, 30), 1),
        "humidity": round(random.uniform(50, 70), 1),
        "message": f"Hello from the Python SDK (message {i}/{count})",
        "timestamp": datetime.datetime.now().isoformat(),
        "deviceId": state.device_id,
    }
    message = Message(json.dumps(body), content_encoding="utf-8", content_type="application/json")
    client.send_message(message)
    print(f"sent {i}/{count}: {json.dumps(body)}", flush=True)
    if args.interval > 0:
        time.sleep(args.interval)
client.shutdown()
