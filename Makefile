# Top-level entry points. `make test` is what CI runs; it installs what a fresh machine lacks.
SHELL := /bin/bash
SWIFT ?= swift

.PHONY: all setup build test unit-test arm clean

all: build

## Install the system packages the tests and the ARM build need (idempotent; apt-get as root).
setup:
	@scripts/setup.sh

build:
	$(SWIFT) build

unit-test:
	$(SWIFT) test

## Everything CI checks.
test: setup fixtures-check unit-test fuzz-smoke arm qemu-test e2e-test

include board/arm.mk
include board/qemu.mk
include scripts/fixtures.mk
include scripts/standins.mk
include Fuzz/fuzz.mk

clean:
	rm -rf .build build
