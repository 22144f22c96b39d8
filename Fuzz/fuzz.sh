#!/usr/bin/env bash
# libFuzzer + AddressSanitizer targets for DeviceCore, DeviceTwinAndMethods and the command line's
# options. See docs/fuzzing.md.
#
#   Fuzz/fuzz.sh build                      build build/fuzz/fuzz-device (the core's targets),
#                                           build/fuzz/fuzz-options (the target options) and
#                                           build/fuzz/fuzz-twin (the twin-* targets)
#   Fuzz/fuzz.sh run SECONDS [TARGET...]    fuzz each target for SECONDS (default: all targets)
#   Fuzz/fuzz.sh smoke [TOTAL_SECONDS]      every target, TOTAL_SECONDS (default 60) shared out
#   Fuzz/fuzz.sh repro TARGET FILE...       run the target once on each file (a crash reproducer)
#
# Fuzz/dict/<target>.dict, when there is one, is passed with -dict.
# Scratch state lives in build/fuzz/: corpus/<target>/ (seeded from the committed
# Fuzz/corpus/<target>/ and grown by every run), crashes/<target>/ (reproducers), logs/.
# Any crash, timeout, out-of-memory or sanitizer report fails the target; the script exits 1
# if any target failed, after running the others.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/build/fuzz"
BIN="$OUT/fuzz-device"
OPTIONS_BIN="$OUT/fuzz-options"
TWIN_BIN="$OUT/fuzz-twin"
SWIFTC="${SWIFTC:-swiftc}"
ALL_TARGETS=(frames decode dps-topic json property-bag dps-body session base64 twin-topic twin-body twin-machine options)
# The pure parsing files of Sources/DeviceCommandLine that the options target runs (no I/O).
OPTIONS_SOURCES=(OptionParser ArgumentBytes DeviceOptions RunOptions TelemetryPlan LogFormat Environment DeviceCommand CommandConfiguration ModelID HubFeaturePlan)

# Let libFuzzer, not the Swift runtime's backtracer, handle crashes (it saves the input).
export SWIFT_BACKTRACE="enable=no"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"

build() {
    mkdir -p "$OUT"
    local sources
    mapfile -t sources < <(find "$ROOT/Sources/DeviceCore" -name '*.swift' | sort)
    echo "fuzz: compiling DeviceCore (${#sources[@]} files) + Fuzz/*.swift -> build/fuzz/fuzz-device"
    local start=$SECONDS
    "$SWIFTC" -sanitize=fuzzer,address -parse-as-library -O -g -module-name DeviceCore \
        "${sources[@]}" "$ROOT"/Fuzz/*.swift -o "$BIN.tmp" || exit 1
    mv "$BIN.tmp" "$BIN"
    echo "fuzz: built in $((SECONDS - start)) s"
    # The options target: DeviceCore as a module of its own (as in the package, so the command
    # line sees only its public API), then the command line's parsing files and Fuzz/Options.
    # Fuzz/Support.swift is shared: -import-module gives it DeviceCore.
    local core="$OUT/options-core" options=()
    local name
    for name in "${OPTIONS_SOURCES[@]}"; do options+=("$ROOT/Sources/DeviceCommandLine/$name.swift"); done
    echo "fuzz: compiling DeviceCore, then ${#options[@]} files of DeviceCommandLine + Fuzz/Options -> build/fuzz/fuzz-options"
    start=$SECONDS
    mkdir -p "$core"
    "$SWIFTC" -sanitize=fuzzer,address -parse-as-library -O -g -module-name DeviceCore \
        -emit-module -emit-module-path "$core/DeviceCore.swiftmodule" -emit-library -static \
        "${sources[@]}" -o "$core/libDeviceCore.a" || exit 1
    # DeviceCoreWords (the errors' words, which DeviceOptions prints) is a module of its own too.
    "$SWIFTC" -sanitize=fuzzer,address -parse-as-library -O -g -module-name DeviceCoreWords -I "$core" \
        -emit-module -emit-module-path "$core/DeviceCoreWords.swiftmodule" -emit-library -static \
        "$ROOT"/Sources/DeviceCoreWords/*.swift -o "$core/libDeviceCoreWords.a" || exit 1
    # HostJSON (the JSON trees the payload, model id and report checks use) is one too.
    "$SWIFTC" -sanitize=fuzzer,address -parse-as-library -O -g -module-name HostJSON \
        -emit-module -emit-module-path "$core/HostJSON.swiftmodule" -emit-library -static \
        "$ROOT"/Sources/HostJSON/*.swift -o "$core/libHostJSON.a" || exit 1
    "$SWIFTC" -sanitize=fuzzer,address -parse-as-library -O -g -module-name FuzzOptions \
        -I "$core" -Xfrontend -import-module -Xfrontend DeviceCore \
        "${options[@]}" "$ROOT"/Fuzz/Support.swift "$ROOT"/Fuzz/Options/*.swift \
        "$core/libHostJSON.a" "$core/libDeviceCoreWords.a" "$core/libDeviceCore.a" \
        -o "$OPTIONS_BIN.tmp" || exit 1
    mv "$OPTIONS_BIN.tmp" "$OPTIONS_BIN"
    echo "fuzz: built in $((SECONDS - start)) s"
    # The twin-* targets: Sources/DeviceTwinAndMethods over the same DeviceCore module (it sees
    # only the core's public API, as in the package), with Fuzz/Support.swift and Fuzz/Twin.
    local twin
    mapfile -t twin < <(find "$ROOT/Sources/DeviceTwinAndMethods" -name '*.swift' | sort)
    echo "fuzz: compiling DeviceTwinAndMethods (${#twin[@]} files) + Fuzz/Twin -> build/fuzz/fuzz-twin"
    start=$SECONDS
    "$SWIFTC" -sanitize=fuzzer,address -parse-as-library -O -g -module-name DeviceTwinAndMethods \
        -I "$core" -Xfrontend -import-module -Xfrontend DeviceCore \
        "${twin[@]}" "$ROOT"/Fuzz/Support.swift "$ROOT"/Fuzz/Twin/*.swift "$core/libDeviceCore.a" \
        -o "$TWIN_BIN.tmp" || exit 1
    mv "$TWIN_BIN.tmp" "$TWIN_BIN"
    echo "fuzz: built in $((SECONDS - start)) s"
}

# The binary that holds TARGET.
binary_for() {
    case "$1" in
    options) echo "$OPTIONS_BIN" ;;
    twin-*) echo "$TWIN_BIN" ;;
    *) echo "$BIN" ;;
    esac
}

# run_target TARGET SECONDS: 0 when the target survived.
run_target() {
    local target="$1" seconds="$2"
    local corpus="$OUT/corpus/$target" crashes="$OUT/crashes/$target" log="$OUT/logs/$target.log"
    mkdir -p "$corpus" "$crashes" "$OUT/logs"
    cp -n "$ROOT/Fuzz/corpus/$target"/* "$corpus"/ 2>/dev/null || true
    local dictionary=()
    [ -f "$ROOT/Fuzz/dict/$target.dict" ] && dictionary=(-dict="$ROOT/Fuzz/dict/$target.dict")
    FUZZ_TARGET="$target" "$(binary_for "$target")" "$corpus" "${dictionary[@]}" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -print_final_stats=1 -artifact_prefix="$crashes/" >"$log" 2>&1
    local status=$?
    local execs
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    if grep -q 'INFO: Loaded 1 modules' "$log" && [ "$status" -eq 0 ]; then
        printf 'fuzz: %-13s ok     %10s executions in %ss, corpus %s files\n' \
            "$target" "${execs:-?}" "$seconds" "$(ls "$corpus" | wc -l)"
        return 0
    fi
    printf 'fuzz: %-13s FAILED (exit %s) after %s executions; log %s\n' "$target" "$status" "${execs:-?}" "${log#$ROOT/}"
    grep -E 'FUZZ FINDING|ERROR: (AddressSanitizer|libFuzzer)|Fatal error|SUMMARY' "$log" | head -5 | sed 's/^/      /'
    grep -o "Test unit written to .*" "$log" | sed "s|$ROOT/||; s/^/      reproducer: /"
    return 1
}

run() {
    local seconds="$1"; shift
    local targets=("$@")
    [ ${#targets[@]} -eq 0 ] && targets=("${ALL_TARGETS[@]}")
    [ -x "$BIN" ] && [ -x "$OPTIONS_BIN" ] && [ -x "$TWIN_BIN" ] || build
    local failed=()
    for target in "${targets[@]}"; do
        run_target "$target" "$seconds" || failed+=("$target")
    done
    if [ ${#failed[@]} -gt 0 ]; then
        echo "fuzz: failing targets: ${failed[*]} (reproducers in build/fuzz/crashes/)"
        exit 1
    fi
}

case "${1:-}" in
build) build ;;
run) shift; run "${1:-60}" "${@:2}" ;;
smoke)
    total="${2:-60}"
    per=$(( total / ${#ALL_TARGETS[@]} )); [ "$per" -lt 1 ] && per=1
    start=$SECONDS
    run "$per" "${ALL_TARGETS[@]}"
    echo "fuzz-smoke: ${#ALL_TARGETS[@]} targets, ${per}s each, $((SECONDS - start))s in all"
    ;;
repro)
    target="$2"; shift 2
    [ -x "$BIN" ] && [ -x "$OPTIONS_BIN" ] && [ -x "$TWIN_BIN" ] || build
    FUZZ_TARGET="$target" "$(binary_for "$target")" "$@"
    ;;
*) sed -n '2,14p' "$0"; exit 2 ;;
esac
