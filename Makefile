# SPDX-License-Identifier: GPL-2.0
#
# vmem: build the module against Debian's 6.1 headers (the target kernel,
# not necessarily the running one; KDIR overrides) and the tools.
#
#   make            vmem.ko and vmemctl
#   make check      every test (what CI runs)
#   make demo       the demo in a QEMU guest
#   make kunit      KUnit suites in the debug kernel
#   make check-debug  system tests on the debug (KASAN, lockdep) kernel
#   make check-reliability  the full reliability scenarios (SEED=N)
#   make bench      fio benchmarks, regenerates BENCHMARKS.md
#   make checkpatch kernel style on every C file
#   make deb        vmem-dkms and vmemctl .debs in dist/ (debian/)
#   make module-6.12  vmem.ko for Debian 13's 6.12, built in a Debian 13
#                   root (scripts/roots/; Debian 12's gcc cannot)
#   make check-6.12 the system tests on 6.12
#   make check-install  packages, man pages, DKMS installs and boot-time
#                   activation in Debian 12 and 13 roots (tests/install)

KDIR ?= $(firstword $(wildcard /lib/modules/6.1.*-amd64/build) \
		    /lib/modules/$(shell uname -r)/build)

.PHONY: all module tools check demo kunit check-debug check-reliability \
	bench checkpatch clean deb module-6.12 check-6.12 check-install

all: module tools

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

tools:
	$(MAKE) -C tools

check:
	bash scripts/test-all

demo:
	bash scripts/demo

kunit:
	bash scripts/kunit-run

check-debug:
	bash scripts/check-debug

# SEED=N repeats a run (RELIABILITY.md's numbers: SEED=2026)
check-reliability:
	bash tests/reliability/run $(if $(SEED),--seed $(SEED))

bench:
	bash scripts/bench/run

checkpatch:
	bash scripts/checkpatch.sh

deb:
	bash scripts/make-deb

module-6.12:
	bash scripts/roots/build-module \
		"$$(bash scripts/roots/mkroot trixie | tail -n 1)" build/6.12

check-6.12:
	bash tests/system/run6.12

check-install:
	bash tests/install/run

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean
	$(MAKE) -C tools clean
