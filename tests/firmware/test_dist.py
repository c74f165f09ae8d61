"""firmware/dist.py and the Makefile's firmware targets, without ESP-IDF.

The app and bootloader images are real ESP-IDF image files: a tiny RISC-V program compiled with
Debian's riscv64-unknown-elf-gcc and turned into an ESP32-C3 image by esptool elf2image.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys

import dist
import parttable
import pytest

import boards

ROOT = boards.ROOT
ESPTOOL = os.path.join(os.path.dirname(sys.executable), "esptool")
CC = "riscv64-unknown-elf-gcc"


def esp_image(tmp_path, chip="esp32c3", pad=0):
    if not shutil.which(CC) or not os.access(ESPTOOL, os.X_OK):
        pytest.skip("needs %s and esptool to make a real ESP image" % CC)
    src = tmp_path / "a.c"
    src.write_text("char pad[%d] = {1};\nvoid _start(void) { for (;;) pad[0]++; }\n" % (pad + 1))
    elf = tmp_path / "a.elf"
    subprocess.run(
        [
            CC,
            "-march=rv32imc_zicsr",
            "-mabi=ilp32",
            "-nostdlib",
            "-Wl,-Ttext=0x42000020",
            "-Wl,-Tdata=0x3fc80000",
            "-o",
            str(elf),
            str(src),
        ],
        check=True,
    )
    out = tmp_path / ("%s.bin" % chip)
    subprocess.run(
        [ESPTOOL, "--chip", chip, "elf2image", "-o", str(out), str(elf)],
        check=True,
        capture_output=True,
    )
    return out


def fake_build(tmp_path, pad=0):
    build = tmp_path / "build"
    (build / "bootloader").mkdir(parents=True)
    img = esp_image(tmp_path, pad=pad)
    shutil.copy(img, build / "micropython.bin")
    shutil.copy(img, build / "bootloader" / "bootloader.bin")
    return build


def test_dist_writes_images_and_manifest(tmp_path):
    build = fake_build(tmp_path)
    out = tmp_path / "dist"
    m = dist.assemble("WIFIMGR_ESP32C3", build, out, version="9.9.9", esptool=ESPTOOL)
    assert (m["board"], m["chip"], m["flash_size"], m["version"]) == (
        "WIFIMGR_ESP32C3",
        "esp32c3",
        "4MB",
        "9.9.9",
    )
    assert json.loads((out / "manifest.json").read_text()) == m
    for f in m["files"]:
        data = (out / f["name"]).read_bytes()
        assert f["length"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest()
    roles = {f["role"]: f for f in m["files"]}
    assert roles["merged"]["offset"] == 0 and roles["app"]["offset"] == 0x10000
    merged = (out / "firmware.bin").read_bytes()
    app = (out / "micropython.bin").read_bytes()
    pt = (out / "partition-table.bin").read_bytes()
    assert merged[0x8000 : 0x8000 + len(pt)] == pt
    assert merged[0x10000 : 0x10000 + len(app)] == app
    assert parttable.decode(pt)[-1].name == "vfs"


def test_dist_refuses_an_image_for_another_chip(tmp_path):
    build = fake_build(tmp_path)
    with pytest.raises(dist.DistError, match="chip id 0x5"):
        dist.assemble("WIFIMGR_ESP32S3", build, tmp_path / "d", esptool=ESPTOOL)


def test_dist_refuses_an_app_without_ten_percent_headroom(tmp_path):
    slot = boards.layout(boards.find("WIFIMGR_ESP32C3"))[1]["app_slot_size"]
    build = fake_build(tmp_path, pad=int(slot * 0.95))
    with pytest.raises(dist.DistError, match="less than 10% free"):
        dist.assemble("WIFIMGR_ESP32C3", build, tmp_path / "d", esptool=ESPTOOL)


def test_dist_names_what_is_missing(tmp_path):
    with pytest.raises(dist.DistError, match="micropython.bin missing"):
        dist.assemble("WIFIMGR_ESP32C3", tmp_path, tmp_path / "d")


def make(*args, env=None):
    e = {k: v for k, v in os.environ.items() if k not in ("IDF_PATH", "MAKEFLAGS", "MFLAGS")}
    e.update(env or {})
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        env=e,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("name", [b["name"] for b in boards.builds()])
def test_make_n_firmware_shows_the_full_command_line(name, tmp_path):
    out = make("-n", "firmware", "BOARD=" + name, "MICROPY_DIR=" + str(tmp_path))
    assert out.returncode == 0, out.stderr
    board, _, variant = name.partition("-")
    assert "idf.py -D MICROPY_BOARD=%s " % board in out.stdout
    assert "MICROPY_BOARD_DIR=%s/boards/%s" % (ROOT, board) in out.stdout
    assert ("MICROPY_BOARD_VARIANT=" + variant in out.stdout) == bool(variant)
    assert "USER_C_MODULES=%s/usermod_wifimgr/micropython.cmake" % ROOT in out.stdout
    assert "firmware/dist.py %s " % name in out.stdout


def test_make_firmware_without_esp_idf_fails_fast_and_says_how(tmp_path):
    (tmp_path / "ports" / "esp32").mkdir(parents=True)
    (tmp_path / "ports" / "esp32" / "CMakeLists.txt").write_text("")
    out = make("firmware", "BOARD=WIFIMGR_ESP32", "MICROPY_DIR=" + str(tmp_path))
    assert out.returncode != 0
    assert "IDF_PATH is not set" in out.stderr and "DOCKER=1" in out.stderr
    assert "idf.py" not in out.stdout


def test_make_firmware_names_the_builds_for_a_wrong_board(tmp_path):
    out = make("firmware", "BOARD=NOPE", "MICROPY_DIR=" + str(tmp_path))
    assert out.returncode != 0 and "WIFIMGR_ESP32C3" in out.stderr
