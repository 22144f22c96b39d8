#!/usr/bin/env bash
# Installs the Debian packages the build and tests need, only when something is missing.
set -euo pipefail
packages=(
    gcc-arm-none-eabi binutils-arm-none-eabi picolibc-arm-none-eabi   # make arm
    qemu-system-arm                                                   # make arm: runs the probes
    mosquitto mosquitto-clients                                       # real broker in tests
    libmbedtls-dev                                                    # TLS transport
    openssl ca-certificates                                           # test certificates, system trust anchors
    python3 python3-venv                                              # e2e-test: the Python SDK interop venv
)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: need root to apt-get install ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
