"""Real ESP app images for the OTA tests, made with esptool's Python API (CPython side).

`build(chip, size)` returns an app image as `esptool elf2image` writes one for that chip: the
24-byte header with the chip's id, an `esp_app_desc_t` at the start of the first flash segment
(version, project name), flash-mapped DROM/IROM segments on their 64 KiB pages, RAM segments,
the XOR checksum and the appended SHA-256. `wrong(kind, ...)` returns one deliberately broken
image per kind in `WRONG`. The OTA server and the benchmark use the same module:

    python tests/helpers/esp_image.py OUTDIR [--size BYTES] [--version V]

writes OUTDIR/<chip>.bin for every chip the boards use and OUTDIR/<chip>-<kind>.bin.
"""

import argparse
import hashlib
import random
import struct
import sys
from pathlib import Path

from esptool import bin_image

IMAGE_CLASSES = {
    "esp32": bin_image.ESP32FirmwareImage,
    "esp32s3": bin_image.ESP32S3FirmwareImage,
    "esp32c3": bin_image.ESP32C3FirmwareImage,
    "esp32c6": bin_image.ESP32C6FirmwareImage,
}
CHIP_IDS = {name: cls.ROM_LOADER.IMAGE_CHIP_ID for name, cls in IMAGE_CLASSES.items()}
HEADER_LEN = 24
CHIP_ID_OFFSET = 12
HASH_APPENDED_OFFSET = 23
APP_DESC_MAGIC = 0xABCD5432
# esp_app_desc_t up to idf_ver: magic, secure_version, reserved[2], version[32],
# project_name[32], time[16], date[16], idf_ver[32], app_elf_sha256[32], then reserved words.
APP_DESC = struct.Struct("<II8x32s32s16s16s32s32s")
APP_DESC_LEN = 256

# What each kind of wrong image breaks, as the OTA error should name it.
WRONG = {
    "magic": "first byte is not the image magic 0xE9",
    "chip": "header names another chip",
    "segments": "segment count is 0",
    "checksum": "one byte of segment data flipped, appended SHA-256 recomputed",
    "digest": "one byte of the appended SHA-256 flipped",
    "body": "one byte of segment data flipped (checksum and digest no longer match)",
    "truncated": "last 100 bytes missing",
}


def app_desc(version, project="micropython"):
    fields = APP_DESC.pack(
        APP_DESC_MAGIC,
        0,
        version.encode(),
        project.encode(),
        b"20:50:00",
        b"Nov 22 2026",
        b"v5.4.2",
        b"\0" * 32,
    )
    return fields + b"\0" * (APP_DESC_LEN - len(fields))


def _region(rom, kind, start=None):
    for lo, _hi, name in rom.MEMORY_MAP:
        if name == kind and (start is None or lo == start):
            return lo
    raise ValueError("%s has no %s region" % (rom.CHIP_NAME, kind))


def build(chip="esp32", size=256 * 1024, seed=1, version="0.2.0", append_digest=True):
    """A real app image for `chip` of about `size` bytes (at least 64 KiB worth of segments).

    Seeded random segment data (it differs per seed and compresses like code would not).
    """
    if chip not in IMAGE_CLASSES:
        raise ValueError("unknown chip %r; known: %s" % (chip, ", ".join(IMAGE_CLASSES)))
    cls = IMAGE_CLASSES[chip]
    rom = cls.ROM_LOADER
    rng = random.Random("%s/%d/%s" % (chip, seed, version))
    image = cls(append_digest=append_digest)
    body = max(size - 0x10000, 0x1000) & ~0xFFF
    drom_len = (body // 4) & ~3
    ram_len = min(body // 8, 0x8000) & ~3
    irom_len = (body - drom_len - 2 * ram_len) & ~3
    # Flash-mapped segments start 0x20 into a 64 KiB page, as ESP-IDF's linker scripts do.
    drom = rom.DROM_MAP_START + 0x20
    irom = rom.IROM_MAP_START + 0x20
    desc = app_desc(version)
    image.segments = [
        bin_image.ELFSection(b".flash.appdesc", drom, desc + rng.randbytes(drom_len), 0),
        bin_image.ELFSection(b".flash.text", irom, rng.randbytes(irom_len), 0),
        bin_image.ELFSection(b".dram0.data", _region(rom, "DRAM"), rng.randbytes(ram_len), 0),
        bin_image.ELFSection(b".iram0.text", _region(rom, "IRAM"), rng.randbytes(ram_len), 0),
    ]
    image.entrypoint = irom
    image.flash_mode = 2  # DIO
    image.flash_size_freq = 0x20  # 4MB, 40 MHz
    return image.save(None)


def parse(data):
    """(chip_id, segment count, image length without digest, digest or None) of an image."""
    count = data[1]
    pos = HEADER_LEN
    for _ in range(count):
        _addr, length = struct.unpack_from("<II", data, pos)
        pos += 8 + length
    end = (pos + 16) & ~15
    digest = data[end : end + 32] if data[HASH_APPENDED_OFFSET] == 1 else None
    return struct.unpack_from("<H", data, CHIP_ID_OFFSET)[0], count, end, digest


def _flip(data, pos):
    data[pos] ^= 0x01


def wrong(kind, chip="esp32", size=256 * 1024, seed=1, version="0.2.0"):
    """A deliberately broken image; kinds in WRONG."""
    data = bytearray(build(chip, size, seed, version))
    _chip, _count, end, _digest = parse(data)
    body_pos = HEADER_LEN + 8 + APP_DESC_LEN + 100
    if kind == "magic":
        data[0] = 0xE8
    elif kind == "chip":
        other = 0x0005 if CHIP_IDS[chip] != 0x0005 else 0x0009
        struct.pack_into("<H", data, CHIP_ID_OFFSET, other)
        data[end : end + 32] = hashlib.sha256(data[:end]).digest()
    elif kind == "segments":
        data[1] = 0
    elif kind == "checksum":
        _flip(data, body_pos)
        data[end : end + 32] = hashlib.sha256(data[:end]).digest()
    elif kind == "digest":
        _flip(data, end + 5)
    elif kind == "body":
        _flip(data, body_pos)
    elif kind == "truncated":
        del data[-100:]
    else:
        raise ValueError("unknown kind %r; known: %s" % (kind, ", ".join(WRONG)))
    return bytes(data)


def write_set(out, size=256 * 1024, version="0.2.0", chips=None):
    """Writes <chip>.bin and <chip>-<kind>.bin into `out`; returns {name: bytes}."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    made = {}
    for chip in chips or IMAGE_CLASSES:
        made["%s.bin" % chip] = build(chip, size, version=version)
        for kind in WRONG:
            made["%s-%s.bin" % (chip, kind)] = wrong(kind, chip, size, version=version)
    for name, data in made.items():
        (out / name).write_bytes(data)
    return made


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=256 * 1024)
    ap.add_argument("--version", default="0.2.0")
    args = ap.parse_args(argv)
    made = write_set(args.out, args.size, args.version)
    print("esp_image: wrote %d images to %s" % (len(made), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
