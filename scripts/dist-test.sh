#!/usr/bin/env bash
# `make dist-test` (part of `make test`): the `make dist` tarball, unpacked in a fresh directory,
# is what a device owner copies. Checks that
#  1. its binary needs nothing from the toolchain: `ldd` lists only glibc, libstdc++ and
#     libgcc_s (no libswift*, no Foundation, no mbedTLS .so), and it runs with `env -i`;
#  2. the systemd unit passes `systemd-analyze verify` with the binary where the unit expects it;
#  3. the gateway agent tests (scripts/gateway-test.sh) pass with that binary in a clean
#     environment (`env -i`: no PATH, no HOME), the developer build making certificates and
#     running the stand-ins.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARBALL=$("$ROOT/scripts/dist.sh" | tail -n 1)
UNPACK=$ROOT/build/dist-test
rm -rf "$UNPACK" && mkdir -p "$UNPACK"
tar -C "$UNPACK" -xzf "$TARBALL"
BIN=$(echo "$UNPACK"/*/bin/dps-device)
FAILURES=0
pass() { printf '  \033[32mok\033[0m   %s\n' "$*"; }
fail() { printf '  \033[31mFAIL\033[0m %s\n' "$*"; FAILURES=$((FAILURES + 1)); }

printf '\n\033[1m%s\033[0m\n' "The dist tarball: $(basename "$TARBALL")"
LIBS=$(ldd "$BIN" | awk '{print $1}' | sed 's|.*/||' | sort | tr '\n' ' ')
if ldd "$BIN" | grep -v -E '^\s*(linux-vdso\.so|/lib64/ld-linux|lib(c|m|stdc\+\+|gcc_s|pthread|dl|rt)\.so)' | grep -q .; then
    fail "the binary needs libraries beyond glibc, libstdc++ and libgcc_s:"; ldd "$BIN" | sed 's/^/      /'
else
    pass "the binary links only system libraries: $LIBS"
fi
if env -i "$BIN" help run > "$UNPACK/help.out" 2>&1 && grep -q -- "--state" "$UNPACK/help.out"; then
    pass "it runs with an empty environment (\`env -i dps-device help run\`)"
else
    fail "env -i dps-device help run failed:"; sed 's/^/      /' "$UNPACK/help.out"
fi
for file in share/doc/dps-device/help.txt share/doc/dps-device/dps-device.md lib/systemd/system/dps-device.service etc/dps-device/dps-device.env.example; do
    [ -s "$(dirname "$BIN")/../$file" ] || fail "the tarball lacks $file"
done

# systemd-analyze verify wants the unit's binary at its path and the system's units beside it: a
# root made for it. It exits 0 on a directive it ignores, so any output is a failure too.
VERIFY=$UNPACK/verify-root
mkdir -p "$VERIFY/usr/local/bin" "$VERIFY/etc/systemd/system" "$VERIFY/usr/lib/systemd"
[ -d /usr/lib/systemd/system ] && cp -r /usr/lib/systemd/system "$VERIFY/usr/lib/systemd/"
cp "$BIN" "$VERIFY/usr/local/bin/dps-device"
cp "$(dirname "$BIN")/../lib/systemd/system/dps-device.service" "$VERIFY/etc/systemd/system/"
if command -v systemd-analyze > /dev/null; then
    if systemd-analyze verify --root="$VERIFY" /etc/systemd/system/dps-device.service > "$UNPACK/verify.out" 2>&1 \
            && [ ! -s "$UNPACK/verify.out" ]; then
        pass "systemd-analyze verify accepts the unit"
    else
        fail "systemd-analyze verify rejects the unit:"; sed 's/^/      /' "$UNPACK/verify.out"
    fi
else
    echo "  skip systemd-analyze is not installed"
fi

# The developer build of the tools (certificates, stand-ins, monitor).
(cd "$ROOT" && ${SWIFT:-swift} build -c release --product dps-device 2>&1 | tail -n 1)
DPS_DEVICE=$BIN DIST_CLEAN_ENV=1 GATEWAY_TOOLS="$(cd "$ROOT" && ${SWIFT:-swift} build -c release --show-bin-path)/dps-device" \
    GATEWAY_TEST_DIR=$ROOT/build/dist-gateway-test "$ROOT/scripts/gateway-test.sh" || FAILURES=$((FAILURES + 1))

echo
if [ "$FAILURES" -ne 0 ]; then echo "dist-test: $FAILURES check(s) failed"; exit 1; fi
echo "dist-test: all checks passed"
