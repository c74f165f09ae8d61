# wifimgr: WiFi manager firmware for MicroPython on ESP32.
# `make help` lists the targets. Everything a target needs is installed by the target itself.

include firmware/versions.env

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BUILD := build
STAMP_VENV := $(VENV)/.installed
STAMP_SYSTEM := $(BUILD)/.system-packages
STAMP_SYSTEM_UNIX32 := $(BUILD)/.system-packages-unix32

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
SIM_BACKEND := $(if $(MICROPY_DIR),native backend in $(MICROPYTHON),fallback backend on the registry MicroPython (no MICROPY_DIR))
WIFIMGR_HTTP_PORT ?= 8080
WIFIMGR_DNS_PORT ?= 5353
export WIFIMGR_HTTP_PORT WIFIMGR_DNS_PORT

PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: unix32 help sim test unix bench host-core lint format system-packages clean

help: ## List the targets.
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP_VENV): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(STAMP_SYSTEM): tools/setup/debian-packages.txt
$(STAMP_SYSTEM_UNIX32): tools/setup/debian-packages-unix32.txt
$(STAMP_SYSTEM) $(STAMP_SYSTEM_UNIX32):
	@mkdir -p $(BUILD)
	tools/setup/system-packages.sh $<
	touch $@

system-packages: $(STAMP_SYSTEM) ## Install the Debian packages the tests use (as root), or list them.

sim: $(STAMP_VENV) $(if $(MICROPY_DIR),$(MICROPYTHON)) ## Run wifimgr on MicroPython against a simulated radio (SCENARIO=...).
	@echo "sim: $(SIM_BACKEND)"
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
		FROZEN_MANIFEST=$(abspath frozen/manifest_unix.py) \
		$(if $(MICROPY_LIB_DIR),MPY_LIB_DIR=$(abspath $(MICROPY_LIB_DIR))) \
		$(UNIX_MAKE_ARGS)

unix32: $(STAMP_SYSTEM_UNIX32) ## Build the unix port 32-bit (an ESP32's word size, for its heap numbers) into build/unix32.
	$(MAKE) unix UNIX_BUILD=$(BUILD)/unix32 UNIX_MAKE_ARGS="$(UNIX_MAKE_ARGS) MICROPY_FORCE_32BIT=1 MICROPY_PY_FFI=0"

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

# --- Captive DNS (issue 3): host tools, fuzzing, code size. ---------------------------------
DNS_TOOLS_DIR := $(BUILD)/host/dns
DNS_TOOLS := $(DNS_TOOLS_DIR)/wm_dns_server $(DNS_TOOLS_DIR)/udp_echo $(DNS_TOOLS_DIR)/dns_load \
	$(DNS_TOOLS_DIR)/dns_callgrind $(DNS_TOOLS_DIR)/malloc_count.so
DNS_PORT_SRC := usermod_wifimgr/port/dns_task.c usermod_wifimgr/port/dns_task.h
FUZZ_SECONDS ?= 60
FUZZ_RUNS ?=
FUZZ_DIR := $(BUILD)/fuzz
RISCV_CC ?= riscv64-unknown-elf-gcc
RISCV_FLAGS := -march=rv32imc_zicsr -mabi=ilp32 -Os --specs=picolibc.specs $(CORE_WARN)
.PHONY: dns-tools fuzz-dns size

dns-tools: $(DNS_TOOLS) ## Build the host DNS server, UDP echo, load generator and bench helpers.

$(DNS_TOOLS_DIR)/wm_dns_server: tools/dns/server.c $(DNS_PORT_SRC) $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(@D)
	$(HOST_CC) -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -O2 -g -Iusermod_wifimgr \
		-o $@ tools/dns/server.c usermod_wifimgr/port/dns_task.c $(CORE_DIR)/dns.c -lpthread

$(DNS_TOOLS_DIR)/udp_echo: tools/dns/echo.c
	@mkdir -p $(@D)
	$(HOST_CC) -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -O2 -o $@ $<

$(DNS_TOOLS_DIR)/dns_load: tools/dns/load.c
	@mkdir -p $(@D)
	$(HOST_CC) -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -O2 -o $@ $<

$(DNS_TOOLS_DIR)/dns_callgrind: tools/dns/callgrind.c $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(@D)
	$(HOST_CC) $(CORE_WARN) -O2 -g -Iusermod_wifimgr -o $@ tools/dns/callgrind.c $(CORE_DIR)/dns.c

$(DNS_TOOLS_DIR)/malloc_count.so: tools/dns/malloc_count.c
	@mkdir -p $(@D)
	$(HOST_CC) -Wall -Wextra -Werror -O2 -fPIC -shared -o $@ $< -ldl

$(FUZZ_DIR)/fuzz_dns: tests/fuzz/fuzz_dns.c $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(@D)
	clang -std=c99 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-Iusermod_wifimgr -o $@ tests/fuzz/fuzz_dns.c $(CORE_DIR)/dns.c

$(FUZZ_DIR)/corpus/.seeded: tests/dns_vectors.json
	@mkdir -p $(@D)
	$(PYTHON) -c 'import json,sys; [open("$(@D)/v%02d" % i, "wb").write(bytes.fromhex(v["query"])) for i, v in enumerate(json.load(open(sys.argv[1]))["vectors"])]' $<
	touch $@

fuzz-dns: $(FUZZ_DIR)/fuzz_dns $(FUZZ_DIR)/corpus/.seeded ## Fuzz core/dns.c under ASan/UBSan (FUZZ_SECONDS=N or FUZZ_RUNS=N).
	$(FUZZ_DIR)/fuzz_dns -max_len=600 $(if $(FUZZ_RUNS),-runs=$(FUZZ_RUNS),-max_total_time=$(FUZZ_SECONDS)) \
		-print_final_stats=1 $(FUZZ_DIR)/corpus

size: ## Compile every core/*.c for rv32imc (ESP32-C3 class) with -Os and report code size.
	@command -v $(RISCV_CC) >/dev/null || { echo "size: skipped: $(RISCV_CC) not installed"; exit 0; }
	@mkdir -p $(BUILD)/size
	@for src in $(CORE_SRC); do \
		$(RISCV_CC) $(RISCV_FLAGS) -c $$src -o $(BUILD)/size/$$(basename $$src .c).o || exit 1; \
	done
	@riscv64-unknown-elf-size $(BUILD)/size/*.o

# --- Scan/connect state machine (issue 4): fuzzing, bench helper. ----------------------------
LINK_FUZZ_CORPUS := $(FUZZ_DIR)/link-corpus
LINK_TOOLS_DIR := $(BUILD)/host/link
.PHONY: fuzz-link link-tools

link-tools: $(LINK_TOOLS_DIR)/link_callgrind ## Build the host helper that make bench BENCH=link runs under callgrind.

$(LINK_TOOLS_DIR)/link_callgrind: tools/link/callgrind.c $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(@D)
	$(HOST_CC) $(CORE_WARN) -O2 -g -Iusermod_wifimgr -o $@ tools/link/callgrind.c $(CORE_DIR)/link.c

$(FUZZ_DIR)/fuzz_link: tests/fuzz/fuzz_link.c $(CORE_SRC) $(CORE_HDR)
	@mkdir -p $(@D)
	clang -std=c99 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-Iusermod_wifimgr -o $@ tests/fuzz/fuzz_link.c $(CORE_DIR)/link.c

$(LINK_FUZZ_CORPUS)/.seeded: tests/link_vectors.json tests/fuzz/link_corpus.py
	$(PYTHON) tests/fuzz/link_corpus.py tests/link_vectors.json $(@D)
	touch $@

fuzz-link: $(FUZZ_DIR)/fuzz_link $(LINK_FUZZ_CORPUS)/.seeded ## Fuzz core/link.c under ASan/UBSan (FUZZ_SECONDS=N or FUZZ_RUNS=N).
	$(FUZZ_DIR)/fuzz_link -max_len=2048 -artifact_prefix=$(FUZZ_DIR)/link- $(if $(FUZZ_RUNS),-runs=$(FUZZ_RUNS),-max_total_time=$(FUZZ_SECONDS)) \
		-print_final_stats=1 $(LINK_FUZZ_CORPUS)

# ---- Firmware images per board (boards/, partitions/, firmware/) --------------------------------
# BOARD is a build name from `firmware/boards.py list`: BOARD or BOARD-VARIANT.
BOARD ?=
FW_BOARD := $(firstword $(subst -, ,$(BOARD)))
FW_VARIANT := $(word 2,$(subst -, ,$(BOARD)))
FW_BUILDS := $(shell $(PYTHON) firmware/boards.py list 2>/dev/null)
MICROPY_GIT_URL ?= https://github.com/micropython/micropython.git
FW_MICROPY_DIR := $(abspath $(or $(MICROPY_DIR),firmware/micropython))
IDF_PATH ?=
DOCKER ?= 0
ESP_IDF_IMAGE ?= espressif/idf:$(ESP_IDF_VERSION)
FW_BUILD := $(abspath $(BUILD))/firmware/$(BOARD)
FW_DIST := firmware/dist/$(BOARD)
PORT ?= /dev/ttyUSB0
BAUD ?= 460800
ESPTOOL := $(VENV)/bin/esptool
# The venv is made once; the symlinked shared one counts when it already has esptool.
FW_VENV := $(if $(wildcard $(ESPTOOL)),,$(STAMP_VENV))
# idf.py run on the port, on this machine (IDF_PATH exported) or in the ESP-IDF container.
FW_IDF_ARGS = -D MICROPY_BOARD=$(FW_BOARD) -D MICROPY_BOARD_DIR=$(1)/boards/$(FW_BOARD) \
	$(if $(FW_VARIANT),-D MICROPY_BOARD_VARIANT=$(FW_VARIANT)) \
	-D USER_C_MODULES=$(1)/usermod_wifimgr/micropython.cmake -B $(2) build
ifeq ($(DOCKER),1)
FW_IDF = docker run --rm -u $$(id -u):$$(id -g) -e HOME=/tmp \
	-v $(CURDIR):/wifimgr -v $(FW_MICROPY_DIR):/micropython -w /micropython/ports/esp32 \
	$(ESP_IDF_IMAGE) bash -c 'make -C /micropython/mpy-cross && idf.py \
	$(call FW_IDF_ARGS,/wifimgr,/wifimgr/$(BUILD)/firmware/$(BOARD))'
else
FW_IDF = $(MAKE) -C $(FW_MICROPY_DIR)/mpy-cross && cd $(FW_MICROPY_DIR)/ports/esp32 && \
	idf.py $(call FW_IDF_ARGS,$(CURDIR),$(FW_BUILD))
endif

.PHONY: firmware flash erase check-esp32 firmware-all

firmware: $(FW_VENV) ## Build firmware/dist/BOARD/ (BOARD=..., MICROPY_DIR=..., IDF_PATH or DOCKER=1).
	@test -d $(FW_MICROPY_DIR) || { test -z "$(MICROPY_DIR)" && \
		git clone --depth 1 --branch $(MICROPYTHON_VERSION) $(MICROPY_GIT_URL) $(FW_MICROPY_DIR) && \
		git -C $(FW_MICROPY_DIR) submodule update --init --depth 1 lib/berkeley-db-1.xx lib/micropython-lib; } || \
		{ echo "make firmware: could not clone MicroPython $(MICROPYTHON_VERSION); give MICROPY_DIR=..." >&2; exit 2; }
	@firmware/preflight.sh "$(BOARD)" "$(FW_MICROPY_DIR)" "$(IDF_PATH)" "$(DOCKER)"
	$(FW_IDF)
	$(VENV)/bin/python firmware/dist.py $(BOARD) $(FW_BUILD) $(FW_DIST) --esptool $(abspath $(ESPTOOL))

firmware-all: ## Build every board's image (same inputs as make firmware).
	@for b in $(FW_BUILDS); do $(MAKE) --no-print-directory firmware BOARD=$$b || exit 1; done

flash: $(FW_VENV) ## Flash firmware/dist/BOARD/firmware.bin at 0x0 with esptool (PORT=...).
	@test -f $(FW_DIST)/firmware.bin || { echo "make flash: no $(FW_DIST)/firmware.bin: run make firmware BOARD=$(BOARD), or download it" >&2; exit 2; }
	$(ESPTOOL) --chip $$($(PYTHON) firmware/boards.py get $(BOARD) chip) --port $(PORT) --baud $(BAUD) \
		write-flash 0x0 $(FW_DIST)/firmware.bin

erase: $(FW_VENV) ## Erase the whole flash of the board on PORT (settings and files too).
	$(ESPTOOL) --port $(PORT) --baud $(BAUD) erase-flash

check-esp32: $(FW_VENV) ## Compile usermod_wifimgr/ against ESP-IDF headers per chip (IDF_PATH, MICROPY_DIR).
	$(VENV)/bin/python firmware/check_esp32.py --idf "$(IDF_PATH)" --micropython "$(MICROPY_DIR)" \
		--build $(BUILD)/check-esp32 $(CHIPS)

# ---- OTA (wifimgr.ota, tools/ota_server.py) -----------------------------------------------------
OTA_DIR ?= $(BUILD)/ota
OTA_PORT ?= 8000

.PHONY: ota-server

ota-server: $(STAMP_VENV) ## Serve test app images (every chip, good and broken) on 127.0.0.1:OTA_PORT.
	$(VENV)/bin/python tests/helpers/esp_image.py $(OTA_DIR)
	@echo "ota-server: plain HTTP, so an update needs the image's SHA-256 (README: What each OTA mode protects):"
	@cd $(OTA_DIR) && sha256sum *.bin
	$(VENV)/bin/python tools/ota_server.py $(OTA_DIR) --port $(OTA_PORT)

# ---- Captive portal (frozen/wifimgr/portal) -----------------------------------------------------
# The page is a source (www/index.html); its gzipped copy _page.py is made here, never committed.
PORTAL_PAGE := frozen/wifimgr/portal/_page.py

.PHONY: portal-page
portal-page: $(PORTAL_PAGE) ## Gzip the portal page into frozen/wifimgr/portal/_page.py.

$(PORTAL_PAGE): frozen/wifimgr/portal/www/index.html tools/portal/mkpage.py
	$(PYTHON) tools/portal/mkpage.py

test sim bench $(abspath $(UNIX_BUILD))/micropython: $(PORTAL_PAGE)

# ---- mip package for stock MicroPython (package.json, tools/mip) --------------------------------
# build/mip/: package.json and the package as .mpy (mpy-cross from requirements.txt, for
# MICROPYTHON_VERSION); the release publishes it as the `mip` branch.
MIP_DIR := $(BUILD)/mip

.PHONY: mip
mip: $(STAMP_VENV) ## Build build/mip/: the tree `mip install` installs (package.json + .mpy).
	$(VENV)/bin/python tools/mip/build.py $(MIP_DIR)

# ---- Improv Wi-Fi serial (frozen/wifimgr/improv.py) ----------------------------------------------
# The client ESP Web Tools uses, from npm at the versions tools/improv/package-lock.json pins (its
# own dependencies too), for the tests and the bench (tools/improv/client.mjs drives it under Node).
IMPROV_NODE := $(BUILD)/improv
IMPROV_SDK := $(IMPROV_NODE)/node_modules/improv-wifi-serial-sdk/dist/serial.js

.PHONY: improv-sdk
improv-sdk: $(IMPROV_SDK) ## Install the Improv serial SDK (npm) into build/improv for the tests.

$(IMPROV_SDK): tools/improv/package.json tools/improv/package-lock.json $(STAMP_SYSTEM)
	@mkdir -p $(IMPROV_NODE)
	cp tools/improv/package.json tools/improv/package-lock.json $(IMPROV_NODE)/
	cd $(IMPROV_NODE) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

test bench: $(IMPROV_SDK)

# ---- Browser flashing page (tools/webflash) ------------------------------------------------------
# build/webflash/: ESP Web Tools' install button (npm, at the versions tools/webflash/package-lock.json
# pins, copied into the page: no CDN) over the boards built into WEBFLASH_DIST (make firmware).
WEBFLASH_NODE := $(BUILD)/webflash-npm
ESP_WEB_TOOLS := $(WEBFLASH_NODE)/node_modules/esp-web-tools/dist/web
WEBFLASH_DIST ?= firmware/dist
WEBFLASH_OUT ?= $(BUILD)/webflash

.PHONY: webflash esp-web-tools
esp-web-tools: $(ESP_WEB_TOOLS)/install-button.js ## Install ESP Web Tools (npm) into build/webflash-npm.

$(ESP_WEB_TOOLS)/install-button.js: tools/webflash/package.json tools/webflash/package-lock.json $(STAMP_SYSTEM)
	@mkdir -p $(WEBFLASH_NODE)
	cp tools/webflash/package.json tools/webflash/package-lock.json $(WEBFLASH_NODE)/
	cd $(WEBFLASH_NODE) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

webflash: $(ESP_WEB_TOOLS)/install-button.js ## Build build/webflash/: the flashing page (WEBFLASH_DIST=firmware/dist).
	$(PYTHON) tools/webflash/build.py $(WEBFLASH_DIST) $(ESP_WEB_TOOLS) $(WEBFLASH_OUT)

test: $(ESP_WEB_TOOLS)/install-button.js
