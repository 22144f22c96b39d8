#!/usr/bin/env bash
# The packet inspector on the largest legal MQTT packet (docs/packet-inspector.md, "Large
# packets"): a QoS 1 PUBLISH with remaining length 268,435,455 (256 MiB; 512 MiB of hex) goes
# through `dps-device mqtt decode`, and decode's JSON line back through `mqtt encode`, each under
# /usr/bin/time -v; prints wall time and peak RSS and checks that the round trip gives the input
# back. Run by hand (not in CI): it writes about 1.5 GiB under build/inspector-big/, removed at
# the end unless INSPECTOR_BIG_KEEP=1.
#
# Knobs: INSPECTOR_BIG_REMAINING_LENGTH (268435455); DPS_DEVICE and SWIFT_BUILD_FLAGS as for
# `make demo` (which binary to use, or how the release build is made).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "$ROOT/scripts/standins-lib.sh"
REMAINING_LENGTH=${INSPECTOR_BIG_REMAINING_LENGTH:-268435455}
OUT=$ROOT/build/inspector-big
mkdir -p "$OUT"

build_release
DPS_DEVICE=$(dps_device_path)

# The packet as one line of hex: topic devices/device1/messages/events/, packet id 1, payload
# byte i = i % 256.
python3 - "$REMAINING_LENGTH" > "$OUT/publish.hex" <<'EOF'
import sys
remaining = int(sys.argv[1])
topic = b"devices/device1/messages/events/"
variable = len(topic).to_bytes(2, "big") + topic + (1).to_bytes(2, "big")
length, field = remaining, bytearray()
while True:
    byte, length = length & 0x7F, length >> 7
    field.append(byte | 0x80 if length else byte)
    if not length:
        break
out = sys.stdout.buffer
out.write((bytes([0x32]) + field + variable).hex().encode())
block = bytes(range(256)) * 4096
left = remaining - len(variable)
while left >= len(block):
    out.write(block.hex().encode())
    left -= len(block)
out.write(block[:left].hex().encode() + b"\n")
EOF

# measure NAME INPUT OUTPUT ARGS...: runs dps-device under /usr/bin/time -v.
measure() {
    local name=$1 input=$2 output=$3
    shift 3
    /usr/bin/time -v -o "$OUT/$name.time" "$DPS_DEVICE" "$@" < "$input" > "$output"
    local wall rss
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$OUT/$name.time")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$OUT/$name.time")
    awk -v name="$name" -v wall="$wall" -v rss="$rss" -v command="dps-device $* < $(basename "$input")" \
        'BEGIN { printf "%-8s wall %-8s peak RSS %6.1f MiB  (%s)\n", name, wall, rss / 1024, command }'
}

echo "input: PUBLISH, remaining length $REMAINING_LENGTH, $(stat -c %s "$OUT/publish.hex") bytes of hex"
measure decode "$OUT/publish.hex" "$OUT/publish.json" mqtt decode
measure encode "$OUT/publish.json" "$OUT/again.hex" mqtt encode
head -c 160 "$OUT/publish.json"; echo " ..."
if cmp -s "$OUT/publish.hex" "$OUT/again.hex"; then
    echo "round trip: encode gave the input back"
else
    echo "round trip: FAILED (encode's output differs from the input)" >&2
    exit 1
fi
[ "${INSPECTOR_BIG_KEEP:-0}" = 1 ] || rm -f "$OUT/publish.hex" "$OUT/publish.json" "$OUT/again.hex"
