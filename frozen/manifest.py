# What the firmware freezes: the wifimgr package and what it needs from micropython-lib.


def _package_version():
    with open("wifimgr/__init__.py") as f:
        for line in f:
            if line.startswith("__version__ = "):
                return line.split('"')[1]
    raise ValueError("wifimgr/__init__.py has no __version__")


metadata(version=_package_version(), description="WiFi manager for MicroPython on ESP32.")
require("logging")
package("wifimgr", opt=3)
