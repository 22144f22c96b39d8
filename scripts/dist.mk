# The tarball a device owner copies to a Linux gateway (docs/dps-device.md, "On a Linux gateway").
#   make dist        build/dist/dps-device-VERSION-linux-ARCH.tar.gz (scripts/dist.sh)
#   make dist-test   unpack it, check its libraries and unit file, run the gateway tests with it
.PHONY: dist dist-test

dist: | $(STANDINS_SETUP)
	@scripts/dist.sh

dist-test: | $(STANDINS_SETUP)
	@scripts/dist-test.sh
