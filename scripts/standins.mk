# The local Azure stand-ins, the demo and the end-to-end tests (docs/local-standins.md).
# Include from the top-level Makefile:  include scripts/standins.mk
#
#   make demo             the walkthrough end to end on this machine (installs what is missing)
#   make e2e-test         the demo flow, the DPS stand-in's failure paths, the Python SDK interop,
#                         then gateway-test and cli-failure-test
#   make gateway-test     dps-device run as a gateway agent: --state, service mode, --body-command
#   make cli-failure-test provision/run against careless input and hostile servers, one row a case
#   make standins-start   start the DPS stand-in and mosquitto (scripts/standins.sh)
#   make standins-stop    stop them (by PID)
#   make standins-status
#
# Set SWIFT_BUILD_FLAGS (e.g. --scratch-path .build-x) to build elsewhere than .build.

STANDINS_SETUP ?= setup
export SWIFT_BUILD_FLAGS

.PHONY: demo e2e-test gateway-test cli-failure-test standins-start standins-stop standins-status

## Provision device1 through a local DPS and show its 3 messages arriving at a local IoT Hub.
demo: | $(STANDINS_SETUP)
	@scripts/demo.sh

## End-to-end tests against the stand-ins.
e2e-test: | $(STANDINS_SETUP)
	@scripts/e2e-test.sh
	@scripts/gateway-test.sh
	@scripts/cli-failure-test.sh

## dps-device run as a gateway agent against its own stand-ins (127.0.0.11-13).
gateway-test: | $(STANDINS_SETUP)
	@scripts/gateway-test.sh

## provision/run against bad values, files, signals, deadlines and hostile TLS servers (127.0.0.21).
cli-failure-test: | $(STANDINS_SETUP)
	@scripts/cli-failure-test.sh

standins-start:
	@scripts/standins.sh start

standins-stop:
	@scripts/standins.sh stop

standins-status:
	@scripts/standins.sh status
