"""Fixtures shared by every tier: running code on MicroPython, paths, tier reporting."""

import os
import subprocess

import pytest
from helpers.micropython import MICROPYTHON, ROOT, MicroPython, has_native_module


@pytest.fixture
def micropython(tmp_path):
    if not os.access(MICROPYTHON, os.X_OK):
        pytest.skip("no MicroPython at %s: run `make test`, which installs it" % MICROPYTHON)
    return MicroPython(MICROPYTHON, tmp_path)


def pytest_report_header(config):
    lines = []
    if os.access(MICROPYTHON, os.X_OK):
        backend = "native (_wifimgr built in)" if has_native_module(MICROPYTHON) else "fallback"
        lines.append("host tier: MicroPython %s, %s backend" % (MICROPYTHON, backend))
    else:
        lines.append("host tier: no MicroPython at %s" % MICROPYTHON)
    if not os.environ.get("MICROPY_DIR"):
        lines.append("native tier: skipped: MICROPY_DIR not set (no MicroPython source tree)")
    if not os.environ.get("IDF_PATH"):
        lines.append("esp32 compile check: skipped: IDF_PATH not set (no ESP-IDF)")
    return lines


@pytest.fixture(scope="session")
def core_lib():
    """usermod_wifimgr/core as a host shared library (make host-core), loaded with ctypes."""
    import ctypes

    subprocess.run(["make", "-s", "host-core"], cwd=ROOT, check=True)
    return ctypes.CDLL(str(ROOT / "build" / "host" / "libwmcore.so"))
