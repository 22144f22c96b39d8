"""Runs a command and writes each line of its output with the time it arrived (scripts/bench.sh).

Usage: bench-stamp.py STAMPS -- COMMAND [ARGS...]

STAMPS gets `start<TAB>UNIX TIME` (the wall clock when the command was started, to place other
logs' timestamps), then one `SECONDS<TAB>LINE` per line of the command's standard output and
error (merged), SECONDS counted from just before the command was started (time.monotonic), then
`exit<TAB>SECONDS<TAB>STATUS` when it has exited. The command's own lines are also copied to our
standard output. Exits with the command's status.

Both clients of the end-to-end benchmark write each line unbuffered (dps-device with one write(2)
per line, scripts/python-sdk-device.py with flush=True), so a line's arrival time is the time
the client reached that step, on one clock for both. This process is the parent of COMMAND (e.g.
`/usr/bin/time -v -o FILE client ...`), so its own memory is not in the client's peak RSS.
"""
import subprocess
import sys
import time

stamps, command = sys.argv[1], sys.argv[3:]
assert sys.argv[2] == "--" and command, __doc__
with open(stamps, "w", encoding="utf-8") as out:
    out.write(f"start\t{time.time():.6f}\n")
    start = time.monotonic()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    for raw in child.stdout:
        now = time.monotonic() - start
        line = raw.decode("utf-8", "replace").rstrip("\n")
        out.write(f"{now:.6f}\t{line}\n")
        sys.stdout.write(line + "\n")
    status = child.wait()
    out.write(f"exit\t{time.monotonic() - start:.6f}\t{status}\n")
sys.exit(status)
