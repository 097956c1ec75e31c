# mm/gup pinning series: the series in patches/, and the harness that fetches
# the base tree, applies it, builds, boots it in QEMU and runs the tests.
# `make help` lists the targets. The harness lives in harness/.

PYTHON ?= python3
H = PYTHON=$(PYTHON) harness/gup

# Settings, passed to the harness through the environment.
export KIND KSRC PATCHES SUITES GROUP DEMOS ACCEL BOOT_TIMEOUT GUEST_TIMEOUT JOBS CACHE \
	MEM SMP MOVABLECORE APPEND FORCE CONFIG_EXTRA BASE BASE_VERSION V MATRIX BENCH_ROUNDS \
	BISECT PREFIXES POSTINGS

.PHONY: all check tree export verify lint bisect postings shell bench profile base build debug regress \
	base-run selftest demo-failures deps help clean docs

all: deps ## main job: base tree, apply the series, build, boot, run every suite, summary
	@$(H) run

check: deps ## what CI proves: self-tests, verify (+b4), lint, docs, build, boot, `check` suites
	@$(H) check

tree: deps ## tree/ = base + git am of patches/ (branch `series`); FORCE=1 discards work
	@$(H) tree

export: ## git format-patch tree/ back into patches/, refresh the post-series copies
	@$(H) export

verify: deps ## series applies with git am; copies equal base + series; no stale copy
	@$(H) verify

lint: deps ## checkpatch --strict on each patch; new sparse (C=2) warnings vs base
	@$(H) lint

bisect: deps ## every prefix of every posting builds: x86 test/allnoconfig, !MMU arm, arm64 objects; W=1+sparse vs base
	@$(H) bisect

postings: deps ## each posting's tests on the base + its prerequisites + it (harness/posting-suites)
	@$(H) postings

shell: deps ## boot the patched kernel to an interactive shell with the tests
	@$(H) shell

docs: deps ## make htmldocs on the touched Documentation dirs + kernel-doc -Wall, base vs patched
	@$(H) docs

bench: deps ## every benchmark, base vs patched: medians, spread, ratio table + PNG chart
	@$(H) bench

profile: deps ## instructions per function, base vs patched: vmsplice_bench under a QEMU plugin
	@$(H) profile

base: deps ## fetch and cache the base tree only
	@$(H) base

build: deps ## build the patched kernel only (KIND=debug: the debug kernel; KIND=base)
	@$(H) build

regress: deps ## pre-existing mm selftests on base and patched kernels, compared (table)
	@$(H) regress

debug: deps ## series tests + mm selftests on the KASAN/lockdep/DEBUG_PAGEALLOC kernel
	@$(H) debug

base-run: deps ## the main job's suites on the base kernel (no series)
	@$(H) base-run

demo-failures: deps ## deliberately broken kernels (panic, WARN, pin leak, failing test, hang) must each fail
	@$(H) demo-failures

selftest: ## the harness's own unit tests (parsers, series workflow)
	@$(H) selftest

deps: ## install missing Debian packages (apt-get update first)
	@harness/deps.sh

help: ## this list
	@echo "Targets:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
		sed -e 's/:.*## /\t/' | awk -F'\t' '{printf "  %-14s %s\n", $$1, $$2}'
	@echo "Variables: KSRC=/path/to/linux (apply onto your git tree), \
SUITES=a,b, ACCEL=kvm|tcg, BOOT_TIMEOUT=s, GUEST_TIMEOUT=s, JOBS=n, \
CACHE=dir, PATCHES=dir, BASE_VERSION=v, V=1"

clean: ## remove run output (out/); the base cache and ccache stay
	rm -rf out
