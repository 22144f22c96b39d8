# `make firmware-example`: builds board/firmware-example (the firmware docs/firmware.md shows,
# on the front door `IoTDevice`) for both boards, and checks that the page shows exactly that
# file. Part of `make test`; the firmware is linked, not run (it needs a modem host).
# Reuses board/qemu.mk's objects (build/qemu/<board>/) and board/arm.mk's DeviceCore.

FIRMWARE_EXAMPLE_SWIFT := board/firmware-example/Main.swift
FIRMWARE_EXAMPLE_ELFS  := $(foreach b,$(QEMU_BOARDS),$(QEMU_BUILD)/$(b)/firmware-example.elf)
# The same firmware with the twin, a direct method and Plug and Play (DeviceTwinAndMethods).
TWIN_EXAMPLE_SWIFT := board/twin-example/Main.swift
TWIN_EXAMPLE_ELFS  := $(foreach b,$(QEMU_BOARDS),$(QEMU_BUILD)/$(b)/twin-example.elf)

.PHONY: firmware-example firmware-example-doc-check size-features

firmware-example: $(FIRMWARE_EXAMPLE_ELFS) $(TWIN_EXAMPLE_ELFS) firmware-example-doc-check
	@for b in $(QEMU_BOARDS); do for f in firmware-example twin-example; do \
	    printf '%s: %s: ' $$f $$b; $(ARM_SIZE) $(QEMU_BUILD)/$$b/$$f.elf | awk 'NR == 2 { print "text " $$1 ", data " $$2 ", bss " $$3 }'; \
	done; done

## One line per board: `size-features BOARD twin-and-methods=N …`, the flash the twin, direct
## methods and Plug and Play add to the example firmware: twin-example's image less
## firmware-example's (text + data), then where it goes: the module DeviceTwinAndMethods, DeviceCore
## (the same but for a few helpers), and the program (the flow specialised for the features, and
## the thermostat's handler).
size-features: $(FIRMWARE_EXAMPLE_ELFS) $(TWIN_EXAMPLE_ELFS)
	@for b in $(QEMU_BOARDS); do \
	    d=$(QEMU_BUILD)/$$b; \
	    image() { $(ARM_SIZE) $$1 | awk 'NR == 2 { print $$1 + $$2 }'; }; \
	    flash() { awk -v object=$$2 -f board/common/map-size.awk $$1 | awk '{ print $$1 + $$2 }'; }; \
	    added=$$(( $$(image $$d/twin-example.elf) - $$(image $$d/firmware-example.elf) )); \
	    core=$$(( $$(flash $$d/twin-example/firmware.map DeviceCore.o) - $$(flash $$d/firmware-example/firmware.map DeviceCore.o) )); \
	    twin=$$(flash $$d/twin-example/firmware.map DeviceTwinAndMethods.o); \
	    echo "size-features $$b twin-and-methods=$$added (DeviceTwinAndMethods $$twin, DeviceCore $$core, program $$((added - twin - core)))"; \
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

define TWIN_EXAMPLE_RULES
# $(1) = board, $(2) = arch
$(QEMU_BUILD)/$(1)/twin-example/TwinExample.o: $(TWIN_EXAMPLE_SWIFT) \
        $(QEMU_BUILD)/$(1)/CortexMBoard.swiftmodule $(ARM_BUILD)/$(2)/DeviceCore.swiftmodule $(ARM_BUILD)/$(2)/DeviceTwinAndMethods.swiftmodule board/firmware-example.mk
	@mkdir -p $$(@D)
	$(ARM_SWIFTC) -target $($(2)_TRIPLE) $(QEMU_SWIFTFLAGS) -module-name TwinExample \
	    -I $(ARM_BUILD)/$(2) -I $(QEMU_BUILD)/$(1) -emit-object -o $$@ $(TWIN_EXAMPLE_SWIFT)

$(QEMU_BUILD)/$(1)/twin-example.elf: $(QEMU_BUILD)/$(1)/twin-example/TwinExample.o $(QEMU_BUILD)/$(1)/CortexMBoard.o \
        $(ARM_BUILD)/$(2)/DeviceTwinAndMethods.o $(ARM_BUILD)/$(2)/DeviceCore.o $(QEMU_BUILD)/$(1)/cortexm.o $(QEMU_BUILD)/$(1)/board.o \
        $(patsubst board/common/%.c,$(QEMU_BUILD)/$(1)/%.o,$($(2)_EXTRA_C)) \
        board/$(1)/link.ld board/common/cortexm.ld
	$(ARM_CC) $($(2)_MFLAGS) $(QEMU_LDFLAGS) -T board/$(1)/link.ld \
	    -Wl,-Map=$(QEMU_BUILD)/$(1)/twin-example/firmware.map -o $$@ $$(filter %.o,$$^)
	@if $(ARM_NM) $$@ | grep -Ew '$(ARM_HEAP_SYMBOLS)'; then echo "twin-example: heap functions linked into $$@" >&2; exit 1; fi
endef

$(foreach b,$(QEMU_BOARDS),$(eval $(call TWIN_EXAMPLE_RULES,$(b),$($(b)_ARCH))))
