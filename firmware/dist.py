#!/usr/bin/env python3
"""Assemble firmware/dist/<build>/ from an ESP-IDF build directory of the esp32 port.

    dist.py NAME BUILD_DIR OUT_DIR [--version V]

Writes: bootloader.bin, partition-table.bin (our encoder, checked against ESP-IDF's when the
build has one), micropython.bin (the app image for OTA), firmware.bin (merged, flash at 0x0,
made with esptool merge-bin) and manifest.json (version, board, chip, flash size, and for each
file its offset, SHA-256 and length). Fails, naming the numbers, when the app leaves less than
10% of its OTA slot free or its header is for another chip.
"""

import argparse
import hashlib
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import parttable

import boards

HEADROOM = 0.10
IMAGE_MAGIC = 0xE9
MANIFEST_FORMAT = 1


class DistError(ValueError):
    pass


def app_chip_id(image):
    """chip_id of an ESP app image (esp_image_header_t: magic at 0, chip_id u16 at 12)."""
    if len(image) < 24 or image[0] != IMAGE_MAGIC:
        raise DistError("app image does not start with the ESP image magic 0xE9")
    return struct.unpack_from("<H", image, 12)[0]


def describe(path, offset=None):
    data = path.read_bytes()
    entry = {"name": path.name, "length": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if offset is not None:
        entry["offset"] = offset
    return entry


def version_of_package(root):
    for line in (root / "frozen" / "wifimgr" / "__init__.py").read_text().splitlines():
        if line.startswith("__version__ = "):
            return line.split('"')[1]
    raise DistError("frozen/wifimgr/__init__.py has no __version__")


def assemble(name, build_dir, out_dir, version=None, esptool=None):
    build = boards.find(name)
    table, layout = boards.layout(build)
    build_dir, out_dir = Path(build_dir), Path(out_dir)
    app_src = build_dir / "micropython.bin"
    boot_src = build_dir / "bootloader" / "bootloader.bin"
    for needed in (app_src, boot_src):
        if not needed.is_file():
            raise DistError(
                "%s missing: is %s an esp32 port build of %s?" % (needed, build_dir, name)
            )
    app = app_src.read_bytes()
    slot = layout["app_slot_size"]
    if len(app) * (1 + HEADROOM) > slot:
        raise DistError(
            "app image is %d bytes; the %s slot of 0x%x (%d) bytes leaves less than %d%% free"
            % (len(app), build["partitions"], slot, slot, HEADROOM * 100)
        )
    if app_chip_id(app) != build["chip_id"]:
        raise DistError(
            "app image is for chip id 0x%x, %s needs 0x%x (%s)"
            % (app_chip_id(app), name, build["chip_id"], build["chip"])
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    pt = parttable.encode(table)
    idf_pt = build_dir / "partition_table" / "partition-table.bin"
    if idf_pt.is_file() and idf_pt.read_bytes() != pt:
        raise DistError("%s differs from partitions/%s" % (idf_pt, build["partitions"]))
    (out_dir / "partition-table.bin").write_bytes(pt)
    shutil.copyfile(boot_src, out_dir / "bootloader.bin")
    shutil.copyfile(app_src, out_dir / "micropython.bin")
    otadata = next(p for p in table if p.subtype == "ota")
    (out_dir / "ota_data_initial.bin").write_bytes(b"\xff" * otadata.size)
    parts = [
        (build["bootloader_offset"], "bootloader.bin"),
        (parttable.TABLE_OFFSET, "partition-table.bin"),
        (otadata.offset, "ota_data_initial.bin"),
        (layout["app_offset"], "micropython.bin"),
    ]
    cmd = [
        esptool or str(Path(sys.executable).with_name("esptool")),
        "--chip",
        build["chip"],
        "merge-bin",
        "--output",
        str(out_dir / "firmware.bin"),
        "--flash-size",
        build["flash_size"],
    ]
    for offset, fname in parts:
        cmd += ["0x%x" % offset, str(out_dir / fname)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    files = [describe(out_dir / "firmware.bin", 0)]
    files += [describe(out_dir / fname, offset) for offset, fname in parts]
    for f in files:
        f["role"] = {
            "firmware.bin": "merged",
            "micropython.bin": "app",
            "bootloader.bin": "bootloader",
            "partition-table.bin": "partition_table",
            "ota_data_initial.bin": "otadata",
        }[f["name"]]
    manifest = {
        "format": MANIFEST_FORMAT,
        "name": "wifimgr",
        "version": version or version_of_package(boards.ROOT),
        "board": name,
        "chip": build["chip"],
        "chip_id": build["chip_id"],
        "flash_size": build["flash_size"],
        "app_slot_size": slot,
        "files": files,
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("name", help="build name, BOARD or BOARD-VARIANT")
    ap.add_argument("build_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--version")
    ap.add_argument("--esptool", help="esptool command (default: next to this Python)")
    args = ap.parse_args(argv)
    try:
        m = assemble(args.name, args.build_dir, args.out_dir, args.version, args.esptool)
    except (DistError, boards.BoardError, parttable.TableError, OSError) as e:
        print("dist: %s" % e, file=sys.stderr)
        return 1
    print("dist: %s %s -> %s" % (m["board"], m["version"], args.out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
