"""paho-mqtt's row of `make bench`: N QoS 1 messages over TLS (client certificate), all PUBACKs.

Usage: bench-paho.py PORT CA CERT KEY PAYLOAD_FILE [COUNT] [TOPIC]
The payload is the file's first line (without its newline), as mosquitto_pub -l sends it.
"""
import ssl
import sys
import threading
import time

import paho.mqtt.client as mqtt

port, ca, cert, key, payload_file = sys.argv[1:6]
count = int(sys.argv[6]) if len(sys.argv) > 6 else 10_000
topic = sys.argv[7] if len(sys.argv) > 7 else "devices/device1/messages/events/bench/a1"
with open(payload_file, "rb") as f:
    payload = f.readline().rstrip(b"\n")

done = threading.Event()
acknowledged = 0


def on_publish(client, userdata, mid, reason_code=None, properties=None):
    global acknowledged
    acknowledged += 1
    if acknowledged == count:
        done.set()


client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-paho", protocol=mqtt.MQTTv311)
client.tls_set(ca_certs=ca, certfile=cert, keyfile=key, tls_version=ssl.PROTOCOL_TLS_CLIENT)
client.max_inflight_messages_set(20)  # paho's default, as mosquitto_pub's and ours
client.on_publish = on_publish
started = time.monotonic()
client.connect("localhost", int(port), keepalive=60)
client.loop_start()
for _ in range(count):
    client.publish(topic, payload, qos=1)
if not done.wait(120):
    sys.exit(f"bench-paho: only {acknowledged} of {count} acknowledged")
elapsed = time.monotonic() - started
client.disconnect()
client.loop_stop()
print(f"paho-mqtt: {count} messages acknowledged in {elapsed:.3f} s (connect to last PUBACK), {count / elapsed:.0f} msg/s")
