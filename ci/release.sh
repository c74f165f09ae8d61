#!/usr/bin/env bash
# Release steps CI runs; each is a function, called as `ci/release.sh <step> [args]`, so a
# developer can run the same step locally (MicroPython's tools/ci.sh works the same way).
set -euo pipefail
cd "$(dirname "$0")/.."
source firmware/versions.env

# Inside the ESP-IDF container (IDF_PATH set): one board's image and the header check.
build_board() {
    local board=$1 chip
    chip=$(python3 firmware/boards.py get "$board" chip)
    make firmware BOARD="$board" MICROPY_DIR="${MICROPY_DIR:-$PWD/firmware/micropython}"
    make check-esp32 CHIPS="$chip" MICROPY_DIR="${MICROPY_DIR:-$PWD/firmware/micropython}"
}

# The unix port with _wifimgr and the frozen package, then every suite against it.
host_tests() {
    make test MICROPY_DIR="${MICROPY_DIR:?set MICROPY_DIR to a MicroPython $MICROPYTHON_VERSION tree}"
}

# Release files named <board>-<version>.bin (merged) and .app.bin (OTA), plus the manifests.
# With a fourth argument, the files under that directory go to <out>/files/ and into ota.json
# ("filesystem": written to the device's filesystem by wifimgr.ota after the image verifies).
collect() {
    local dist=$1 base=$2 out=$3 files=${4:-} version
    mkdir -p "$out"
    for m in "$dist"/*/manifest.json; do
        local d board
        d=$(dirname "$m")
        board=$(basename "$d")
        version=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$m")
        cp "$d/firmware.bin" "$out/$board-$version.bin"
        cp "$d/micropython.bin" "$out/$board-$version.app.bin"
        cp "$m" "$out/$board-$version.manifest.json"
    done
    if [ -n "$files" ]; then
        python3 ci/release_manifest.py "$dist" "$base" --files "$files"
        mkdir -p "$out/files"
        cp -r "$files/." "$out/files/"
    else
        python3 ci/release_manifest.py "$dist" "$base"
    fi
    cp "$dist/ota.json" "$out/"
    cp -r "$dist/webflash" "$out/"
}

# The browser flashing page (make webflash) over the boards in DIST, written to OUT, and the same
# page as OUT.zip for hosting elsewhere: it carries its images and ESP Web Tools, no CDN.
webflash() {
    local dist=$1 out=$2
    make webflash WEBFLASH_DIST="$dist" WEBFLASH_OUT="$out"
    python3 -c 'import shutil, sys; shutil.make_archive(sys.argv[1], "zip", sys.argv[1])' "$out"
}

"$@"
