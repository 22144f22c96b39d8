# Fuzzing with libFuzzer + AddressSanitizer (see docs/fuzzing.md). Included by the top Makefile.
#   make fuzz                      every target for FUZZ_SECONDS (default 60) each
#   make fuzz FUZZ_TARGETS=json    only the named targets
#   make fuzz-smoke                every target, about FUZZ_SMOKE_SECONDS (default 60) in all (CI)
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 60
FUZZ_TARGETS ?= frames decode dps-topic json property-bag dps-body session base64 twin-topic twin-body twin-machine options
FUZZ_BINARY := build/fuzz/fuzz-device
FUZZ_SOURCES := $(shell find Sources/DeviceCore Sources/DeviceTwinAndMethods -name '*.swift') $(wildcard Fuzz/*.swift) \
	$(wildcard Fuzz/Options/*.swift) $(wildcard Fuzz/Twin/*.swift) $(wildcard Sources/DeviceCommandLine/*.swift)

.PHONY: fuzz fuzz-smoke fuzz-build

fuzz-build: $(FUZZ_BINARY)

# fuzz.sh build makes the three binaries (build/fuzz/fuzz-options and fuzz-twin too); this one stands for them.
$(FUZZ_BINARY): $(FUZZ_SOURCES) Fuzz/fuzz.sh
	Fuzz/fuzz.sh build

fuzz: $(FUZZ_BINARY)
	Fuzz/fuzz.sh run $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: $(FUZZ_BINARY)
	Fuzz/fuzz.sh smoke $(FUZZ_SMOKE_SECONDS)
