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
test: setup fixtures-check unit-test fuzz-smoke arm qemu-test firmware-example e2e-test dist-test

include board/arm.mk
include board/qemu.mk
include board/qemu-demo.mk
include board/firmware-example.mk
include scripts/fixtures.mk
include scripts/standins.mk
include scripts/dist.mk
include Fuzz/fuzz.mk

clean:
	rm -rf .build build

## Benchmarks (docs/benchmarks.md): codec/JSON/DPS/session ns and mallocs per operation
## (ordo-one/benchmark, in the separate package Benchmarks/), and 10,000 QoS 1 messages over TLS
## to a local mosquitto beside mosquitto_pub and paho-mqtt. Installs what it needs.
.PHONY: bench
bench:
	@scripts/bench.sh
