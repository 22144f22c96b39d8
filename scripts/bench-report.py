"""Prints the `make bench` tables (markdown) from what scripts/bench.sh left in build/bench/.

Usage: bench-report.py OUT_DIR MESSAGES [RETRY_AFTER]
"""
import datetime
import os
import re
import statistics
import sys

out, messages = sys.argv[1], int(sys.argv[2])
retry_after = sys.argv[3] if len(sys.argv) > 3 else "?"

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


def tls_throughput():
    path = os.path.join(out, "throughput.tsv")
    if not os.path.exists(path):
        return
    throughput = {}
    for line in open(path, encoding="utf-8"):
        client, _round, wall, rss, *rest = line.rstrip("\n").split("\t")
        throughput.setdefault(client, []).append((seconds(wall), int(rss), rest[0] if rest else ""))
    if not throughput:
        return  # BENCH_SKIP_TLS=1

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
    print()


tls_throughput()


# --- End to end: provision + 3 messages ----------------------------------------------------------

def stamp_lines(path):
    """(seconds since start, line) for each line; the exit time; the start's Unix time."""
    lines, end, epoch = [], None, None
    for raw in open(path, encoding="utf-8"):
        first, _, rest = raw.rstrip("\n").partition("\t")
        if first == "exit":
            end = float(rest.split("\t")[0])
        elif first == "start":
            epoch = float(rest)
        else:
            lines.append((float(first), rest))
    return lines, end, epoch


# The line each client prints when DPS has assigned it, and when its 3rd message is acknowledged
# (python-sdk-device.py prints "sent 3/3" once send_message has returned, after the PUBACK).
MARKS = {
    "swift": (re.compile(r"^DPS registration status: assigned"), re.compile(r"message 3/3 acknowledged")),
    "python": (re.compile(r"^status: assigned"), re.compile(r"^sent 3/3")),
    "state": (re.compile(r"^Using the assignment saved"), re.compile(r"message 3/3 acknowledged")),
}


def dps_times(path):
    """Unix times of the stand-in's CONNACK 0, 202 and poll's 200 for one run, from its log."""
    times = {}
    for line in open(path, encoding="utf-8"):
        m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z? .* (CONNECT|REGISTER|POLL) .*-> (CONNACK 0|202|200)", line)
        if m and m.group(2) not in times:
            when = datetime.datetime.fromisoformat(m.group(1)).replace(tzinfo=datetime.timezone.utc)
            times[m.group(2)] = when.timestamp()
    return times


def e2e():
    path = os.path.join(out, "e2e.tsv")
    if not os.path.exists(path):
        return
    runs = {}
    for line in open(path, encoding="utf-8"):
        client, rnd, wall, rss = line.rstrip("\n").split("\t")[:4]
        name = f"{client}.{rnd}"
        stamps, end, epoch = stamp_lines(os.path.join(out, "e2e", f"stamps.{name}"))
        assigned_mark, acked_mark = MARKS[client]
        assigned = next(t for t, l in stamps if assigned_mark.search(l))
        acked = next(t for t, l in stamps if acked_mark.search(l))
        dps = dps_times(os.path.join(out, "e2e", f"dps.{name}.log"))
        if client == "state":
            assert not dps, f"the run with a saved state reached DPS: {dps}"
        # Assigned at once (--assign-at-once): the register request's answer is the 200, no poll.
        wait = dps["POLL"] - dps["REGISTER"] if "POLL" in dps else 0.0
        # The wall time from the stamps (start to exit, microseconds) rather than /usr/bin/time's
        # two decimals: the runs take tens of milliseconds.
        wall_s = end if end is not None else seconds(wall)
        runs.setdefault(client, []).append({
            "wall": wall_s, "rss": int(rss) / 1024, "wait": wait,
            "net": wall_s - wait, "to_assigned": assigned - wait,
            "to_connack": dps["CONNECT"] - epoch if "CONNECT" in dps else 0.0,
            "telemetry": acked - assigned, "exit": end - acked,
        })
    if "swift" not in runs or "python" not in runs:
        return
    rounds = len(runs["swift"])

    def med(client, key):
        return statistics.median(r[key] for r in runs[client])

    print(f"### End to end: provision through the DPS stand-in + 3 messages (whole process, median of {rounds} rounds)\n")
    if float(retry_after) == 0:
        print("The DPS stand-in answers the register request with the assignment at once (`--assign-at-once`: no 202, no wait).\n")
    else:
        print(f"DPS stand-in `retry-after`: {retry_after} s (ours clamps it to at least 2 s; azure-iot-device polls")
        print("2 s after the register's 202 whatever it says). The wait is measured at the stand-in and shown apart.\n")
    print("| | ours: `make dist` binary, `dps-device run --interval 0` | azure-iot-device 2.14 (Python) | ours / theirs |")
    print("|---|---:|---:|---:|")
    rows = [
        ("wall s (whole process)", "wall", "{:.3f}"),
        ("peak RSS MiB", "rss", "{:.1f}"),
        ("DPS wait s (202 to poll, at the stand-in)", "wait", "{:.3f}"),
        ("wall s without the DPS wait", "net", "{:.3f}"),
        ("- start to assigned, without the DPS wait", "to_assigned", "{:.3f}"),
        ("  - of which start to the stand-in's CONNACK (start-up, TCP, TLS, CONNECT)", "to_connack", "{:.3f}"),
        ("- assigned to 3rd PUBACK (hub connect + 3 QoS 1)", "telemetry", "{:.3f}"),
        ("- 3rd PUBACK to exit", "exit", "{:.3f}"),
    ]
    for label, key, fmt in rows:
        ours, theirs = med("swift", key), med("python", key)
        ratio = f"{ours / theirs:.2f}x" if key != "wait" and theirs > 0 else ""
        print(f"| {label} | {fmt.format(ours)} | {fmt.format(theirs)} | {ratio} |")
    print()
    clients = [c for c in ("swift", "python", "state") if c in runs]
    for key, label, fmt in (("wall", "wall time (s)", "{:.3f}"), ("net", "wall without the DPS wait (s)", "{:.3f}"),
                            ("rss", "peak RSS (MiB)", "{:.1f}")):
        print(f"Each round's {label}: " + "; ".join(
            f"{client} " + ", ".join(fmt.format(r[key]) for r in runs[client]) for client in clients))
        print()
    if "state" in runs:
        print("### The gateway agent against its targets (issue: `dps-device` as a Linux gateway agent)\n")
        size_path = os.path.join(out, "agent-size.txt")
        size = int(open(size_path).read()) if os.path.exists(size_path) else 0
        wall_ratio = med("swift", "wall") / med("python", "wall")
        rows = [
            ("peak RSS, provision + 3 messages", f"{med('swift', 'rss'):.2f} MiB", "≤ 8 MiB", med("swift", "rss") <= 8),
            ("wall time against the Python SDK's", f"{med('swift', 'wall') * 1000:.0f} ms / {med('python', 'wall') * 1000:.0f} ms = {wall_ratio:.3f}x", "≤ 0.1x", wall_ratio <= 0.1),
            ("wall time with a saved state (no DPS connection)", f"{med('state', 'wall') * 1000:.0f} ms", "≤ 25 ms", med("state", "wall") <= 0.025),
            ("peak RSS with a saved state", f"{med('state', 'rss'):.2f} MiB", "", True),
        ]
        print("| figure | measured (median) | target | met |")
        print("|---|---:|---|---|")
        for label, value, target, met in rows:
            print(f"| {label} | {value} | {target} | {'yes' if met else 'NO'} |" if target else f"| {label} | {value} | | |")
        if size:
            print(f"\nThe `make dist` binary (bin/dps-device, stripped): {size:,} bytes.")
        print()


e2e()
