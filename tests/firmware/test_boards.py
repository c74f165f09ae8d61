"""boards/: each board's four files agree on chip, flash size and partition table, turn on app
rollback, name the board, freeze the wifimgr manifest and compile usermod_wifimgr."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import parttable
import pytest

import boards

BOARD_DIRS = sorted(p for p in boards.BOARDS.iterdir() if p.is_dir())
BUILDS = boards.builds()
# What MICROPY_HW_MCU_NAME says for each IDF_TARGET.
MCU_NAME = {"esp32": "ESP32", "esp32s3": "ESP32S3", "esp32c3": "ESP32C3", "esp32c6": "ESP32C6"}


def cmake_set(text, var):
    m = re.search(r"^set\(%s\s+(\S+)\)" % var, text, re.M)
    return m and m.group(1)


def sdkconfig(*paths):
    """The CONFIG_ values the files set, later files overriding earlier ones."""
    values = {}
    for path in paths:
        for line in path.read_text().splitlines():
            if line.startswith("CONFIG_"):
                key, value = line.split("=", 1)
                values[key] = value
    return values


def build_files(build):
    d = boards.BOARDS / build["board"]
    cmake = (d / "mpconfigboard.cmake").read_text()
    files = [d / "sdkconfig.board"]
    if build["variant"]:
        variant = (d / ("mpconfigvariant_%s.cmake" % build["variant"])).read_text()
        cmake += "\n" + variant
        files += [d / f for f in re.findall(r"\$\{MICROPY_BOARD_DIR\}/(sdkconfig\.\w+)", variant)]
    return d, cmake, files


def test_the_issue_s_boards_exist():
    got = {(b["chip"], b["flash_size"]) for b in BUILDS}
    assert got >= {("esp32", "4MB"), ("esp32s3", "8MB"), ("esp32s3", "16MB"), ("esp32c3", "4MB")}
    assert ("esp32c6", "4MB") in got


@pytest.mark.parametrize("d", BOARD_DIRS, ids=lambda d: d.name)
def test_board_has_the_four_files(d):
    for name in ("board.json", "mpconfigboard.cmake", "mpconfigboard.h", "sdkconfig.board"):
        assert (d / name).is_file(), "%s/%s missing" % (d.name, name)
    data = json.loads((d / "board.json").read_text())
    for key in ("mcu", "product", "vendor", "features", "wifimgr"):
        assert key in data, "%s/board.json lacks %r" % (d.name, key)
    for variant in data.get("variants", {}):
        assert (d / ("mpconfigvariant_%s.cmake" % variant)).is_file()
        assert variant in data["wifimgr"].get("variants", {}), variant


@pytest.mark.parametrize("build", BUILDS, ids=lambda b: b["name"])
def test_chip_agrees_across_files(build):
    d, cmake, _ = build_files(build)
    assert cmake_set(cmake, "IDF_TARGET") == build["chip"]
    header = (d / "mpconfigboard.h").read_text()
    assert '#define MICROPY_HW_MCU_NAME                 "%s"' % MCU_NAME[build["chip"]] in header


@pytest.mark.parametrize("build", BUILDS, ids=lambda b: b["name"])
def test_flash_size_and_table_agree(build):
    _, cmake, files = build_files(build)
    config = sdkconfig(*files)
    on = [k for k, v in config.items() if k.startswith("CONFIG_ESPTOOLPY_FLASHSIZE_") and v == "y"]
    assert on == ["CONFIG_ESPTOOLPY_FLASHSIZE_%s" % build["flash_size"]], on
    # The last wifimgr_partition_table() call wins (a variant's comes after the board's).
    named = re.findall(r"^wifimgr_partition_table\((\S+)\)", cmake, re.M)
    assert named and named[-1] == build["partitions"]
    assert (boards.PARTITIONS / build["partitions"]).is_file(), build["partitions"]
    table, info = boards.layout(build)
    assert info["flash_size"] == parttable.parse_flash_size(build["flash_size"])


@pytest.mark.parametrize("d", BOARD_DIRS, ids=lambda d: d.name)
def test_app_rollback_is_on(d):
    assert sdkconfig(d / "sdkconfig.board").get("CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE") == "y"


@pytest.mark.parametrize("build", BUILDS, ids=lambda b: b["name"])
def test_board_name_for_sys_implementation_machine(build):
    """sys.implementation._machine is MICROPY_HW_BOARD_NAME + " with " + MICROPY_HW_MCU_NAME."""
    d, cmake, _ = build_files(build)
    names = re.findall(r'MICROPY_HW_BOARD_NAME="([^"]+)"', cmake)
    if not names:
        names = re.findall(
            r'#define MICROPY_HW_BOARD_NAME\s+"([^"]+)"', (d / "mpconfigboard.h").read_text()
        )
    name = names[-1]
    assert name.startswith("wifimgr ") and name.endswith(build["flash_size"]), name


def test_board_names_are_unique():
    names = []
    for b in BUILDS:
        d, cmake, _ = build_files(b)
        found = re.findall(r'MICROPY_HW_BOARD_NAME="([^"]+)"', cmake) or re.findall(
            r'#define MICROPY_HW_BOARD_NAME\s+"([^"]+)"', (d / "mpconfigboard.h").read_text()
        )
        names.append(found[-1])
    assert len(set(names)) == len(names), names


@pytest.mark.parametrize("d", BOARD_DIRS, ids=lambda d: d.name)
def test_board_uses_the_shared_wifimgr_cmake(d):
    cmake = (d / "mpconfigboard.cmake").read_text()
    assert "include(${MICROPY_BOARD_DIR}/../wifimgr.cmake)" in cmake
    assert "${MICROPY_BOARD_DIR}/sdkconfig.board" in cmake
    assert cmake.index("wifimgr.cmake") < cmake.index("wifimgr_partition_table(")


def test_shared_cmake_freezes_the_manifest_and_compiles_the_module():
    common = (boards.BOARDS / "wifimgr.cmake").read_text()
    assert "set(MICROPY_FROZEN_MANIFEST ${WIFIMGR_ROOT}/boards/manifest.py)" in common
    assert "${WIFIMGR_ROOT}/usermod_wifimgr/micropython.cmake" in common
    assert (boards.ROOT / "usermod_wifimgr" / "micropython.cmake").is_file()
    manifest = (boards.BOARDS / "manifest.py").read_text()
    assert 'include("../frozen/manifest.py")' in manifest
    assert (boards.ROOT / "frozen" / "manifest.py").is_file()


def test_frozen_manifest_resolves_with_micropython_tools():
    """With MICROPY_DIR, MicroPython's own manifest reader lists what the esp32 build freezes."""
    mpy = os.environ.get("MICROPY_DIR")
    if not mpy:
        pytest.skip("MICROPY_DIR not set: no MicroPython tree to read the manifest with")
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "import manifestfile\n"
        "m = manifestfile.ManifestFile(manifestfile.MODE_FREEZE, {'MPY_DIR': %r, "
        "'MPY_LIB_DIR': %r, 'PORT_DIR': %r, 'BOARD_DIR': %r})\n"
        "m.execute(%r)\n"
        "print('\\n'.join(r.target_path for r in m.files()))\n"
    ) % (
        os.path.join(mpy, "tools"),
        mpy,
        os.path.join(mpy, "lib", "micropython-lib"),
        os.path.join(mpy, "ports", "esp32"),
        str(boards.BOARDS / "WIFIMGR_ESP32"),
        str(boards.BOARDS / "manifest.py"),
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    frozen = out.stdout.split()
    for needed in ("wifimgr/__init__.py", "logging.py", "_boot.py", "asyncio/core.py"):
        assert needed in frozen, needed
    # The simulated radio and the host's flash stand-in are for the unix build only
    # (frozen/manifest_unix.py): a board freezes the modules mip installs (package.json).
    assert "wifimgr/sim.py" not in frozen and "wifimgr/partition.py" not in frozen
    pkg = json.loads((boards.ROOT / "package.json").read_text())
    package = sorted(f for f in frozen if f.startswith("wifimgr/"))
    # Beside the modules, mip installs the page as a file (wifimgr/portal/page.gz, streamed),
    # which a board keeps as frozen bytes in _page.py instead.
    modules = sorted(t for t, _ in pkg["urls"] if t.endswith(".py"))
    assert package == modules
    assert [t for t, _ in pkg["urls"] if not t.endswith(".py")] == ["wifimgr/portal/page.gz"]


@pytest.mark.parametrize("build", BUILDS, ids=lambda b: b["name"])
def test_upstream_sdkconfig_fragments_exist(build):
    mpy = os.environ.get("MICROPY_DIR")
    if not mpy:
        pytest.skip("MICROPY_DIR not set: cannot check the port's sdkconfig fragments")
    _, cmake, _ = build_files(build)
    for frag in re.findall(r"^\s+(boards/sdkconfig\.\w+)$", cmake, re.M):
        assert os.path.isfile(os.path.join(mpy, "ports", "esp32", frag)), frag


# The upstream board each wifimgr board follows, per chip (ports/esp32/boards/).
UPSTREAM = {
    "esp32": "ESP32_GENERIC",
    "esp32s3": "ESP32_GENERIC_S3",
    "esp32c3": "ESP32_GENERIC_C3",
    "esp32c6": "ESP32_GENERIC_C6",
}


@pytest.mark.parametrize("build", [b for b in BUILDS if not b["variant"]], ids=lambda b: b["name"])
def test_board_keeps_the_upstream_board_s_sdkconfig_fragments(build):
    """Every fragment of the generic upstream board but sdkconfig.ble (no Bluetooth here), e.g.
    ESP32_GENERIC_C3's sdkconfig.c3usb (the REPL on USB-Serial-JTAG)."""
    mpy = os.environ.get("MICROPY_DIR")
    if not mpy:
        pytest.skip("MICROPY_DIR needed to read the upstream boards")
    upstream = (
        Path(mpy) / "ports" / "esp32" / "boards" / UPSTREAM[build["chip"]] / "mpconfigboard.cmake"
    )
    frags = re.findall(r"^\s+(boards/\S+)$", upstream.read_text(), re.M)
    ours = (boards.BOARDS / build["board"] / "mpconfigboard.cmake").read_text()
    own = sdkconfig(boards.BOARDS / build["board"] / "sdkconfig.board")
    missing = []
    for frag in frags:
        if frag == "boards/sdkconfig.ble" or frag in ours:
            continue
        # The upstream board's own sdkconfig.board may instead be part of ours.
        values = sdkconfig(upstream.parent.parent.parent / frag)
        if not frag.endswith("/sdkconfig.board") or any(
            own.get(k) != v for k, v in values.items()
        ):
            missing.append(frag)
    assert not missing, "%s drops %s" % (build["board"], missing)
