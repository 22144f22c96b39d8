# `make arm`: build DeviceCore with Embedded Swift for Cortex-M4 (armv7em) and Cortex-M0+
# (armv6m), link board/codec-probe into a bare-metal ELF for each, print the sizes, and run
# both under QEMU (mps2-an386 and microbit). A compile error, a failed probe check or a QEMU
# timeout fails the target. Outputs go to build/arm/<arch>/. See docs/size.md.
#
# DeviceCore is compiled as its own module with -no-allocations: the build fails if the codec
# ever needs the heap. The probe module is compiled the same way, and the linked image is
# checked to contain no allocator or Swift runtime allocation entry points.

ARM_SWIFTC ?= swiftc
ARM_CC     ?= arm-none-eabi-gcc
ARM_SIZE   ?= arm-none-eabi-size
ARM_NM     ?= arm-none-eabi-nm
ARM_QEMU   ?= qemu-system-arm
ARM_BUILD  := build/arm
ARM_ARCHS  := armv7em armv6m
ARM_COMMA  := ,

ARM_CORE_DIR      ?= Sources/DeviceCore
ARM_CORE_SOURCES  := $(sort $(shell find $(ARM_CORE_DIR) -name '*.swift'))
ARM_PROBE_SOURCES := $(sort $(wildcard board/codec-probe/*.swift))
# The twin, direct methods and Plug and Play: a module of its own on top of DeviceCore.
ARM_TWIN_SOURCES  := $(sort $(wildcard Sources/DeviceTwinAndMethods/*.swift))
ARM_TWIN_OBJECTS  := $(foreach a,$(ARM_ARCHS),$(ARM_BUILD)/$(a)/DeviceTwinAndMethods.o)

# -function-sections + --gc-sections lets the linker drop unused stdlib specialisations.
ARM_SWIFTFLAGS := -enable-experimental-feature Embedded -no-allocations -swift-version 6 \
    -wmo -Osize -parse-as-library -Xfrontend -function-sections \
    -module-cache-path $(ARM_BUILD)/module-cache
ARM_CFLAGS := -Os -g0 -ffunction-sections -fdata-sections -Wall --specs=picolibc.specs
# picolibc's crt0 (vector table, data/bss init, TLS, FPU enable) and stdio/exit over semihosting.
ARM_LDFLAGS := --specs=picolibc.specs --crt0=hosted --oslib=semihost \
    -Wl,--gc-sections -Wl,--no-enum-size-warning -Wl,--no-warn-execstack

# Cortex-M4: Embedded Swift's armv7em uses the soft-float calling convention (softfp multilib).
armv7em_TRIPLE  := armv7em-none-none-eabi
armv7em_MFLAGS  := -mcpu=cortex-m4 -mthumb -mfloat-abi=softfp -mfpu=fpv4-sp-d16
armv7em_MEMORY  := __flash=0x0,__flash_size=0x400000,__ram=0x20000000,__ram_size=0x400000
armv7em_MACHINE := mps2-an386
armv7em_EXTRA_C :=
# Cortex-M0+: no atomic instructions. The Swift objects reference __atomic_*_4 (refcounting
# code that --gc-sections drops today); the board supplies them so the link keeps working when
# something does refcount. The QEMU microbit is a Cortex-M0 (nRF51: 256 KB flash at 0, 16 KB
# RAM at 0x20000000), also ARMv6-M.
armv6m_TRIPLE   := armv6m-none-none-eabi
armv6m_MFLAGS   := -mcpu=cortex-m0plus -mthumb -mfloat-abi=soft
armv6m_MEMORY   := __flash=0x0,__flash_size=0x40000,__ram=0x20000000,__ram_size=0x4000
armv6m_MACHINE  := microbit
armv6m_EXTRA_C  := board/common/atomics-armv6m.c

ARM_ELFS := $(foreach a,$(ARM_ARCHS),$(ARM_BUILD)/$(a)/codec-probe.elf)
# Symbols that mean something in the image allocates.
ARM_HEAP_SYMBOLS := swift_allocObject|swift_slowAlloc|posix_memalign|malloc|calloc|realloc|free

.PHONY: arm arm-build arm-size arm-run

arm: arm-build
	@$(MAKE) --no-print-directory arm-size
	@$(MAKE) --no-print-directory arm-run

arm-build: $(ARM_ELFS) $(ARM_TWIN_OBJECTS)

## Sizes of each linked probe, and of DeviceCore's own sections kept after --gc-sections.
arm-size: $(ARM_ELFS)
	@set -e; for a in $(ARM_ARCHS); do \
	    d=$(ARM_BUILD)/$$a; \
	    echo "== $$a: codec-probe.elf"; \
	    $(ARM_SIZE) $$d/codec-probe.elf; \
	    read t dt b < <(awk -v object=DeviceCore.o -f board/common/map-size.awk $$d/codec-probe.map); \
	    printf '%s\n' "DeviceCore in the image (kept after --gc-sections): text $$t  data $$dt  bss $$b"; \
	    read t dt b < <(awk -v object=codec-probe.o -f board/common/map-size.awk $$d/codec-probe.map); \
	    printf '%s\n' "codec-probe.o in the image (probe + inlined codec): text $$t  data $$dt  bss $$b"; \
	    read t dt b x < <($(ARM_SIZE) $$d/DeviceCore.o | tail -1); \
	    printf '%s\n' "DeviceCore.o, whole module before --gc-sections:    text $$t  data $$dt  bss $$b"; \
	    if $(ARM_NM) $$d/codec-probe.elf | grep -Ew '$(ARM_HEAP_SYMBOLS)'; then \
	        echo "arm: $$a: heap functions linked into codec-probe.elf" >&2; exit 1; \
	    fi; \
	done

## Run each probe under QEMU; semihosting exit passes the probe's status to make.
arm-run: $(ARM_ELFS)
	@set -e; for spec in $(foreach a,$(ARM_ARCHS),$(a):$($(a)_MACHINE)); do \
	    a=$${spec%%:*}; m=$${spec#*:}; d=$(ARM_BUILD)/$$a; \
	    echo "== $$a: qemu-system-arm -M $$m"; \
	    rc=0; timeout 60 $(ARM_QEMU) -M $$m -nographic \
	        -semihosting-config enable=on,target=native -kernel $$d/codec-probe.elf \
	        </dev/null >$$d/qemu.log 2>&1 || rc=$$?; \
	    cat $$d/qemu.log; \
	    if [ $$rc -ne 0 ]; then echo "arm: $$a: codec-probe failed under QEMU (exit $$rc; 124 = timeout)" >&2; exit 1; fi; \
	    grep -q '^codec-probe: ok' $$d/qemu.log || { echo "arm: $$a: no 'codec-probe: ok'" >&2; exit 1; }; \
	done

# DeviceCore as its own module, with -no-allocations: this compile is the no-heap check.
$(ARM_BUILD)/%/DeviceCore.o $(ARM_BUILD)/%/DeviceCore.swiftmodule: $(ARM_CORE_SOURCES) board/arm.mk
	@mkdir -p $(@D)
	$(ARM_SWIFTC) -target $($*_TRIPLE) $(ARM_SWIFTFLAGS) -module-name DeviceCore \
	    -emit-module -emit-module-path $(ARM_BUILD)/$*/DeviceCore.swiftmodule \
	    -emit-object -o $(ARM_BUILD)/$*/DeviceCore.o $(ARM_CORE_SOURCES)
	@touch $(ARM_BUILD)/$*/DeviceCore.o  # swiftc leaves an identical object's mtime alone

# DeviceTwinAndMethods, also with -no-allocations.
$(ARM_BUILD)/%/DeviceTwinAndMethods.o $(ARM_BUILD)/%/DeviceTwinAndMethods.swiftmodule: $(ARM_TWIN_SOURCES) $(ARM_BUILD)/%/DeviceCore.swiftmodule board/arm.mk
	$(ARM_SWIFTC) -target $($*_TRIPLE) $(ARM_SWIFTFLAGS) -module-name DeviceTwinAndMethods -I $(ARM_BUILD)/$* \
	    -emit-module -emit-module-path $(ARM_BUILD)/$*/DeviceTwinAndMethods.swiftmodule \
	    -emit-object -o $(ARM_BUILD)/$*/DeviceTwinAndMethods.o $(ARM_TWIN_SOURCES)
	@touch $(ARM_BUILD)/$*/DeviceTwinAndMethods.o

$(ARM_BUILD)/%/codec-probe.o: $(ARM_PROBE_SOURCES) $(ARM_BUILD)/%/DeviceCore.swiftmodule board/arm.mk
	$(ARM_SWIFTC) -target $($*_TRIPLE) $(ARM_SWIFTFLAGS) -module-name CodecProbe \
	    -I $(ARM_BUILD)/$* -emit-object -o $@ $(ARM_PROBE_SOURCES)
	@touch $@

$(ARM_BUILD)/%/board.o: board/common/board.c board/arm.mk
	@mkdir -p $(@D)
	$(ARM_CC) $($*_MFLAGS) $(ARM_CFLAGS) -c $< -o $@

$(ARM_BUILD)/%/atomics-armv6m.o: board/common/atomics-armv6m.c board/arm.mk
	@mkdir -p $(@D)
	$(ARM_CC) $($*_MFLAGS) $(ARM_CFLAGS) -c $< -o $@

$(ARM_BUILD)/%/codec-probe.elf: $(ARM_BUILD)/%/codec-probe.o $(ARM_BUILD)/%/DeviceCore.o $(ARM_BUILD)/%/board.o
	$(ARM_CC) $($*_MFLAGS) $(ARM_LDFLAGS) -Wl,--defsym=$(subst $(ARM_COMMA),$(ARM_COMMA)--defsym=,$($*_MEMORY)) \
	    -Wl,-Map=$(ARM_BUILD)/$*/codec-probe.map -o $@ $(filter %.o,$^)

# Keep the intermediate objects, so a second `make arm` rebuilds nothing.
.SECONDARY: $(foreach a,$(ARM_ARCHS),$(addprefix $(ARM_BUILD)/$(a)/,\
    DeviceCore.o DeviceCore.swiftmodule DeviceTwinAndMethods.o DeviceTwinAndMethods.swiftmodule codec-probe.o board.o atomics-armv6m.o))

# Per-architecture extra board objects (prerequisites only; the pattern rule above links them).
$(foreach a,$(ARM_ARCHS),$(eval $(ARM_BUILD)/$(a)/codec-probe.elf: \
    $(patsubst board/common/%.c,$(ARM_BUILD)/$(a)/%.o,$($(a)_EXTRA_C))))
