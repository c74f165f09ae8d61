"""make check-esp32: usermod_wifimgr/ against ESP-IDF headers, for the chips this machine can."""

import os
import subprocess
import sys

import check_esp32
import pytest

import boards


def test_check_esp32_without_idf_says_what_is_missing():
    proc = subprocess.run(
        [sys.executable, str(boards.ROOT / "firmware" / "check_esp32.py"), "--idf", ""],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "set IDF_PATH" in proc.stderr


def test_check_esp32_on_risc_v_chips(tmp_path):
    """Generates sdkconfig.h with kconfgen and compiles every C file for esp32c3 and esp32c6."""
    idf, mpy = os.environ.get("IDF_PATH"), os.environ.get("MICROPY_DIR")
    if not idf or not mpy:
        pytest.skip("IDF_PATH and MICROPY_DIR needed for the ESP-IDF compile check")
    if check_esp32.compiler("esp32c3") is None:
        pytest.skip("no RISC-V compiler (riscv64-unknown-elf-gcc + libnewlib-dev)")
    code = check_esp32.main(
        ["--idf", idf, "--micropython", mpy, "--build", str(tmp_path), "esp32c3", "esp32c6"]
    )
    assert code == 0
    header = (tmp_path / "esp32c3" / "sdkconfig.h").read_text()
    assert '#define CONFIG_IDF_TARGET "esp32c3"' in header
    assert "#define CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE 1" in header
