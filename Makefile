# wifimgr: WiFi manager firmware for MicroPython on ESP32.
# `make help` lists the targets. Everything a target needs is installed by the target itself.

include firmware/versions.env

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BUILD := build
STAMP_VENV := $(VENV)/.installed
STAMP_SYSTEM := $(BUILD)/.system-packages

# The MicroPython that runs the package: the unix port built with _wifimgr (native tier) when a
# MicroPython tree is given, otherwise the unix port from the registry wheel (fallback backend).
MICROPY_DIR ?=
MICROPY_LIB_DIR ?= $(if $(MICROPY_DIR),$(MICROPY_DIR)/lib/micropython-lib)
UNIX_BUILD := $(BUILD)/unix
# Features whose library is a git submodule the given tree may not have checked out.
UNIX_MAKE_ARGS ?= \
	$(if $(wildcard $(MICROPY_DIR)/lib/berkeley-db-1.xx/include),,MICROPY_PY_BTREE=0) \
	$(if $(wildcard $(MICROPY_DIR)/lib/mbedtls/include),,MICROPY_PY_SSL=0) \
	$(if $(wildcard $(MICROPY_DIR)/lib/libffi/src),,MICROPY_PY_FFI=0)
ifneq ($(MICROPY_DIR),)
MICROPYTHON := $(abspath $(UNIX_BUILD))/micropython
else
MICROPYTHON := $(abspath $(VENV))/bin/micropython
endif
export WIFIMGR_MICROPYTHON := $(MICROPYTHON)

SCENARIO ?= tools/sim/scenarios/home.json
WIFIMGR_HTTP_PORT ?= 8080
WIFIMGR_DNS_PORT ?= 5353
export WIFIMGR_HTTP_PORT WIFIMGR_DNS_PORT

PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help sim test unix bench host-core lint format system-packages clean

help: ## List the targets.
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP_VENV): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(STAMP_SYSTEM): tools/setup/debian-packages.txt
	@mkdir -p $(BUILD)
	tools/setup/system-packages.sh tools/setup/debian-packages.txt
	touch $@

system-packages: $(STAMP_SYSTEM) ## Install the Debian packages the tests use (as root), or list them.

sim: $(STAMP_VENV) $(if $(MICROPY_DIR),$(MICROPYTHON)) ## Run wifimgr on MicroPython against a simulated radio (SCENARIO=...).
	@$(if $(MICROPY_DIR),echo "sim: native backend, $(MICROPYTHON)",echo "sim: MICROPY_DIR not set: fallback backend on the registry MicroPython")
	$(VENV)/bin/python tools/sim/launch.py --scenario $(SCENARIO)

test: $(STAMP_VENV) $(STAMP_SYSTEM) host-core $(if $(MICROPY_DIR),$(MICROPYTHON)) ## Run every test tier this machine can run.
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

unix: $(MICROPYTHON) ## Build the unix port with _wifimgr and the frozen package (MICROPY_DIR=...).

$(abspath $(UNIX_BUILD))/micropython: $(STAMP_VENV) $(shell find usermod_wifimgr frozen -type f 2>/dev/null)
	@test -n "$(MICROPY_DIR)" || { echo "make unix: set MICROPY_DIR to a MicroPython $(MICROPYTHON_VERSION) source tree"; exit 2; }
	@test -f "$(MICROPY_DIR)/ports/unix/Makefile" || { echo "make unix: $(MICROPY_DIR) is not a MicroPython source tree (no ports/unix/Makefile)"; exit 2; }
	$(MAKE) -C $(MICROPY_DIR)/mpy-cross
	$(MAKE) -C $(MICROPY_DIR)/ports/unix \
		BUILD=$(abspath $(UNIX_BUILD)) PROG=micropython \
		USER_C_MODULES=$(abspath .) \
		FROZEN_MANIFEST=$(abspath frozen/manifest.py) \
		$(if $(MICROPY_LIB_DIR),MPY_LIB_DIR=$(abspath $(MICROPY_LIB_DIR))) \
		$(UNIX_MAKE_ARGS)

bench: $(STAMP_VENV) $(STAMP_SYSTEM) host-core $(if $(MICROPY_DIR),$(MICROPYTHON)) ## Measure; writes build/bench/results.json and .png.
	$(VENV)/bin/python tools/bench/run.py $(BENCH)

# The portable C core, built for the host: loaded by the tests through ctypes.
CORE_DIR := usermod_wifimgr/core
CORE_SRC := $(wildcard $(CORE_DIR)/*.c)
CORE_HDR := $(wildcard $(CORE_DIR)/*.h)
HOST_CC ?= cc
CORE_WARN := -std=c99 -Wall -Wextra -Werror -pedantic
HOST_CORE := $(BUILD)/host/libwmcore.so

host-core: $(HOST_CORE) ## Build usermod_wifimgr/core as a host shared library for the tests.

$(HOST_CORE): $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(@D)
	$(HOST_CC) $(CORE_WARN) -O2 -g -fPIC -shared -o $@ $(CORE_SRC)

lint: $(STAMP_VENV) ## Check Python style (ruff) and format.
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP_VENV) ## Reformat Python sources.
	$(VENV)/bin/ruff format .

clean: ## Remove build output (keeps .venv).
	rm -rf $(BUILD)
