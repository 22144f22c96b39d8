#!/usr/bin/env bash
# `make dist`: the gateway agent and what a device owner needs, as one tarball that runs on a
# Linux machine with no Swift installed. The binary is the `dps-device-agent` product: the
# `provision` and `run` commands of `dps-device`, from the same module (DeviceCommandLine),
# without the host tools (certificates, stand-ins, packet inspector) and so without
# ArgumentParser and Foundation, which would triple its memory (docs/dps-device.md):
#
#   build/dist/dps-device-VERSION-linux-ARCH.tar.gz
#     dps-device-VERSION-linux-ARCH/bin/dps-device                    the agent and its tools
#     dps-device-VERSION-linux-ARCH/share/doc/dps-device/help.txt     every subcommand's --help
#     dps-device-VERSION-linux-ARCH/share/doc/dps-device/*.md         README and the device's docs
#     dps-device-VERSION-linux-ARCH/lib/systemd/system/dps-device.service
#     dps-device-VERSION-linux-ARCH/etc/dps-device/dps-device.env.example
#
# The Swift standard library is linked statically (--static-swift-stdlib), and so is mbedTLS
# (Debian's libmbedtls-dev .a files): the binary needs only glibc, libstdc++ and libgcc_s, which
# every Debian 12 system has. It is linked as a fixed-address executable (-no-pie): a PIE binary
# this size spends ~1 MiB of memory on the loader's relocations. VERSION is
# the one in DeviceOptions.userAgent, ARCH is `uname -m`. The build has its own scratch path
# (.build-dist). Prints the tarball's path last.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SWIFT=${SWIFT:-swift}
cd "$ROOT"

VERSION=$(sed -n 's/.*userAgent = "swift-azure-iot-device\/\([0-9][0-9.]*\)".*/\1/p' Sources/DeviceCommandLine/DeviceOptions.swift)
[ -n "$VERSION" ] || { echo "dist: no version in Sources/DeviceCommandLine/DeviceOptions.swift (userAgent)" >&2; exit 1; }
ARCH=$(uname -m)
NAME=dps-device-$VERSION-linux-$ARCH
OUT=$ROOT/build/dist
STAGE=$OUT/$NAME

# mbedTLS statically: a directory holding only its .a files comes first on the library path,
# so the linker takes them for the module map's -lmbedtls -lmbedx509 -lmbedcrypto.
LIBDIR=$(gcc -print-multiarch 2>/dev/null || echo "$ARCH-linux-gnu")
mkdir -p "$OUT/static-libs"
for lib in mbedtls mbedx509 mbedcrypto; do
    archive=/usr/lib/$LIBDIR/lib$lib.a
    [ -f "$archive" ] || { echo "dist: $archive is missing: run \`make setup\` (libmbedtls-dev)" >&2; exit 1; }
    ln -sf "$archive" "$OUT/static-libs/lib$lib.a"
done
# libstdc++ too (the Swift runtime is C++): the shared one maps ~0.9 MiB into every process.
ln -sf "$(g++ -print-file-name=libstdc++.a)" "$OUT/static-libs/libstdc++.a"

echo "dist: building dps-device $VERSION (release, static Swift runtime and mbedTLS)"
$SWIFT build -c release --product dps-device-agent --static-swift-stdlib --scratch-path .build-dist \
    -Xlinker -L"$OUT/static-libs" -Xswiftc -Xclang-linker -Xswiftc -no-pie 2>&1 | tail -n 1
BIN=$($SWIFT build -c release --scratch-path .build-dist --show-bin-path)/dps-device-agent

rm -rf "$STAGE"
mkdir -p "$STAGE/bin" "$STAGE/share/doc/dps-device" "$STAGE/lib/systemd/system" "$STAGE/etc/dps-device"
cp "$BIN" "$STAGE/bin/dps-device"
strip "$STAGE/bin/dps-device"
{
    echo "dps-device $VERSION: every subcommand's help (\`dps-device help SUBCOMMAND\` prints the same)."
    for command in "" provision run; do
        echo
        echo "==== dps-device $command"
        # shellcheck disable=SC2086
        "$STAGE/bin/dps-device" help $command
    done
} > "$STAGE/share/doc/dps-device/help.txt"
cp README.md docs/dps-device.md docs/tls.md docs/certificates.md "$STAGE/share/doc/dps-device/"
cp packaging/dps-device.service "$STAGE/lib/systemd/system/"
cp packaging/dps-device.env "$STAGE/etc/dps-device/dps-device.env.example"
tar -C "$OUT" -czf "$OUT/$NAME.tar.gz" "$NAME"
echo "dist: bin/dps-device $(stat -c %s "$STAGE/bin/dps-device") bytes (stripped); tarball $(stat -c %s "$OUT/$NAME.tar.gz") bytes"
echo "$OUT/$NAME.tar.gz"
