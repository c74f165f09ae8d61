#!/usr/bin/env python3
"""ESP-IDF partition tables: read the CSV, check it, write the binary the bootloader reads.

Written from ESP-IDF's documentation of the format ("Partition Tables" in the API guides):
each entry is 32 little-endian bytes (magic 0xAA 0x50, type, subtype, offset u32, size u32,
label 16 bytes NUL-padded, flags u32), then an MD5 entry (0xEB 0xEB, 14 x 0xFF, the MD5 of the
entries before it), then 0xFF up to 0xC00 bytes. The table itself lives at 0x8000.

    parttable.py check TABLE.csv --flash-size 4MB
    parttable.py encode TABLE.csv OUT.bin --flash-size 4MB
    parttable.py info TABLE.csv          (JSON: entries, app slot size, filesystem size)
"""

import argparse
import hashlib
import json
import struct
import sys

TABLE_OFFSET = 0x8000
TABLE_SECTOR = 0x1000
TABLE_MAX_LENGTH = 0xC00
ENTRY = struct.Struct("<2sBBII16sI")
MAGIC = b"\xaa\x50"
MD5_MARKER = b"\xeb\xeb" + b"\xff" * 14
LABEL_MAX = 16

TYPES = {"app": 0x00, "data": 0x01}
SUBTYPES = {
    "app": {"factory": 0x00, "test": 0x20, **{"ota_%d" % i: 0x10 + i for i in range(16)}},
    "data": {
        "ota": 0x00,
        "phy": 0x01,
        "nvs": 0x02,
        "coredump": 0x03,
        "nvs_keys": 0x04,
        "efuse": 0x05,
        "undefined": 0x06,
        "esphttpd": 0x80,
        "fat": 0x81,
        "spiffs": 0x82,
        "littlefs": 0x83,
    },
}
FLAGS = {"encrypted": 0, "readonly": 1}
# Offsets: app partitions on 64 KiB (the MMU maps code in 64 KiB pages), data on 4 KiB sectors.
ALIGN = {"app": 0x10000, "data": 0x1000}
OTADATA_SIZE = 0x2000
NVS_MIN_SIZE = 0x3000
FLASH_SIZES = {"%dMB" % n: n << 20 for n in (1, 2, 4, 8, 16, 32, 64, 128)}


class TableError(ValueError):
    """A partition table that ESP-IDF would refuse, or that cannot hold a dual-OTA firmware."""


class Partition:
    __slots__ = ("name", "type", "subtype", "offset", "size", "flags", "line")

    def __init__(self, name, type, subtype, offset, size, flags=(), line=0):
        self.name = name
        self.type = type
        self.subtype = subtype
        self.offset = offset
        self.size = size
        self.flags = tuple(flags)
        self.line = line

    @property
    def end(self):
        return self.offset + self.size

    def where(self):
        return "partition %r (line %d)" % (self.name, self.line) if self.line else repr(self.name)

    def as_dict(self):
        return {
            "name": self.name,
            "type": self.type,
            "subtype": self.subtype,
            "offset": self.offset,
            "size": self.size,
            "flags": list(self.flags),
        }


def parse_int(text, what):
    """'0x10000', '65536', '64K', '1M' -> int; anything else is a TableError naming `what`."""
    t = text.strip()
    scale = 1
    if t[-1:].upper() in ("K", "M"):
        scale = 1024 if t[-1].upper() == "K" else 1 << 20
        t = t[:-1]
    try:
        return int(t, 0) * scale
    except ValueError:
        raise TableError("%s: %r is not a number" % (what, text)) from None


def parse_flash_size(text):
    size = FLASH_SIZES.get(text.strip().upper().replace("MIB", "MB"))
    if size is None:
        raise TableError("flash size %r: expected one of %s" % (text, ", ".join(FLASH_SIZES)))
    return size


def read_csv(path):
    with open(path, encoding="ascii") as f:
        return parse_csv(f.read(), str(path))


def parse_csv(text, source="<csv>"):
    """The rows of an ESP-IDF partition CSV; every field is required (no automatic offsets)."""
    table = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        fields = [f.strip() for f in line.split(",")]
        while fields and fields[-1] == "":
            fields.pop()
        where = "%s:%d" % (source, number)
        if len(fields) < 5 or len(fields) > 6:
            raise TableError("%s: expected Name, Type, SubType, Offset, Size[, Flags]" % where)
        name, ptype, subtype, offset, size = fields[:5]
        flags = [f.strip() for f in fields[5].split(":")] if len(fields) == 6 else []
        if ptype not in TYPES:
            raise TableError("%s: type %r is not one of %s" % (where, ptype, ", ".join(TYPES)))
        if subtype not in SUBTYPES[ptype]:
            raise TableError("%s: %r is not a subtype of %s partitions" % (where, subtype, ptype))
        for flag in flags:
            if flag not in FLAGS:
                raise TableError("%s: unknown flag %r" % (where, flag))
        if not offset or not size:
            raise TableError("%s: offset and size must both be given" % where)
        table.append(
            Partition(
                name,
                ptype,
                subtype,
                parse_int(offset, where + " offset"),
                parse_int(size, where + " size"),
                flags,
                number,
            )
        )
    if not table:
        raise TableError("%s: no partitions" % source)
    return table


def errors(table, flash_size):
    """Every rule of ESP-IDF's partition tables (and of a dual-OTA layout) the table breaks."""
    found = []
    names = [p.name for p in table]
    for p in table:
        w = p.where()
        if not p.name or len(p.name.encode()) > LABEL_MAX or not p.name.isascii():
            found.append("%s: name must be 1..%d ASCII characters" % (w, LABEL_MAX))
        elif not all(c.isalnum() or c == "_" for c in p.name):
            found.append("%s: name may hold only letters, digits and _" % w)
        if names.count(p.name) > 1:
            found.append("%s: name is used more than once" % w)
        if p.offset % ALIGN[p.type]:
            found.append("%s: offset 0x%x is not aligned to 0x%x" % (w, p.offset, ALIGN[p.type]))
        if p.size <= 0 or p.size % TABLE_SECTOR:
            found.append("%s: size 0x%x is not a positive multiple of 4 KiB" % (w, p.size))
        if p.offset < TABLE_OFFSET + TABLE_SECTOR:
            found.append(
                "%s: offset 0x%x is inside the bootloader or the partition table (below 0x%x)"
                % (w, p.offset, TABLE_OFFSET + TABLE_SECTOR)
            )
        if p.end > flash_size:
            found.append("%s: ends at 0x%x, past the flash size 0x%x" % (w, p.end, flash_size))
        if p.type == "data" and p.subtype == "ota" and "readonly" in p.flags:
            found.append("%s: otadata cannot be read-only" % w)
        if p.type == "data" and p.subtype == "nvs" and p.size < NVS_MIN_SIZE:
            found.append("%s: a read-write nvs needs at least 0x%x" % (w, NVS_MIN_SIZE))
    ordered = sorted(table, key=lambda p: p.offset)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.offset < a.end:
            found.append("%s overlaps %s" % (b.where(), a.where()))
    by_subtype = {}
    for p in table:
        by_subtype.setdefault((p.type, p.subtype), []).append(p)
    for key in (("data", "nvs"), ("data", "ota"), ("data", "phy")):
        if len(by_subtype.get(key, [])) != 1:
            found.append("needs exactly one %s partition of subtype %s" % key)
    otadata = by_subtype.get(("data", "ota"), [])
    if len(otadata) == 1 and otadata[0].size != OTADATA_SIZE:
        found.append("%s: otadata must be 0x2000 bytes" % otadata[0].where())
    slots = [by_subtype.get(("app", "ota_%d" % i), []) for i in (0, 1)]
    if any(len(s) != 1 for s in slots):
        found.append("needs exactly one ota_0 and one ota_1 app partition")
    elif slots[0][0].size != slots[1][0].size:
        found.append("ota_0 and ota_1 differ in size: an image for one may not fit the other")
    if ("app", "factory") in by_subtype:
        found.append("a factory app would be booted instead of a rolled-back OTA slot")
    vfs = [p for p in table if p.name == "vfs"]
    if len(vfs) != 1 or vfs[0].type != "data":
        found.append("needs one data partition named vfs (MicroPython's filesystem)")
    return found


def check(table, flash_size):
    found = errors(table, flash_size)
    if found:
        raise TableError("; ".join(found))
    return table


def encode(table):
    """The 0xC00-byte binary table: entries, MD5 entry, 0xFF padding."""
    body = b""
    for p in table:
        flags = 0
        for flag in p.flags:
            flags |= 1 << FLAGS[flag]
        body += ENTRY.pack(
            MAGIC,
            TYPES[p.type],
            SUBTYPES[p.type][p.subtype],
            p.offset,
            p.size,
            p.name.encode(),
            flags,
        )
    body += MD5_MARKER + hashlib.md5(body).digest()
    if len(body) > TABLE_MAX_LENGTH - ENTRY.size:
        raise TableError("%d partitions do not fit in 0x%x bytes" % (len(table), TABLE_MAX_LENGTH))
    return body + b"\xff" * (TABLE_MAX_LENGTH - len(body))


def decode(data):
    """The inverse of encode(); checks the magic of every entry and the MD5."""
    type_names = {v: k for k, v in TYPES.items()}
    table = []
    md5 = hashlib.md5()
    for pos in range(0, len(data) - ENTRY.size + 1, ENTRY.size):
        raw = data[pos : pos + ENTRY.size]
        if raw == b"\xff" * ENTRY.size:
            raise TableError("binary table ends at 0x%x without an MD5 entry" % pos)
        if raw[:2] == MD5_MARKER[:2]:
            if raw[16:] != md5.digest():
                raise TableError("binary table MD5 does not match its entries")
            return table
        magic, t, st, offset, size, label, flags = ENTRY.unpack(raw)
        if magic != MAGIC:
            raise TableError("entry at 0x%x has bad magic %s" % (pos, magic.hex()))
        md5.update(raw)
        ptype = type_names.get(t)
        if ptype is None:
            raise TableError("entry at 0x%x has unknown type 0x%x" % (pos, t))
        sub = {v: k for k, v in SUBTYPES[ptype].items()}.get(st)
        if sub is None:
            raise TableError("entry at 0x%x has unknown subtype 0x%x" % (pos, st))
        names = [f for f, bit in FLAGS.items() if flags & (1 << bit)]
        table.append(Partition(label.rstrip(b"\x00").decode(), ptype, sub, offset, size, names))
    raise TableError("binary table has no end")


def info(table, flash_size):
    slot = next(p for p in table if p.subtype == "ota_0")
    vfs = next(p for p in table if p.name == "vfs")
    return {
        "flash_size": flash_size,
        "table_offset": TABLE_OFFSET,
        "app_slot_size": slot.size,
        "app_offset": slot.offset,
        "vfs_size": vfs.size,
        "partitions": [p.as_dict() for p in table],
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = ap.add_subparsers(dest="command", required=True)
    for name in ("check", "encode", "info"):
        p = sub.add_parser(name)
        p.add_argument("csv")
        if name == "encode":
            p.add_argument("out")
        p.add_argument("--flash-size", required=True, help="4MB, 8MB, 16MB, ...")
    args = ap.parse_args(argv)
    try:
        flash_size = parse_flash_size(args.flash_size)
        table = check(read_csv(args.csv), flash_size)
    except (TableError, OSError) as e:
        print("parttable: %s: %s" % (args.csv, e), file=sys.stderr)
        return 1
    if args.command == "encode":
        with open(args.out, "wb") as f:
            f.write(encode(table))
    elif args.command == "info":
        print(json.dumps(info(table, flash_size), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
