# `make qemu-test`: the DeviceCore firmware self-test (board/selftest) on both Cortex-M boards
# under QEMU: board/mps2-an386 (Cortex-M4, armv7em) and board/microbit (Cortex-M0, armv6m).
# Each firmware runs the codec vectors and a scripted DPS registration + three telemetry
# messages through DeviceFlow, prints over its UART, and exits (semihosting) with 0 only if
# every check passed. `make size` prints each firmware's sections split by component.
# Outputs go to build/qemu/<board>/. Reuses board/arm.mk's toolchain variables and its
# DeviceCore module (build/arm/<arch>/DeviceCore.o, compiled with -no-allocations).

QEMU_BUILD  := build/qemu
QEMU_BOARDS := mps2-an386 microbit
PYTHON3     ?= python3

mps2-an386_ARCH := armv7em
microbit_ARCH   := armv6m

QEMU_BOARD_SWIFT    := $(sort $(wildcard board/swift/*.swift))
QEMU_SELFTEST_SWIFT := $(sort $(wildcard board/selftest/*.swift))
# Swift calls the board's C functions through @_extern(c).
QEMU_SWIFTFLAGS := $(ARM_SWIFTFLAGS) -enable-experimental-feature Extern
QEMU_CFLAGS     := $(ARM_CFLAGS) -Iboard/common
# Our start-up and linker script (no picolibc crt0); picolibc only for memcpy/memset/memmove.
QEMU_LDFLAGS := --specs=picolibc.specs -nostartfiles -Lboard/common \
    -Wl,--gc-sections -Wl,--no-enum-size-warning -Wl,--no-warn-execstack -Wl,--no-warn-rwx-segments

QEMU_ELFS := $(foreach b,$(QEMU_BOARDS),$(QEMU_BUILD)/$(b)/firmware.elf)

.PHONY: qemu-test qemu-build size size-summary

qemu-build: $(QEMU_ELFS)

## Run the firmware self-test on both boards; fails unless both exit 0 and print "ok".
qemu-test: $(QEMU_ELFS)
	@set -e; for b in $(QEMU_BOARDS); do \
	    d=$(QEMU_BUILD)/$$b; \
	    echo "== $$b: qemu-system-arm -M $$b -kernel $$d/firmware.elf"; \
	    rc=0; timeout 120 $(ARM_QEMU) -M $$b -nographic -monitor none -serial stdio \
	        -semihosting-config enable=on,target=native -kernel $$d/firmware.elf \
	        </dev/null >$$d/qemu.log 2>&1 || rc=$$?; \
	    tr -d '\r' <$$d/qemu.log; \
	    if [ $$rc -ne 0 ]; then echo "qemu-test: $$b: firmware failed (exit $$rc; 124 = timeout, 99 = trap)" >&2; exit 1; fi; \
	    grep -q "^qemu-test: $$b: .* 0 failed: ok" $$d/qemu.log || { echo "qemu-test: $$b: no ok line" >&2; exit 1; }; \
	done

## The figures `make size` ends with, kept in the repository so that a change to them shows in
## review (docs/size.md quotes them).
SIZE_FIGURES := docs/figures/size.txt

## Section sizes of each firmware by component, from the linker map (see docs/size.md); then
## the same for the device-flow firmware of `make qemu-demo` (board/qemu-demo.mk).
size: $(QEMU_ELFS)
	@set -e; for b in $(QEMU_BOARDS); do \
	    d=$(QEMU_BUILD)/$$b; \
	    if $(ARM_NM) $$d/firmware.elf | grep -Ew '$(ARM_HEAP_SYMBOLS)'; then \
	        echo "size: $$b: heap functions linked into firmware.elf" >&2; exit 1; \
	    fi; \
	    $(PYTHON3) board/common/size-report.py --board $$b --map $$d/firmware.map --elf $$d/firmware.elf \
	        --core Sources/DeviceCore --size-tool $(ARM_SIZE); \
	done
	@$(MAKE) --no-print-directory size-demo
	@$(MAKE) --no-print-directory $(FIRMWARE_EXAMPLE_ELFS) $(TWIN_EXAMPLE_ELFS) $(QEMU_DEMO_ELFS)
	@{ $(MAKE) --no-print-directory size-features; $(MAKE) --no-print-directory size-summary; } | tee $(SIZE_FIGURES).new
	@{ echo "# make size: size-features and size-summary (docs/size.md); git log this file for when each changed"; \
	    grep '^size-' $(SIZE_FIGURES).new; } > $(SIZE_FIGURES) && rm -f $(SIZE_FIGURES).new

## The last lines of `make size`, one per board: `size-summary BOARD core=N modem=N stack=N`, the
## flash of DeviceCore in the device-flow firmware (board/modem-demo) and of its Modem/ share, and
## the device flow's stack high-water, read from a run of the self-test firmware under QEMU: its
## part (c), the front door IoTDevice that board/modem-demo runs, provisioning and three messages
## over a scripted peer, measured alone (the stack is painted again before it).
size-summary: $(QEMU_ELFS) $(QEMU_DEMO_ELFS)
	@set -e; for b in $(QEMU_BOARDS); do \
	    d=$(QEMU_BUILD)/$$b; \
	    timeout 120 $(ARM_QEMU) -M $$b -nographic -monitor none -serial stdio \
	        -semihosting-config enable=on,target=native -kernel $$d/firmware.elf </dev/null >$$d/size-stack.log 2>&1 || true; \
	    stack=$$(tr -d '\r' <$$d/size-stack.log | sed -n 's/.*stack high-water of the front door (IoTDevice) \([0-9]*\) bytes.*/\1/p'); \
	    [ -n "$$stack" ] || { echo "size-summary: $$b: the self-test printed no stack high-water" >&2; exit 1; }; \
	    $(PYTHON3) board/common/size-report.py --board $$b --map $$d/modem-demo/firmware.map --elf $$d/modem-demo.elf \
	        --core Sources/DeviceCore --size-tool $(ARM_SIZE) --summary-stack $$stack; \
	done

define QEMU_BOARD_RULES
# $(1) = board, $(2) = arch
$(QEMU_BUILD)/$(1)/CortexMBoard.o $(QEMU_BUILD)/$(1)/CortexMBoard.swiftmodule &: $(QEMU_BOARD_SWIFT) $(ARM_BUILD)/$(2)/DeviceCore.swiftmodule board/qemu.mk
	@mkdir -p $(QEMU_BUILD)/$(1)
	$(ARM_SWIFTC) -target $($(2)_TRIPLE) $(QEMU_SWIFTFLAGS) -module-name CortexMBoard -I $(ARM_BUILD)/$(2) \
	    -emit-module -emit-module-path $(QEMU_BUILD)/$(1)/CortexMBoard.swiftmodule \
	    -emit-object -o $(QEMU_BUILD)/$(1)/CortexMBoard.o $(QEMU_BOARD_SWIFT)
	@touch $(QEMU_BUILD)/$(1)/CortexMBoard.o

$(QEMU_BUILD)/$(1)/SelfTest.o: $(QEMU_SELFTEST_SWIFT) $(QEMU_BUILD)/$(1)/CortexMBoard.swiftmodule $(ARM_BUILD)/$(2)/DeviceCore.swiftmodule board/qemu.mk
	$(ARM_SWIFTC) -target $($(2)_TRIPLE) $(QEMU_SWIFTFLAGS) -module-name SelfTest \
	    -I $(ARM_BUILD)/$(2) -I $(QEMU_BUILD)/$(1) -emit-object -o $$@ $(QEMU_SELFTEST_SWIFT)
	@touch $$@

$(QEMU_BUILD)/$(1)/cortexm.o: board/common/cortexm.c board/common/cortexm.h board/qemu.mk
	@mkdir -p $(QEMU_BUILD)/$(1)
	$(ARM_CC) $($(2)_MFLAGS) $(QEMU_CFLAGS) -c $$< -o $$@

$(QEMU_BUILD)/$(1)/board.o: board/$(1)/board.c board/common/cortexm.h board/qemu.mk
	@mkdir -p $(QEMU_BUILD)/$(1)
	$(ARM_CC) $($(2)_MFLAGS) $(QEMU_CFLAGS) -c $$< -o $$@

$(QEMU_BUILD)/$(1)/atomics-armv6m.o: board/common/atomics-armv6m.c board/qemu.mk
	@mkdir -p $(QEMU_BUILD)/$(1)
	$(ARM_CC) $($(2)_MFLAGS) $(QEMU_CFLAGS) -c $$< -o $$@

$(QEMU_BUILD)/$(1)/firmware.elf: $(QEMU_BUILD)/$(1)/SelfTest.o $(QEMU_BUILD)/$(1)/CortexMBoard.o \
        $(ARM_BUILD)/$(2)/DeviceCore.o $(QEMU_BUILD)/$(1)/cortexm.o $(QEMU_BUILD)/$(1)/board.o \
        $(patsubst board/common/%.c,$(QEMU_BUILD)/$(1)/%.o,$($(2)_EXTRA_C)) \
        board/$(1)/link.ld board/common/cortexm.ld
	$(ARM_CC) $($(2)_MFLAGS) $(QEMU_LDFLAGS) -T board/$(1)/link.ld \
	    -Wl,-Map=$(QEMU_BUILD)/$(1)/firmware.map -o $$@ $$(filter %.o,$$^)

.SECONDARY: $(addprefix $(QEMU_BUILD)/$(1)/,CortexMBoard.o CortexMBoard.swiftmodule SelfTest.o cortexm.o board.o atomics-armv6m.o)
endef

$(foreach b,$(QEMU_BOARDS),$(eval $(call QEMU_BOARD_RULES,$(b),$($(b)_ARCH))))
