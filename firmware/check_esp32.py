#!/usr/bin/env python3
"""Compile usermod_wifimgr/ for the esp32 port the way its build does, per chip.

    check_esp32.py --idf IDF_PATH --micropython MICROPY_DIR [--build DIR] [CHIP ...]

For each chip (default: the chip of every board in boards/):
- sdkconfig.h, made by ESP-IDF's kconfgen from the components' Kconfig files and the sdkconfig
  fragments of the chip's board, outside the repository;
- the module as the port's CMake sees it: a probe project includes MicroPython's
  py/usermod.cmake with USER_C_MODULES=usermod_wifimgr/micropython.cmake and reports the
  INTERFACE sources, include directories and definitions (so the check compiles what the
  build compiles, with what the build gives, and the generated headers the build file writes);
- the port's qstr pass over those sources (py/makeqstrdefs.py pp, with only the main
  component's definitions, as py/mkrules.cmake passes them), then genhdr/ (qstrdefs,
  root pointers, compressed messages, module table) made by MicroPython's own scripts;
- `<cc> -fsyntax-only` of every source twice, as the port compiles it twice
  (esp32_common.cmake: target_link_libraries(${MICROPY_TARGET} usermod) puts the INTERFACE
  sources into the main component and into the executable): "main" with ESP-IDF's
  per-directory definitions (ESP_PLATFORM, IDF_VER, _GNU_SOURCE), "exe" without them.
Compilers: the ESP-IDF toolchains (xtensa-esp32-elf-gcc, xtensa-esp32s3-elf-gcc,
riscv32-esp-elf-gcc) when on PATH; for the RISC-V chips Debian's riscv64-unknown-elf-gcc with
-march/-mabi for the chip otherwise. A chip whose compiler is missing is reported as not
checked; the exit status is 1 if any step failed and 2 if no chip could be checked at all.
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
esp_driver_spi/include
""".split()


def sdkconfig_defaults(micropython, chip):
    """The sdkconfig fragments of the first board for `chip`, in its own order."""
    build = board_of(chip)
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


# The probe: MicroPython's py/usermod.cmake with our micropython.cmake, as the esp32 port
# includes it (esp32_common.cmake), reporting what the port takes from the module.
PROBE = """cmake_minimum_required(VERSION 3.16)
project(wifimgr_probe NONE)
set(MICROPY_DIR "{micropython}")
set(USER_C_MODULES "{module}")
include(${{MICROPY_DIR}}/py/usermod.cmake)
function(probe_defs lib)
    if(TARGET ${{lib}})
        get_target_property(defs ${{lib}} INTERFACE_COMPILE_DEFINITIONS)
        if(defs)
            set_property(GLOBAL APPEND PROPERTY PROBE_DEFS ${{defs}})
        endif()
        get_target_property(deps ${{lib}} INTERFACE_LINK_LIBRARIES)
        foreach(dep ${{deps}})
            probe_defs(${{dep}})
        endforeach()
    endif()
endfunction()
probe_defs(usermod)
get_property(defs GLOBAL PROPERTY PROBE_DEFS)
foreach(var MICROPY_SOURCE_USERMOD MICROPY_INC_USERMOD defs)
    string(JOIN "\\n" text ${{${{var}}}})
    file(WRITE ${{CMAKE_BINARY_DIR}}/${{var}}.txt "${{text}}")
endforeach()
"""

# What the port gives every compile of the module and its qstr pass: the main component's
# PUBLIC definitions (esp32_common.cmake: target_compile_definitions(${MICROPY_TARGET} PUBLIC
# ...); py/mkrules.cmake: ROM text compression, frozen modules), which reach the executable's
# compile through target_link_libraries. The boards here add no MICROPY_DEF_BOARD.
PORT_DEFS = """
MICROPY_VFS_FAT=1 MICROPY_VFS_LFS2=1 FFCONF_H="{micropython}/lib/oofatfs/ffconf.h"
LFS1_NO_MALLOC LFS1_NO_DEBUG LFS1_NO_WARN LFS1_NO_ERROR LFS1_NO_ASSERT
LFS2_NO_MALLOC LFS2_NO_DEBUG LFS2_NO_WARN LFS2_NO_ERROR LFS2_NO_ASSERT
MICROPY_ROM_TEXT_COMPRESSION=(1) MICROPY_QSTR_EXTRA_POOL=mp_qstr_frozen_const_pool
MICROPY_MODULE_FROZEN_MPY=(1)
""".split()
# What only ESP-IDF's component directories add (tools/cmake/component.cmake:
# add_compile_definitions of the build's COMPILE_DEFINITIONS; tools/cmake/build.cmake): the
# main component's compile has them, the qstr pass (which reads the target's own
# COMPILE_DEFINITIONS) and the executable's compile do not.
IDF_DIR_DEFS = [
    "ESP_PLATFORM",
    'IDF_VER="%s"' % IDF_VERSION,
    "_GLIBCXX_USE_POSIX_SEMAPHORE",
    "_GLIBCXX_HAVE_POSIX_SEMAPHORE",
    "_GNU_SOURCE",
]


class CheckError(RuntimeError):
    pass


def run(cmd, what, **kw):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise CheckError("%s failed:\n%s%s" % (what, proc.stdout[-3000:], proc.stderr[-3000:]))
    return proc.stdout


def probe_module(micropython, work):
    """(sources, include dirs, definitions) the port's CMake takes from usermod_wifimgr."""
    src = work / "probe"
    src.mkdir(parents=True, exist_ok=True)
    (src / "CMakeLists.txt").write_text(
        PROBE.format(micropython=micropython, module=USERMOD / "micropython.cmake")
    )
    run(["cmake", "-S", src, "-B", work / "probe-build"], "cmake probe of micropython.cmake")

    def lines(name):
        text = (work / "probe-build" / (name + ".txt")).read_text()
        return [x for x in text.split("\n") if x]

    return lines("MICROPY_SOURCE_USERMOD"), lines("MICROPY_INC_USERMOD"), lines("defs")


def board_of(chip):
    return next(b for b in boards.builds() if b["chip"] == chip)


def genhdr(cc, flags, micropython, sources, out):
    """genhdr/ under `out` from the qstr pass over `sources`, as py/mkrules.cmake makes it."""
    py = Path(micropython) / "py"
    gen = out / "genhdr"
    gen.mkdir(parents=True, exist_ok=True)
    last = gen / "qstr.i.last"
    pp = [sys.executable, py / "makeqstrdefs.py", "pp", cc[0], "-E", "output", last]
    pp += ["cflags"] + cc[1:] + flags + ["-DNO_QSTR", "cxxflags", "-DNO_QSTR", "sources"]
    run(pp + list(sources), "the qstr pass (makeqstrdefs.py pp)")
    for mode in ("qstr", "compress", "module", "root_pointer"):
        d = gen / mode
        shutil.rmtree(d, ignore_errors=True)
        run([sys.executable, py / "makeqstrdefs.py", "split", mode, last, d, "_"], "split")
        run(
            [sys.executable, py / "makeqstrdefs.py", "cat", mode, "_", d, gen / (mode + ".coll")],
            "cat " + mode,
        )
    port = Path(micropython) / "ports" / "esp32"
    text = "".join(
        p.read_text() for p in (py / "qstrdefs.h", port / "qstrdefsport.h", gen / "qstr.coll")
    )
    quoted = re.sub(r"^(Q\(.*\))$", r'"\1"', text, flags=re.M)
    pre = run(cc + ["-E"] + flags + ["-"], "preprocessing the qstr definitions", input=quoted)
    (gen / "qstrdefs.preprocessed.h").write_text(re.sub(r'^"(Q\(.*\))"$', r"\1", pre, flags=re.M))
    for script, arg, name in (
        ("makeqstrdata.py", "qstrdefs.preprocessed.h", "qstrdefs.generated.h"),
        ("make_root_pointers.py", "root_pointer.coll", "root_pointers.h"),
        ("makecompresseddata.py", "compress.coll", "compressed.data.h"),
        ("makemoduledefs.py", "module.coll", "moduledefs.h"),
    ):
        (gen / name).write_text(run([sys.executable, py / script, gen / arg], script))


def check_chip(idf, micropython, chip, build):
    cc = compiler(chip)
    if cc is None:
        return None, "no compiler (%s)" % ESP_CC[chip]
    if shutil.which("cmake") is None:
        return None, "no cmake (for the probe of micropython.cmake)"
    work = gen_sdkconfig(idf, micropython, chip, build / chip)
    srcs, mod_incs, mod_defs = probe_module(micropython, work)
    board = board_of(chip)
    port = Path(micropython) / "ports" / "esp32"
    incs = [micropython, port, boards.BOARDS / board["board"], work, *mod_incs]
    incs += [
        idf / "components" / inc.format(t=chip, a=ARCH[chip])
        for inc in INCLUDES
        if (idf / "components" / inc.format(t=chip, a=ARCH[chip])).is_dir()
    ]
    common = ["-std=gnu17", "-U__linux__"] if ARCH[chip] == "riscv" else ["-std=gnu17"]
    if cc[0] == "riscv64-unknown-elf-gcc":
        # Debian's newlib 3.3 declares _global_impure_ptr const, Espressif's newlib does not:
        # read Debian's sys/reent.h first under another name for that one pointer.
        shim = work / "newlib_shim.h"
        shim.write_text(
            "#define _global_impure_ptr _debian_newlib_global_impure_ptr\n"
            '#include "%s/sys/reent.h"\n#undef _global_impure_ptr\n' % NEWLIB
        )
        # Espressif's newlib defines _POSIX_THREADS (ESP-IDF has pthreads), Debian's does not.
        common += ["-include", str(shim), "-D_POSIX_THREADS"]
    common += ["-I%s" % d for d in incs]
    port_defs = ["-D" + d.format(micropython=micropython) for d in PORT_DEFS]
    # The qstr pass: the main component's own definitions (PRIVATE ones too), no INTERFACE ones.
    qstr_flags = common + port_defs + ['-DMICROPY_BOARD_BUILD_NAME="%s"' % board["name"]]
    if not (idf / "components" / "lwip" / "lwip" / "src").is_dir():
        print(
            "check-esp32: %s: note: ESP-IDF's lwip submodule is not checked out: "
            "files that include lwip headers will fail" % chip
        )
    failed = []
    try:
        genhdr(cc, qstr_flags, micropython, srcs, work)
    except CheckError as e:
        return [("qstr pass", str(e))], "%s, qstr pass" % cc[0]
    warn = ["-Os", "-Wall", "-Wextra", "-Werror", "-Wno-unused-parameter"]
    warn += ["-Wno-missing-field-initializers", "-Wno-deprecated-declarations"]
    mod = ["-D" + d for d in mod_defs]
    compiles = {
        "main": qstr_flags + ["-D" + d for d in IDF_DIR_DEFS] + mod,
        "exe": common + port_defs + mod,
    }
    needs = {}
    for name, flags in compiles.items():
        objs = []
        for src in srcs:
            rel = Path(src).relative_to(USERMOD)
            obj = work / name / (str(rel.with_suffix(".o")).replace("/", "_"))
            obj.parent.mkdir(exist_ok=True)
            proc = subprocess.run(
                cc + warn + flags + ["-c", src, "-o", obj], capture_output=True, text=True
            )
            if proc.returncode != 0:
                failed.append(("%s (%s compile)" % (rel, name), proc.stderr))
            objs.append(obj)
        if len(objs) == len(srcs) and not failed:
            needs[name] = undefined(cc[0], objs)
    for name, syms in needs.items():
        own = sorted(s for s in syms if s.startswith(("wm_", "wifimgr_")))
        if own:
            failed.append(
                (
                    "link (%s compile)" % name,
                    "needs %s, which no source of the module defines" % own,
                )
            )
    if len(needs) == 2 and needs["main"] != needs["exe"]:
        # The executable's objects win over libmain.a: both copies must be the same program.
        failed.append(
            (
                "main and exe compiles differ",
                "only main needs %s; only exe needs %s"
                % (sorted(needs["main"] - needs["exe"]), sorted(needs["exe"] - needs["main"])),
            )
        )
    return failed, "%s (qstr pass, %d files x main and exe compile)" % (cc[0], len(srcs))


def undefined(cc, objs):
    """The symbols the objects need and do not define between them (nm of the toolchain)."""
    nm = cc[: -len("gcc")] + "nm"
    out = run([nm, *objs], nm)
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[-2] == "U":
            used.add(parts[-1])
        elif len(parts) >= 3 and parts[-2] in "TDBRSCtdbrsV":
            defined.add(parts[-1])
    return used - defined


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--idf", default=os.environ.get("IDF_PATH", ""))
    ap.add_argument("--micropython", default=os.environ.get("MICROPY_DIR", ""))
    ap.add_argument("--build", default=str(ROOT / "build" / "check-esp32"))
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
            failed, how = check_chip(Path(args.idf), args.micropython, chip, Path(args.build))
        except RuntimeError as e:
            print("check-esp32: %s: FAILED: %s" % (chip, e))
            bad += 1
            continue
        if failed is None:
            print("check-esp32: %s: not checked: %s" % (chip, how))
            continue
        checked += 1
        for src, err in failed:
            print("check-esp32: %s: %s:\n%s" % (chip, src, err))
        bad += bool(failed)
        print("check-esp32: %s: %s with %s" % (chip, "FAILED" if failed else "ok", how))
    if bad:
        return 1
    return 0 if checked else 2


if __name__ == "__main__":
    sys.exit(main())
