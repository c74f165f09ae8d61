"""partitions/: every dual-OTA table follows ESP-IDF's partition-table rules and fits its flash.

The rules are asserted here directly on the CSV rows (not only through firmware/parttable.py),
then parttable's own checker is shown to reject each kind of broken table, and its binary
encoder is compared with ESP-IDF's gen_esp32part.py when IDF_PATH is set.
"""

import hashlib
import os
import re
import subprocess
import sys

import parttable
import pytest

import boards

TABLES = sorted(boards.PARTITIONS.glob("*.csv"))
MiB = 1 << 20

# Largest app image expected per table (justified in each CSV's header and in the README):
# 4 MiB boards build without Bluetooth (about 1.4-1.6 MiB), the S3 keeps it (1.7-1.9 MiB).
# `make firmware` checks the real image against its slot with the same 10% margin.
EXPECTED_APP = {4 * MiB: 1.6 * MiB, 8 * MiB: 1.9 * MiB, 16 * MiB: 1.9 * MiB}


def flash_size_of(path):
    m = re.match(r"partitions-(\d+)MiB-ota\.csv$", path.name)
    assert m, "%s: name must say its flash size (partitions-<N>MiB-ota.csv)" % path.name
    return int(m.group(1)) * MiB


def rows(path):
    """The CSV's rows as (name, type, subtype, offset, size), read without parttable."""
    out = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            f = [x.strip() for x in line.split(",")]
            out.append((f[0], f[1], f[2], int(f[3], 16), int(f[4], 16)))
    return out


def test_there_is_a_table_for_4_8_and_16_mib():
    assert sorted(flash_size_of(p) // MiB for p in TABLES) == [4, 8, 16]


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.name)
def test_table_follows_esp_idf_rules(path):
    """Names, types, subtypes, alignment, otadata 0x2000, equal slots, no overlap, fits flash."""
    flash = flash_size_of(path)
    table = rows(path)
    names = [r[0] for r in table]
    assert names == ["nvs", "otadata", "phy_init", "ota_0", "ota_1", "vfs"]
    subtypes = {"app": {"ota_0", "ota_1"}, "data": {"nvs", "ota", "phy", "fat"}}
    for name, ptype, subtype, offset, size in table:
        assert re.fullmatch(r"[A-Za-z0-9_]{1,16}", name), name
        assert subtype in subtypes[ptype], (name, ptype, subtype)
        # Nothing below the partition table's own sector (0x8000-0x8FFF).
        assert offset >= 0x9000, name
        assert offset % (0x10000 if ptype == "app" else 0x1000) == 0, (name, hex(offset))
        assert size > 0 and size % 0x1000 == 0, (name, hex(size))
        assert offset + size <= flash, "%s ends past the flash size" % name
    by_name = {r[0]: r for r in table}
    assert by_name["otadata"][1:3] == ("data", "ota") and by_name["otadata"][4] == 0x2000
    assert by_name["nvs"][4] >= 0x3000, "read-write NVS needs at least 0x3000"
    assert by_name["ota_0"][4] == by_name["ota_1"][4], "OTA slots differ in size"
    ordered = sorted(table, key=lambda r: r[3])
    for a, b in zip(ordered, ordered[1:], strict=False):
        assert b[3] >= a[3] + a[4], "%s overlaps %s" % (b[0], a[0])
    # The filesystem takes the rest: it is last and ends exactly at the end of the flash.
    assert ordered[-1][0] == "vfs" and ordered[-1][3] + ordered[-1][4] == flash
    assert parttable.errors(parttable.read_csv(path), flash) == []


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.name)
def test_app_slot_holds_expected_image_plus_ten_percent(path):
    flash = flash_size_of(path)
    slot = next(r for r in rows(path) if r[0] == "ota_0")[4]
    assert slot >= 1.1 * EXPECTED_APP[flash], "%s: slot 0x%x too small" % (path.name, slot)


GOOD = """\
nvs,      data, nvs,     0x9000,   0x4000,
otadata,  data, ota,     0xd000,   0x2000,
phy_init, data, phy,     0xf000,   0x1000,
ota_0,    app,  ota_0,   0x10000,  0x1d0000,
ota_1,    app,  ota_1,   0x1e0000, 0x1d0000,
vfs,      data, fat,     0x3b0000, 0x50000,
"""

BROKEN = [
    ("app slot not 64 KiB aligned", ("0x1e0000, 0x1d0000", "0x1e1000, 0x1cf000"), "aligned"),
    ("otadata not 0x2000", ("0xd000,   0x2000", "0xd000,   0x1000"), "0x2000"),
    ("ota slots differ", ("0x1e0000, 0x1d0000", "0x1e0000, 0x1c0000"), "differ in size"),
    ("overlap", ("0x3b0000, 0x50000", "0x3a0000, 0x60000"), "overlaps"),
    ("past the flash", ("0x3b0000, 0x50000", "0x3b0000, 0x60000"), "past the flash"),
    ("inside the table sector", ("0x9000,   0x4000", "0x8000,   0x5000"), "partition table"),
    ("name too long", ("vfs,", "a_name_of_seventeen,"), "name must be"),
    ("duplicate name", ("phy_init,", "nvs,"), "more than once"),
    ("small nvs", ("0x9000,   0x4000", "0x9000,   0x2000"), "at least"),
    ("no otadata", ("otadata,  data, ota,", "other,    data, undefined,"), "subtype ota"),
    ("no vfs", ("vfs,", "fs,"), "vfs"),
]


def test_checker_accepts_the_reference_table():
    assert parttable.errors(parttable.parse_csv(GOOD), 4 * MiB) == []


@pytest.mark.parametrize("what,edit,message", BROKEN, ids=[b[0] for b in BROKEN])
def test_checker_rejects_broken_table(what, edit, message):
    text = GOOD.replace(*edit)
    assert text != GOOD, what
    found = parttable.errors(parttable.parse_csv(text), 4 * MiB)
    assert any(message in e for e in found), (what, found)


@pytest.mark.parametrize(
    "line,message",
    [
        ("nvs, data, nvs, 0x9000", "expected Name"),
        ("nvs, blob, nvs, 0x9000, 0x4000", "type 'blob'"),
        ("nvs, app, nvs, 0x9000, 0x4000", "not a subtype of app"),
        ("nvs, data, nvs, 0x9000, lots", "not a number"),
        ("nvs, data, nvs, 0x9000, 0x4000, secret", "unknown flag"),
        ("nvs, data, nvs, , 0x4000", "must both be given"),
    ],
)
def test_csv_errors_name_the_line_and_field(line, message):
    with pytest.raises(parttable.TableError, match=message) as e:
        parttable.parse_csv(line, "t.csv")
    assert "t.csv:1" in str(e.value)


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.name)
def test_binary_table_layout_and_round_trip(path):
    table = parttable.read_csv(path)
    blob = parttable.encode(table)
    assert len(blob) == 0xC00
    n = len(table)
    assert all(blob[i * 32 : i * 32 + 2] == b"\xaa\x50" for i in range(n))
    md5 = blob[n * 32 : n * 32 + 32]
    assert md5[:16] == b"\xeb\xeb" + b"\xff" * 14
    assert md5[16:] == hashlib.md5(blob[: n * 32]).digest()
    assert set(blob[(n + 1) * 32 :]) == {0xFF}
    back = parttable.decode(blob)
    assert [p.as_dict() for p in back] == [dict(p.as_dict(), flags=list(p.flags)) for p in table]


def test_decode_rejects_corruption():
    blob = bytearray(parttable.encode(parttable.parse_csv(GOOD)))
    blob[40] ^= 1
    with pytest.raises(parttable.TableError, match="MD5"):
        parttable.decode(bytes(blob))
    blob[0] = 0
    with pytest.raises(parttable.TableError, match="magic"):
        parttable.decode(bytes(blob))


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.name)
def test_binary_matches_esp_idf_gen_esp32part(path, tmp_path):
    idf = os.environ.get("IDF_PATH")
    if not idf:
        pytest.skip("IDF_PATH not set: no ESP-IDF gen_esp32part.py to compare with")
    tool = os.path.join(idf, "components", "partition_table", "gen_esp32part.py")
    out = tmp_path / "ref.bin"
    size = "%dMB" % (flash_size_of(path) // MiB)
    subprocess.run(
        [sys.executable, tool, "--quiet", "--flash-size", size, str(path), str(out)], check=True
    )
    assert parttable.encode(parttable.read_csv(path)) == out.read_bytes()


def test_cli_encode_and_check(tmp_path):
    out = tmp_path / "pt.bin"
    script = str(boards.ROOT / "firmware" / "parttable.py")
    table = str(boards.PARTITIONS / "partitions-4MiB-ota.csv")
    ok = subprocess.run([sys.executable, script, "encode", table, str(out), "--flash-size", "4MB"])
    assert ok.returncode == 0 and len(out.read_bytes()) == 0xC00
    bad = subprocess.run(
        [
            sys.executable,
            script,
            "check",
            str(boards.PARTITIONS / "partitions-8MiB-ota.csv"),
            "--flash-size",
            "4MB",
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and "past the flash size" in bad.stderr
