# Packets a real mosquitto sends, committed as codec test fixtures (scripts/capture-mosquitto.py).
# Include from the top-level Makefile:  include scripts/fixtures.mk
#
#   make fixtures-check   re-capture from a live mosquitto; fail with a diff if the bytes differ
#   make fixtures         re-capture and rewrite the fixture file (review the diff, then commit)
#
# Each run starts its own brokers on free loopback ports in a temporary directory, stops them
# even on failure or interruption, and takes a few seconds. mosquitto comes from `make setup`
# (scripts/setup.sh); the order-only prerequisite below runs that first, also under `make -j`.
# Set FIXTURES_SETUP= to skip it when the including Makefile has no `setup` target.

PYTHON3 ?= python3
FIXTURES_SETUP ?= setup
MOSQUITTO_FIXTURE := Tests/MQTTCodecTests/Fixtures/mosquitto_server_packets.json

.PHONY: fixtures fixtures-check

## Re-capture the mosquitto server-packet fixtures.
fixtures: | $(FIXTURES_SETUP)
	$(PYTHON3) scripts/capture-mosquitto.py --output $(MOSQUITTO_FIXTURE)

## Check the committed mosquitto fixtures against a live broker.
fixtures-check: | $(FIXTURES_SETUP)
	$(PYTHON3) scripts/capture-mosquitto.py --check $(MOSQUITTO_FIXTURE)
