"""make check-esp32: usermod_wifimgr/ built for the esp32 port as its CMake builds it (qstr pass,
main-component and executable compiles), for the chips this machine can."""

import os
import shutil
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


def trees():
    idf, mpy = os.environ.get("IDF_PATH"), os.environ.get("MICROPY_DIR")
    if not idf or not mpy:
        pytest.skip("IDF_PATH and MICROPY_DIR needed for the ESP-IDF compile check")
    if check_esp32.compiler("esp32c3") is None or shutil.which("cmake") is None:
        pytest.skip("no RISC-V compiler (riscv64-unknown-elf-gcc + libnewlib-dev) or cmake")
    return idf, mpy


def test_check_esp32_on_risc_v_chips(tmp_path):
    """kconfgen's sdkconfig.h, the qstr pass and both compiles of every source, C3 and C6."""
    idf, mpy = trees()
    code = check_esp32.main(
        ["--idf", idf, "--micropython", mpy, "--build", str(tmp_path), "esp32c3", "esp32c6"]
    )
    assert code == 0
    header = (tmp_path / "esp32c3" / "sdkconfig.h").read_text()
    assert '#define CONFIG_IDF_TARGET "esp32c3"' in header
    assert "#define CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE 1" in header
    # genhdr/ comes from the qstr pass over the bindings themselves (modwifimgr.c, wifimgr_*.c).
    genhdr = tmp_path / "esp32c6" / "genhdr"
    assert "DNSServer" in (genhdr / "qstrdefs.generated.h").read_text()
    assert "wifimgr_links" in (genhdr / "root_pointers.h").read_text()


@pytest.fixture
def module_copy(tmp_path, monkeypatch):
    """A copy of usermod_wifimgr/ (and the package version it reads) the check then builds."""
    root = tmp_path / "repo"
    shutil.copytree(check_esp32.USERMOD, root / "usermod_wifimgr")
    (root / "frozen" / "wifimgr").mkdir(parents=True)
    shutil.copy(boards.ROOT / "frozen" / "wifimgr" / "__init__.py", root / "frozen" / "wifimgr")
    monkeypatch.setattr(check_esp32, "USERMOD", root / "usermod_wifimgr")
    return root / "usermod_wifimgr"


def check_c3(tmp_path, capsys):
    idf, mpy = trees()
    code = check_esp32.main(
        ["--idf", idf, "--micropython", mpy, "--build", str(tmp_path / "b"), "esp32c3"]
    )
    return code, capsys.readouterr().out


def test_check_esp32_sees_the_qstr_pass_without_interface_definitions(
    tmp_path, capsys, module_copy
):
    """The first break of issue 12: an INTERFACE definition does not reach makeqstrdefs.py pp."""
    cmake = module_copy / "micropython.cmake"
    cmake.write_text(
        cmake.read_text() + "target_compile_definitions(usermod_wifimgr INTERFACE WM_ONLY_DEF=1)\n"
    )
    mod = module_copy / "modwifimgr.c"
    mod.write_text('#ifndef WM_ONLY_DEF\n#error "no WM_ONLY_DEF"\n#endif\n' + mod.read_text())
    code, out = check_c3(tmp_path, capsys)
    assert code == 1
    assert "qstr pass" in out and '#error "no WM_ONLY_DEF"' in out


def test_check_esp32_sees_the_executable_compile_without_esp_platform(
    tmp_path, capsys, module_copy
):
    """The second break of issue 12: the radio chosen by ESP_PLATFORM is the simulator in the
    executable's copy, whose objects would then need wm_radio_sim_*."""
    radio = module_copy / "port" / "radio.h"
    text = radio.read_text().replace("#if defined(WIFIMGR_RADIO_ESP32)\n", "#ifdef ESP_PLATFORM\n")
    assert "#ifdef ESP_PLATFORM" in text
    radio.write_text(text)
    code, out = check_c3(tmp_path, capsys)
    assert code == 1
    assert "link (exe compile)" in out and "wm_radio_sim_ops" in out
    assert "main and exe compiles differ" in out
