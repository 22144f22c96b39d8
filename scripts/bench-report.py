"""Prints the `make bench` tables (markdown) from what scripts/bench.sh left in build/bench/.

Usage: bench-report.py OUT_DIR MESSAGES
"""
import os
import re
import statistics
import sys

out, messages = sys.argv[1], int(sys.argv[2])

# coreMQTT 2.3.1 (gcc -O2), QoS 1 PUBLISH, 40 B topic, 256 B payload: the figures, not
# measured here (its code is not fetched).
REFERENCE = {"encode PUBLISH 256B": 13, "decode PUBLISH 256B (MQTTPacket.decode)": 10}


def nanoseconds(value, unit):
    scale = {"ns": 1, "μs": 1_000, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}[unit]
    return float(value) * scale


def fmt_ns(ns):
    return f"{ns:,.0f}" if ns >= 100 else f"{ns:.1f}"


def micro_rows(path):
    """Benchmark name -> (p50 ns, p50 mallocs, p99 ns) from the text tables."""
    rows, name = {}, None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line and line[0] not in "│╒╞├╘=" and not line.startswith(("Host", "#", "Baseline", "Running", "Build", "Warning", "Note")):
            name = line.strip()
            continue
        m = re.match(r"│ (Malloc \(total\)|Time \(wall clock\) \((\S+)\)) \*?\s*│(.*)", line)
        if not m or name is None:
            continue
        cells = [c.strip() for c in m.group(3).split("│")]  # p0 p25 p50 p75 p90 p99 p100 samples
        entry = rows.setdefault(name, {})
        if m.group(1).startswith("Malloc"):
            entry["mallocs"] = cells[2]
        else:
            entry["p50"] = nanoseconds(cells[2], m.group(2))
            entry["p99"] = nanoseconds(cells[5], m.group(2))
            entry["samples"] = cells[7]
    return rows


micro_path = os.path.join(out, "microbench.txt")
if os.path.exists(micro_path):
    rows = micro_rows(micro_path)
    print("### Codec (ordo-one/benchmark, release; per operation, median of the samples)\n")
    print("| packet | payload | encode ns | decode ns (`MQTTPacket.decode`) | decode ns (`MQTTFrameReader`) | mallocs (enc/dec/reader) |")
    print("|---|---|---:|---:|---:|---|")
    for kind in ("CONNECT", "SUBSCRIBE", "PUBLISH"):
        for size in ("16B", "256B", "64KB"):
            enc = rows.get(f"encode {kind} {size}", {})
            dec = rows.get(f"decode {kind} {size} (MQTTPacket.decode)", {})
            frm = rows.get(f"decode {kind} {size} (MQTTFrameReader)", {})
            cells = [fmt_ns(r["p50"]) if "p50" in r else "?" for r in (enc, dec, frm)]
            mallocs = "/".join(r.get("mallocs", "?") for r in (enc, dec, frm))
            print(f"| {kind} | {size[:-2] + ' KB' if size.endswith('KB') else size[:-1] + ' B'} | {cells[0]} | {cells[1]} | {cells[2]} | {mallocs} |")
    print()
    print("| operation | ns/op (p50) | ns/op (p99) | mallocs/op |")
    print("|---|---:|---:|---:|")
    for name, r in rows.items():
        if name.startswith(("encode ", "decode ")):
            continue
        print(f"| {name} | {fmt_ns(r.get('p50', 0))} | {fmt_ns(r.get('p99', 0))} | {r.get('mallocs', '?')} |")
    print()
    print("### Against the issue's reference (coreMQTT 2.3.1, gcc -O2; the issue's figures, not measured here)\n")
    print("| QoS 1 PUBLISH, 40 B topic, 256 B payload | ours ns (p50) | coreMQTT ns | ours / coreMQTT |")
    print("|---|---:|---:|---:|")
    for name, ref in REFERENCE.items():
        ours = rows.get(name, {}).get("p50")
        if ours:
            print(f"| {name.split(' (')[0].split(' ')[0]} | {fmt_ns(ours)} | ~{ref} | {ours / ref:.1f}x |")
    print()

instructions_path = os.path.join(out, "instructions.tsv")
if os.path.exists(instructions_path):
    print("### Instructions per operation (callgrind; the same PUBLISH)\n")
    print("| operation | instructions/op |")
    print("|---|---:|")
    for line in open(instructions_path):
        op, count = line.split()
        print(f"| {op} | {int(count):,} |")
    print()


def seconds(text):
    parts = text.split(":")
    value = 0.0
    for part in parts:
        value = value * 60 + float(part)
    return value


throughput = {}
for line in open(os.path.join(out, "throughput.tsv"), encoding="utf-8"):
    client, _round, wall, rss, *rest = line.rstrip("\n").split("\t")
    throughput.setdefault(client, []).append((seconds(wall), int(rss), rest[0] if rest else ""))

names = {
    "swift": "ours: `MQTTClient` + `TLSTransport` (Swift, mbedTLS)",
    "mosquitto_pub": "`mosquitto_pub -q 1 -l` (C, libmosquitto, OpenSSL)",
    "paho": "paho-mqtt (Python, ssl)",
}
print(f"### {messages:,} QoS 1 messages over TLS to mosquitto (whole process, median of {len(next(iter(throughput.values())))} rounds)\n")
print("| client | wall s | messages/s | peak RSS MiB | wall vs ours | RSS vs ours |")
print("|---|---:|---:|---:|---:|---:|")
base_wall = statistics.median(w for w, _, _ in throughput["swift"])
base_rss = statistics.median(r for _, r, _ in throughput["swift"])
for client in ("swift", "mosquitto_pub", "paho"):
    runs = throughput.get(client, [])
    if not runs:
        continue
    wall = statistics.median(w for w, _, _ in runs)
    rss = statistics.median(r for _, r, _ in runs)
    print(f"| {names[client]} | {wall:.2f} | {messages / wall:,.0f} | {rss / 1024:.1f} | {wall / base_wall:.2f}x | {rss / base_rss:.2f}x |")
print()
print("Each round's wall time (s): " + "; ".join(
    f"{client} " + ", ".join(f"{w:.2f}" for w, _, _ in runs) for client, runs in throughput.items()))
for client in ("swift", "paho"):
    lines = [note for _, _, note in throughput.get(client, []) if note]
    if lines:
        print(f"\n{client}'s own timing, round 1: {lines[0]}")
