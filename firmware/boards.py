#!/usr/bin/env python3
"""The firmware builds: one per board in boards/, plus one per variant a board declares.

A build is named BOARD or BOARD-VARIANT (MicroPython's naming of release files) and carries
what the tools around the esp32 port need: chip, flash size, partition table, offsets.

    boards.py list                 one build name per line
    boards.py show NAME            the build as JSON
    boards.py get NAME FIELD       one field (chip, flash_size, partitions, board, variant, ...)
"""

import json
import sys
from pathlib import Path

import parttable

ROOT = Path(__file__).resolve().parent.parent
BOARDS = ROOT / "boards"
PARTITIONS = ROOT / "partitions"

# Where the second-stage bootloader sits in flash, per chip (ESP-IDF's
# CONFIG_BOOTLOADER_OFFSET_IN_FLASH); the partition table is at 0x8000 on all of them.
BOOTLOADER_OFFSET = {
    "esp32": 0x1000,
    "esp32s2": 0x1000,
    "esp32s3": 0x0,
    "esp32c3": 0x0,
    "esp32c6": 0x0,
}
# The chip-id field of the app image header (esp_image_header_t.chip_id), which OTA checks.
CHIP_ID = {
    "esp32": 0x0000,
    "esp32s2": 0x0002,
    "esp32c3": 0x0005,
    "esp32s3": 0x0009,
    "esp32c6": 0x000D,
}


class BoardError(ValueError):
    pass


def pinned_versions():
    """The upstream versions from firmware/versions.env, name to value."""
    pairs = {}
    for line in (ROOT / "firmware" / "versions.env").read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            pairs[name.strip()] = value.strip()
    return pairs


def _load(board_dir):
    path = board_dir / "board.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise BoardError("%s: %s" % (path, e)) from None
    if "wifimgr" not in data or "mcu" not in data:
        raise BoardError('%s: needs "mcu" and a "wifimgr" section' % path)
    return data


def builds():
    """Every build, as dicts, sorted by name."""
    out = []
    for board_dir in sorted(p for p in BOARDS.iterdir() if (p / "board.json").exists()):
        data = _load(board_dir)
        wm = data["wifimgr"]
        base = {
            "board": board_dir.name,
            "variant": "",
            "name": board_dir.name,
            "chip": data["mcu"],
            "product": data.get("product", board_dir.name),
            "flash_size": wm["flash_size"],
            "partitions": wm["partitions"],
        }
        out.append(base)
        for variant, override in sorted(wm.get("variants", {}).items()):
            out.append(
                dict(base, variant=variant, name="%s-%s" % (board_dir.name, variant), **override)
            )
    for b in out:
        if b["chip"] not in BOOTLOADER_OFFSET:
            raise BoardError("%s: unknown chip %r" % (b["name"], b["chip"]))
        b["bootloader_offset"] = BOOTLOADER_OFFSET[b["chip"]]
        b["partition_table_offset"] = parttable.TABLE_OFFSET
        b["chip_id"] = CHIP_ID[b["chip"]]
    return out


def find(name):
    """A build by BOARD-VARIANT name, or by BOARD and VARIANT given apart."""
    for b in builds():
        if b["name"] == name:
            return b
    known = ", ".join(b["name"] for b in builds())
    raise BoardError("no build named %r; the builds are: %s" % (name, known))


def layout(build):
    """The partition table of a build, checked, with its app slot and filesystem sizes."""
    flash = parttable.parse_flash_size(build["flash_size"])
    table = parttable.check(parttable.read_csv(PARTITIONS / build["partitions"]), flash)
    return table, parttable.info(table, flash)


def main(argv):
    try:
        if argv[:1] == ["list"]:
            print("\n".join(b["name"] for b in builds()))
        elif argv[:1] == ["show"] and len(argv) == 2:
            print(json.dumps(find(argv[1]), indent=2))
        elif argv[:1] == ["get"] and len(argv) == 3:
            print(find(argv[1])[argv[2]])
        else:
            print(__doc__.strip(), file=sys.stderr)
            return 2
    except (BoardError, KeyError) as e:
        print("boards: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
