#!/usr/bin/env python3
"""Splits a firmware's sections by component, from the GNU ld map (-Wl,-Map).

Every input section the linker kept is counted under the output section it went to (.text,
.rodata, .data, .bss; .got, .ARM.exidx and .swift_modhash as "other flash") and under a
component:

- Swift objects (compiled with -function-sections, so each function or global has its own
  input section named after its mangled symbol) are split by the symbol's module, read from
  its Embedded Swift mangling: `$e10DeviceCore...` is DeviceCore, `$e12CortexMBoard...` the
  board, any other module (`$e8SelfTest...`, `$e9ModemDemo...`) the firmware's program
  (named by --program), `$es...`/`$eS...` and `swift_*` the Swift standard library and
  runtime (including stdlib generics specialised for DeviceCore types). A specialisation of
  a DeviceCore generic (DeviceFlow<ScriptedTransport, ...>) is DeviceCore's, wherever it was
  compiled, unless the compiler inlined it into a program function. Sections without a
  symbol (merged string literals) go to the component of the object they came from.
- C objects: board/ objects are the board; libc.a (picolibc) and libgcc.a are "libc".

DeviceCore's share is then split by source folder: the first declaration name in the mangled
symbol (the type or top-level function) is looked up among the top-level declarations of
Sources/DeviceCore/<folder>/*.swift.

  size-report.py --board B --map firmware.map --elf firmware.elf --core Sources/DeviceCore
"""
import argparse
import os
import re
import subprocess
import sys

FOLDER_LABELS = [
    ("MQTT", "codec (MQTT/)"),
    ("Session", "session (Session/)"),
    ("DPS", "DPS (DPS/)"),
    ("Hub", "hub (Hub/)"),
    ("Text", "text helpers (Text/)"),
    ("Device", "device flow (Device/)"),
    ("Modem", "modem link (Modem/)"),
    ("Bytes", "bytes (Bytes/)"),
    ("Time", "time (Time/)"),
    ("Board", "board interfaces (Board/)"),
    (None, "unattributed (machine-outlined code, merged literals)"),
]
PROGRAM = "program"  # the firmware's own module; its label comes from --program
COMPONENTS = ["DeviceCore", "board (C start-up, UART, SysTick; Swift clock/console)",
              "Swift runtime + stdlib", "libc (picolibc) + libgcc", PROGRAM, "alignment padding"]
COLUMNS = [".text", ".rodata", ".data", ".bss", "other"]


def output_column(name):
    if name == ".text":
        return ".text"
    if name == ".rodata":
        return ".rodata"
    if name in (".data", ".tdata"):
        return ".data"
    if name in (".bss", ".tbss"):
        return ".bss"
    if name in (".got", ".ARM.exidx", ".ARM.extab", ".swift_modhash", ".iplt", ".igot.plt", ".rel.dyn"):
        return "other"
    return None  # debug info, attributes: not in the image


def parse_map(path):
    """Yields (output section, input section name, address, size, object) for every kept input section."""
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    try:
        start = lines.index("Linker script and memory map")
    except ValueError:
        sys.exit(f"{path}: no memory map")
    out = None
    pending = None
    for line in lines[start + 1:]:
        if re.match(r"^\.[^ ]", line) or re.match(r"^[A-Za-z/]", line):
            out = line.split()[0] if line.startswith(".") else None
            pending = None
            continue
        if out is None:
            continue
        fields = line.split()
        if not fields:
            continue
        if line.startswith(" *fill*"):
            if len(fields) >= 3:
                yield out, "*fill*", int(fields[1], 16), int(fields[2], 16), ""
            continue
        if line.startswith(" ") and not line.startswith("  ") and fields[0].startswith("."):
            # " .text.name  0xADDR 0xSIZE object" or the name alone, with the rest on the next line.
            if len(fields) >= 4 and fields[1].startswith("0x") and fields[2].startswith("0x"):
                yield out, fields[0], int(fields[1], 16), int(fields[2], 16), " ".join(fields[3:])
                pending = None
            else:
                pending = fields[0]
            continue
        if pending and len(fields) >= 3 and fields[0].startswith("0x") and fields[1].startswith("0x"):
            yield out, pending, int(fields[0], 16), int(fields[1], 16), " ".join(fields[2:])
            pending = None
            continue
        pending = None


def read_identifier(s, i, words):
    """Reads one mangled identifier at s[i:] (with word substitutions); returns (name, next i)."""
    if i >= len(s) or not s[i].isdigit():
        return None, i
    subst = False
    if s[i] == "0":
        i += 1
        subst = True
    name = ""
    while True:
        while subst and i < len(s) and s[i].isalpha():
            c = s[i]
            i += 1
            index = ord(c.lower()) - ord("a")
            name += words[index] if index < len(words) else "?"
            if c.isupper():
                subst = False
        if i < len(s) and s[i] == "0" and name:
            i += 1
            break
        m = re.match(r"\d+", s[i:])
        if not m:
            break
        n = int(m.group(0))
        i += len(m.group(0))
        name += s[i:i + n]
        i += n
        if not subst:
            break
    return name, i


def split_words(identifier):
    return [w for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+", identifier) if len(w) > 1]


def classify_symbol(symbol):
    """(component, DeviceCore declaration name or None) for a section's symbol, or None."""
    if symbol.startswith("swift_") or symbol.startswith("_swift_"):
        return "Swift runtime + stdlib", None
    if not symbol.startswith("$e") and not symbol.startswith("$s"):
        return None
    body = symbol[2:]
    if body.startswith("10DeviceCore"):
        name, _ = read_identifier(body, len("10DeviceCore"), ["Device", "Core"])
        return "DeviceCore", name
    if body.startswith("12CortexMBoard"):
        return "board (C start-up, UART, SysTick; Swift clock/console)", None
    if body[:1].isdigit():  # another module: the firmware's program (SelfTest, ModemDemo)
        return PROGRAM, None
    # A stdlib type extended in DeviceCore: $eSi10DeviceCoreE..., $es5Int64V10DeviceCoreE...
    m = re.match(r"^(S[a-zA-Z]|s\d+[A-Za-z_]+[VOC])10DeviceCoreE", body)
    if m:
        head = m.group(1)
        std = {"Si": "Int", "Su": "UInt", "Sb": "Bool", "Sw": "UnsafeMutableRawBufferPointer", "SW": "UnsafeRawBufferPointer",
               "Sv": "UnsafeMutableRawPointer", "SV": "UnsafeRawPointer", "Ss": "String", "SS": "String"}.get(head)
        if std is None and head.startswith("s"):
            std = re.sub(r"^s\d+", "", head)[:-1]
        return "DeviceCore", "extension " + (std or head)
    return "Swift runtime + stdlib", None


def object_component(obj):
    base = os.path.basename(obj)
    if "libc.a(" in obj or "libgcc.a(" in obj or "libc.a" == base or base.startswith("libgcc"):
        return "libc (picolibc) + libgcc"
    if base == "DeviceCore.o":
        return "DeviceCore"
    if base in ("CortexMBoard.o", "cortexm.o", "board.o", "atomics-armv6m.o"):
        return "board (C start-up, UART, SysTick; Swift clock/console)"
    return PROGRAM if base.endswith(".o") else "libc (picolibc) + libgcc"


def declaration_folders(core):
    """Top-level declaration name -> folder, from the DeviceCore sources."""
    table = {}
    for folder in sorted(os.listdir(core)):
        directory = os.path.join(core, folder)
        if not os.path.isdir(directory):
            continue
        for file in sorted(os.listdir(directory)):
            if not file.endswith(".swift"):
                continue
            for line in open(os.path.join(directory, file), encoding="utf-8"):
                m = re.match(r"^(?:public |internal |private |fileprivate |@\w+(?:\([^)]*\))? )*"
                             r"(struct|enum|class|protocol|typealias|func|let|var|extension)\s+([A-Za-z_][A-Za-z0-9_]*)", line)
                if not m:
                    continue
                kind, name = m.groups()
                key = ("extension " + name) if kind == "extension" else name
                table.setdefault(key, folder)
    return table


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--board", required=True)
    parser.add_argument("--map", required=True)
    parser.add_argument("--elf", required=True)
    parser.add_argument("--core", required=True)
    parser.add_argument("--size-tool", default="arm-none-eabi-size")
    parser.add_argument("--program", default="self-test program (vectors, scripted peer)",
                        help="what to call the firmware's own module in the table")
    parser.add_argument("--unattributed", action="store_true", help="list DeviceCore symbols without a folder")
    parser.add_argument("--summary-stack", type=int, metavar="BYTES",
                        help="print only `size-summary BOARD core=N modem=N stack=BYTES`: DeviceCore's flash, "
                             "its Modem/ share, and the given stack high-water")
    args = parser.parse_args()

    folders = declaration_folders(args.core)
    totals = {c: dict.fromkeys(COLUMNS, 0) for c in COMPONENTS}
    core_split = {label: dict.fromkeys(COLUMNS, 0) for _, label in FOLDER_LABELS}
    folder_label = {f: label for f, label in FOLDER_LABELS}
    unattributed = []
    # Merged string sections (SHF_MERGE) are listed with their sizes before merging, overlapping
    # each other and the sections after them. Sections that start at the same address form one
    # group, which spans up to the next address; its bytes are shared out in proportion to the
    # listed sizes (duplicated literals are stored once, so exact attribution does not exist).
    sections = list(parse_map(args.map))
    starts = {}
    for out, _, address, _, _ in sections:
        starts.setdefault(out, set()).add(address)
    ordered = {out: sorted(addresses) for out, addresses in starts.items()}
    groups = {}
    for item in sections:
        groups.setdefault((item[0], item[2]), []).append(item)
    clipped = []
    for (out, address), members in groups.items():
        addresses = ordered[out]
        position = addresses.index(address)
        listed = sum(m[3] for m in members)
        span = max(m[3] for m in members)
        if position + 1 < len(addresses):
            span = min(span, addresses[position + 1] - address)
        given = 0
        for index, (_, section, _, size, obj) in enumerate(members):
            share = span - given if index == len(members) - 1 else (span * size // listed if listed else 0)
            given += share
            clipped.append((out, section, share, obj))
    for out, section, size, obj in clipped:
        column = output_column(out)
        if column is None or size == 0:
            continue
        if section == "*fill*":
            totals["alignment padding"][column] += size
            continue
        symbol = re.sub(r"^\.(text|rodata|data|bss|tdata|tbss)\.", "", section)
        result = classify_symbol(symbol) if symbol != section else None
        if result is None:
            component, name = object_component(obj), None
        else:
            component, name = result
        if obj and ("libc.a(" in obj or "libgcc.a(" in obj):
            component = "libc (picolibc) + libgcc"
        elif obj and os.path.basename(obj) in ("cortexm.o", "board.o", "atomics-armv6m.o"):
            component = "board (C start-up, UART, SysTick; Swift clock/console)"
        totals[component][column] += size
        if component == "DeviceCore":
            folder = folders.get(name) if name else None
            if folder is None and name:
                unattributed.append((size, section))
            core_split[folder_label.get(folder, "unattributed (machine-outlined code, merged literals)")][column] += size

    size_line = subprocess.run([args.size_tool, "-A", args.elf], capture_output=True, text=True, check=True).stdout
    elf = {}
    for line in size_line.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0].startswith(".") and f[1].isdigit():
            elf[f[0]] = int(f[1])

    def row(label, values, width=58):
        ram = values[".data"] + values[".bss"]
        cells = "".join(f"{values[c]:>9}" for c in COLUMNS)
        return f"{label:<{width}}{cells}{flash(values):>9}{ram:>8}"

    def flash(values):
        return values[".text"] + values[".rodata"] + values[".data"] + values["other"]

    if args.summary_stack is not None:
        modem = flash(core_split[folder_label["Modem"]])
        print(f"size-summary {args.board} core={flash(totals['DeviceCore'])} modem={modem} stack={args.summary_stack}")
        return

    header = f"{'':<58}" + "".join(f"{c:>9}" for c in COLUMNS) + f"{'flash':>9}{'RAM':>8}"
    print(f"== {args.board}: {args.elf}")
    print(header)
    grand = dict.fromkeys(COLUMNS, 0)
    for component in COMPONENTS:
        if any(totals[component].values()):
            print(row(args.program if component == PROGRAM else component, totals[component]))
        for c in COLUMNS:
            grand[c] += totals[component][c]
    print(row("total", grand))
    check = {".text": elf.get(".text", 0), ".rodata": elf.get(".rodata", 0), ".data": elf.get(".data", 0),
             ".bss": elf.get(".bss", 0)}
    for name, value in check.items():
        if value != grand[name]:
            print(f"size-report: {name}: map sums to {grand[name]}, ELF has {value}", file=sys.stderr)
            sys.exit(1)
    print(f"DeviceCore by source folder (symbols mapped through their mangled type/function name):")
    for _, label in FOLDER_LABELS:
        if any(core_split[label].values()):
            print(row("  " + label, core_split[label]))
    if args.unattributed and unattributed:
        for size, section in sorted(unattributed, reverse=True):
            print(f"    unattributed {size:>6} {section}")


if __name__ == "__main__":
    main()
