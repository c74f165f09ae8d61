#!/usr/bin/env bash
# Says exactly what `make firmware` lacks before anything is built, and how to get it.
# Usage: preflight.sh BUILD_NAME MICROPY_DIR IDF_PATH DOCKER
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.env"
name=$1 micropy=$2 idf=$3 docker=$4
fail() { echo "make firmware: $*" >&2; exit 2; }

[[ -n $name ]] || fail "set BOARD to one of: $(python3 "$here/boards.py" list | tr '\n' ' ')"
python3 "$here/boards.py" show "$name" >/dev/null || exit 2

if [[ ! -f $micropy/ports/esp32/CMakeLists.txt ]]; then
    fail "no MicroPython $MICROPYTHON_VERSION tree at '$micropy' (no ports/esp32).
  Give one with MICROPY_DIR=/path/to/micropython (tag $MICROPYTHON_VERSION), or let the Makefile
  clone it into firmware/micropython (needs network access to the MicroPython git repository)."
fi

if [[ $docker == 1 ]]; then
    command -v docker >/dev/null || fail "DOCKER=1 but no docker command: install Docker, or set IDF_PATH."
    docker info >/dev/null 2>&1 || fail "DOCKER=1 but the Docker daemon does not answer (docker info failed)."
    exit 0
fi
if [[ -z $idf ]]; then
    fail "ESP-IDF $ESP_IDF_VERSION is missing: IDF_PATH is not set. Either
  - install it: git clone -b $ESP_IDF_VERSION --recursive https://github.com/espressif/esp-idf.git
    then ./esp-idf/install.sh esp32,esp32s3,esp32c3,esp32c6 and . ./esp-idf/export.sh
    (export.sh sets IDF_PATH and puts idf.py and the compilers on PATH), or
  - build in the official container: make firmware BOARD=$name DOCKER=1
    (image espressif/idf:$ESP_IDF_VERSION)."
fi
[[ -f $idf/tools/idf.py ]] || fail "IDF_PATH=$idf is not a complete ESP-IDF: no tools/idf.py."
command -v idf.py >/dev/null || fail "idf.py is not on PATH: run . $idf/export.sh first."
ver=$(sed -n 's/^set(IDF_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\))/\2/p' "$idf/tools/cmake/version.cmake" | paste -sd.)
[[ v$ver == "$ESP_IDF_VERSION" ]] || echo "make firmware: warning: ESP-IDF at $idf is v$ver, pinned is $ESP_IDF_VERSION" >&2
exit 0
