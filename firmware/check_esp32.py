#!/usr/bin/env python3
"""Compile usermod_wifimgr/ against ESP-IDF's headers, per chip: a syntax-and-types check.

    check_esp32.py --idf IDF_PATH --micropython MICROPY_DIR [--build DIR] [CHIP ...]

For each chip (default: the chip of every board in boards/): generate sdkconfig.h outside the
repository with ESP-IDF's kconfgen from the components' Kconfig files and the same sdkconfig
fragments the board uses, then run `<cc> -fsyntax-only` on every C file of core/ and port/
with the include directories of the ESP-IDF components. Compilers: the ESP-IDF toolchains
(xtensa-esp32-elf-gcc, xtensa-esp32s3-elf-gcc, riscv32-esp-elf-gcc) when on PATH; for the RISC-V
chips Debian's riscv64-unknown-elf-gcc with -march/-mabi for the chip otherwise. A chip whose
compiler is missing is reported as not checked; the exit status is 1 if any file failed and 2
if no chip could be checked at all.

modwifimgr.c needs MicroPython's generated headers (genhdr/) of an esp32 build, so it is
checked only with --genhdr pointing at build/firmware/<board>/... of a real build.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import boards

IDF_VERSION = boards.pinned_versions()["ESP_IDF_VERSION"]

ROOT = boards.ROOT
USERMOD = ROOT / "usermod_wifimgr"
ARCH = {"esp32": "xtensa", "esp32s3": "xtensa", "esp32c3": "riscv", "esp32c6": "riscv"}
MARCH = {"esp32c3": "rv32imc_zicsr_zifencei", "esp32c6": "rv32imac_zicsr_zifencei"}
NEWLIB = "/usr/include/newlib"
ESP_CC = {
    "esp32": "xtensa-esp32-elf-gcc",
    "esp32s3": "xtensa-esp32s3-elf-gcc",
    "esp32c3": "riscv32-esp-elf-gcc",
    "esp32c6": "riscv32-esp-elf-gcc",
}
# Include directories of the ESP-IDF components a WiFi driver and a socket task reach, as the
# components' CMakeLists.txt declare them ({t}: chip, {a}: xtensa or riscv).
INCLUDES = """
newlib/platform_include
freertos/config/include freertos/config/include/freertos freertos/config/{a}/include
freertos/FreeRTOS-Kernel/include freertos/FreeRTOS-Kernel/portable/{a}/include
freertos/FreeRTOS-Kernel/portable/{a}/include/freertos freertos/esp_additions/include
esp_hw_support/include esp_hw_support/include/soc esp_hw_support/include/soc/{t}
esp_hw_support/port/{t}/include esp_hw_support/port/{t}/private_include
heap/include log/include soc/include soc/{t}/include soc/{t}/register hal/include
hal/{t}/include hal/platform_port/include esp_rom/include esp_rom/{t}/include
esp_rom/{t}/include/{t} esp_rom/{t} esp_common/include esp_system/include
esp_system/port/include {a}/include {a}/{t}/include esp_timer/include esp_event/include
esp_netif/include esp_wifi/include esp_wifi/include/local wpa_supplicant/esp_supplicant/include
esp_phy/include esp_phy/{t}/include lwip/include lwip/include/apps lwip/include/apps/sntp
lwip/lwip/src/include lwip/port/include lwip/port/freertos/include lwip/port/esp32xx/include
lwip/port/esp32xx/include/arch vfs/include esp_partition/include nvs_flash/include
spi_flash/include esp_pm/include esp_mm/include bootloader_support/include
esp_app_format/include esp_driver_gpio/include esp_security/include app_update/include
esp_bootloader_format/include esp_driver_uart/include esp_ringbuf/include efuse/include
efuse/{t}/include
""".split()


def sdkconfig_defaults(micropython, chip):
    """The sdkconfig fragments of the first board for `chip`, in its own order."""
    build = next(b for b in boards.builds() if b["chip"] == chip)
    cmake = (boards.BOARDS / build["board"] / "mpconfigboard.cmake").read_text()
    out = []
    for frag in re.findall(r"^\s+(\S*sdkconfig\.\w+)$", cmake, re.M):
        if frag.startswith("boards/"):
            out.append(Path(micropython) / "ports" / "esp32" / frag)
        else:
            out.append(boards.BOARDS / build["board"] / frag.split("/")[-1])
    return out


def gen_sdkconfig(idf, micropython, chip, work):
    """sdkconfig.h for `chip`, made by kconfgen as idf.py would, under `work`."""
    work.mkdir(parents=True, exist_ok=True)
    comps = sorted((idf / "components").iterdir())
    kconfigs = work / "kconfigs.in"
    projbuild = work / "kconfigs_projbuild.in"
    kconfigs.write_text(
        "".join('source "%s"\n' % (c / "Kconfig") for c in comps if (c / "Kconfig").is_file())
    )
    projbuild.write_text(
        "".join(
            'source "%s"\n' % (c / "Kconfig.projbuild")
            for c in comps
            if (c / "Kconfig.projbuild").is_file()
        )
    )
    renames = [str(c / "sdkconfig.rename") for c in comps if (c / "sdkconfig.rename").is_file()]
    renames += [
        str(c / ("sdkconfig.rename." + chip))
        for c in comps
        if (c / ("sdkconfig.rename." + chip)).is_file()
    ]
    env = {
        "IDF_PATH": str(idf),
        "IDF_TARGET": chip,
        "IDF_TOOLCHAIN": "gcc",
        "IDF_ENV_FPGA": "",
        "IDF_ENV_BRINGUP": "",
        "IDF_CI_BUILD": "",
        "IDF_INIT_VERSION": IDF_VERSION.lstrip("v"),
        "IDF_MINIMAL_BUILD": "n",
        "COMPONENT_KCONFIGS_SOURCE_FILE": str(kconfigs),
        "COMPONENT_KCONFIGS_PROJBUILD_SOURCE_FILE": str(projbuild),
        "COMPONENT_SDKCONFIG_RENAMES": " ".join(renames),
    }
    (work / "config.env").write_text(json.dumps(env))
    cmd = [
        sys.executable,
        "-m",
        "kconfgen",
        "--kconfig",
        str(idf / "Kconfig"),
        "--env-file",
        str(work / "config.env"),
        "--config",
        str(work / "sdkconfig"),
        "--output",
        "header",
        str(work / "sdkconfig.h"),
        "--output",
        "config",
        str(work / "sdkconfig"),
    ]
    for frag in sdkconfig_defaults(micropython, chip):
        cmd += ["--defaults", str(frag)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env})
    if proc.returncode != 0:
        raise RuntimeError("kconfgen failed for %s:\n%s" % (chip, proc.stderr[-2000:]))
    return work


def compiler(chip):
    if shutil.which(ESP_CC[chip]):
        return [ESP_CC[chip]]
    if ARCH[chip] == "riscv" and shutil.which("riscv64-unknown-elf-gcc") and os.path.isdir(NEWLIB):
        # ESP-IDF is built on newlib: Debian's libnewlib-dev has its headers.
        return [
            "riscv64-unknown-elf-gcc",
            "-isystem",
            NEWLIB,
            "-march=" + MARCH[chip],
            "-mabi=ilp32",
        ]
    return None


def sources(genhdr):
    files = sorted((USERMOD / "core").glob("*.c")) + sorted((USERMOD / "port").glob("*.c"))
    if genhdr:
        files += sorted(USERMOD.glob("*.c"))
    # radio_sim.c and radio_sim_mp.c are the unix port's radio; the esp32 port does not build
    # them.
    return [f for f in files if f.name not in ("radio_sim.c", "radio_sim_mp.c")]


def check_chip(idf, micropython, chip, build, genhdr):
    cc = compiler(chip)
    if cc is None:
        return None, "no compiler (%s)" % ESP_CC[chip]
    work = gen_sdkconfig(idf, micropython, chip, build / chip)
    flags = [
        "-std=gnu17",
        "-fsyntax-only",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-Wno-unused-parameter",
        "-D__XTENSA__" if ARCH[chip] == "xtensa" else "-U__linux__",
        "-DESP_PLATFORM",
        '-DIDF_VER="%s"' % IDF_VERSION,
        "-D_GNU_SOURCE",
        '-DWIFIMGR_VERSION="check"',
        "-DMICROPY_ESP_IDF_4=1",
        "-I",
        str(work),
        "-I",
        str(USERMOD),
        "-I",
        str(USERMOD / "core"),
    ]
    for inc in INCLUDES:
        d = idf / "components" / inc.format(t=chip, a=ARCH[chip])
        if d.is_dir():
            flags += ["-I", str(d)]
    if genhdr:
        port = Path(micropython) / "ports" / "esp32"
        flags += ["-I", str(micropython), "-I", str(port), "-I", str(genhdr)]
    if cc[0] == "riscv64-unknown-elf-gcc":
        # Debian's newlib 3.3 declares _global_impure_ptr const, Espressif's newlib does not:
        # read Debian's sys/reent.h first under another name for that one pointer.
        shim = work / "newlib_shim.h"
        shim.write_text(
            "#define _global_impure_ptr _debian_newlib_global_impure_ptr\n"
            '#include "%s/sys/reent.h"\n#undef _global_impure_ptr\n' % NEWLIB
        )
        # Espressif's newlib defines _POSIX_THREADS (ESP-IDF has pthreads), Debian's does not.
        flags += ["-include", str(shim), "-D_POSIX_THREADS"]
    if not (idf / "components" / "lwip" / "lwip" / "src").is_dir():
        print(
            "check-esp32: %s: note: ESP-IDF's lwip submodule is not checked out: "
            "files that include lwip headers will fail" % chip
        )
    failed = []
    for src in sources(genhdr):
        proc = subprocess.run(cc + flags + [str(src)], capture_output=True, text=True)
        if proc.returncode != 0:
            failed.append((src, proc.stderr))
    return failed, "%s (%d files)" % (" ".join(cc[:1]), len(sources(genhdr)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--idf", default=os.environ.get("IDF_PATH", ""))
    ap.add_argument("--micropython", default=os.environ.get("MICROPY_DIR", ""))
    ap.add_argument("--build", default=str(ROOT / "build" / "check-esp32"))
    ap.add_argument("--genhdr", help="genhdr/.. of an esp32 build, to check modwifimgr.c too")
    ap.add_argument("chips", nargs="*")
    args = ap.parse_args(argv)
    if not args.idf or not (Path(args.idf) / "components" / "esp_wifi").is_dir():
        print("check-esp32: set IDF_PATH to an ESP-IDF tree (now %r)" % args.idf, file=sys.stderr)
        return 2
    if not args.micropython or not (Path(args.micropython) / "ports" / "esp32").is_dir():
        print(
            "check-esp32: set MICROPY_DIR to a MicroPython tree (now %r)" % args.micropython,
            file=sys.stderr,
        )
        return 2
    chips = args.chips or sorted({b["chip"] for b in boards.builds()})
    checked, bad = 0, 0
    for chip in chips:
        if chip not in ARCH:
            print("check-esp32: unknown chip %r" % chip, file=sys.stderr)
            return 2
        try:
            failed, how = check_chip(
                Path(args.idf), args.micropython, chip, Path(args.build), args.genhdr
            )
        except RuntimeError as e:
            print("check-esp32: %s: FAILED: %s" % (chip, e))
            bad += 1
            continue
        if failed is None:
            print("check-esp32: %s: not checked: %s" % (chip, how))
            continue
        checked += 1
        for src, err in failed:
            print("check-esp32: %s: %s:\n%s" % (chip, src.relative_to(ROOT), err))
        bad += bool(failed)
        print("check-esp32: %s: %s with %s" % (chip, "FAILED" if failed else "ok", how))
    if bad:
        return 1
    return 0 if checked else 2


if __name__ == "__main__":
    sys.exit(main())
