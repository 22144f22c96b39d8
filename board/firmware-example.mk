# `make firmware-example`: builds board/firmware-example (the firmware docs/firmware.md shows,
# on the front door `IoTDevice`) for both boards, and checks that the page shows exactly that
# file. Part of `make test`; the firmware is linked, not run (it needs a modem host).
# Reuses board/qemu.mk's objects (build/qemu/<board>/) and board/arm.mk's DeviceCore.

FIRMWARE_EXAMPLE_SWIFT := board/firmware-example/Main.swift
FIRMWARE_EXAMPLE_ELFS  := $(foreach b,$(QEMU_BOARDS),$(QEMU_BUILD)/$(b)/firmware-example.elf)

.PHONY: firmware-example firmware-example-doc-check

firmware-example: $(FIRMWARE_EXAMPLE_ELFS) firmware-example-doc-check
	@for b in $(QEMU_BOARDS); do \
	    printf 'firmware-example: %s: ' $$b; $(ARM_SIZE) $(QEMU_BUILD)/$$b/firmware-example.elf | awk 'NR == 2 { print "text " $$1 ", data " $$2 ", bss " $$3 }'; \
	done

## docs/firmware.md's first swift block is board/firmware-example/Main.swift, byte for byte.
firmware-example-doc-check:
	@awk '/^```swift$$/ { if (!done) { inside = 1; next } } /^```$$/ { if (inside) { inside = 0; done = 1; next } } inside' docs/firmware.md \
	    | cmp -s - $(FIRMWARE_EXAMPLE_SWIFT) \
	    || { echo "firmware-example: docs/firmware.md's first swift block differs from $(FIRMWARE_EXAMPLE_SWIFT)" >&2; exit 1; }

define FIRMWARE_EXAMPLE_RULES
# $(1) = board, $(2) = arch
$(QEMU_BUILD)/$(1)/firmware-example/FirmwareExample.o: $(FIRMWARE_EXAMPLE_SWIFT) \
        $(QEMU_BUILD)/$(1)/CortexMBoard.swiftmodule $(ARM_BUILD)/$(2)/DeviceCore.swiftmodule board/firmware-example.mk
	@mkdir -p $$(@D)
	$(ARM_SWIFTC) -target $($(2)_TRIPLE) $(QEMU_SWIFTFLAGS) -module-name FirmwareExample \
	    -I $(ARM_BUILD)/$(2) -I $(QEMU_BUILD)/$(1) -emit-object -o $$@ $(FIRMWARE_EXAMPLE_SWIFT)

$(QEMU_BUILD)/$(1)/firmware-example.elf: $(QEMU_BUILD)/$(1)/firmware-example/FirmwareExample.o $(QEMU_BUILD)/$(1)/CortexMBoard.o \
        $(ARM_BUILD)/$(2)/DeviceCore.o $(QEMU_BUILD)/$(1)/cortexm.o $(QEMU_BUILD)/$(1)/board.o \
        $(patsubst board/common/%.c,$(QEMU_BUILD)/$(1)/%.o,$($(2)_EXTRA_C)) \
        board/$(1)/link.ld board/common/cortexm.ld
	$(ARM_CC) $($(2)_MFLAGS) $(QEMU_LDFLAGS) -T board/$(1)/link.ld \
	    -Wl,-Map=$(QEMU_BUILD)/$(1)/firmware-example/firmware.map -o $$@ $$(filter %.o,$$^)
	@if $(ARM_NM) $$@ | grep -Ew '$(ARM_HEAP_SYMBOLS)'; then echo "firmware-example: heap functions linked into $$@" >&2; exit 1; fi
endef

$(foreach b,$(QEMU_BOARDS),$(eval $(call FIRMWARE_EXAMPLE_RULES,$(b),$($(b)_ARCH))))
