"""tests/board: pytest-embedded on a real board. Options and the skip when no board is given.

Install: .venv/bin/pip install pytest-embedded pytest-embedded-serial-esp
Run:     .venv/bin/python -m pytest tests/board --embedded-services esp,serial \
             --port /dev/ttyUSB0 --wifi-ssid NAME --wifi-password SECRET [--ota-url http://host:8000/manifest.json]
"""

import importlib.util

import pytest

HAVE_EMBEDDED = importlib.util.find_spec("pytest_embedded") is not None


def pytest_addoption(parser):
    group = parser.getgroup("wifimgr board")
    group.addoption("--wifi-ssid", default=None, help="test network the board joins")
    group.addoption("--wifi-password", default="", help="its password")
    group.addoption("--ota-url", default=None, help="manifest.json of the same version, served")
    if not HAVE_EMBEDDED:
        # Without pytest-embedded, --port would be unknown: accept it so the skip is clean.
        group.addoption("--port", default=None, help="serial port (pytest-embedded)")


def pytest_collection_modifyitems(config, items):
    reason = None
    if not HAVE_EMBEDDED:
        reason = "pytest-embedded not installed (see tests/board/conftest.py to install it)"
    elif not config.getoption("port", None):
        reason = "no board: give --embedded-services esp,serial --port /dev/ttyUSB0"
    if reason:
        for item in items:
            if "tests/board" in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason=reason))
