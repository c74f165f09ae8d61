# What the firmware freezes: the wifimgr package and what it needs from micropython-lib.


def _package_version():
    with open("wifimgr/__init__.py") as f:
        for line in f:
            if line.startswith("__version__ = "):
                return line.split('"')[1]
    raise ValueError("wifimgr/__init__.py has no __version__")


def _portal_page():
    # The portal page, gzipped into wifimgr/portal/_page.py before the package is frozen.
    # The manifest runs with its own directory as the working directory.
    import os
    import sys

    sys.path.insert(0, os.path.join(os.getcwd(), "..", "tools", "portal"))
    import mkpage

    mkpage.build()


def _package_files(package, exclude):
    # The package's .py files, relative to it, as package(files=...) takes them.
    import os

    out = []
    for top, _dirs, names in os.walk(package):
        for name in names:
            path = os.path.relpath(os.path.join(top, name), package)
            if name.endswith(".py") and path not in exclude:
                out.append(path)
    return sorted(out)


_portal_page()
metadata(version=_package_version(), description="WiFi manager for MicroPython on ESP32.")
require("logging")
# Every module of the package but the host's: the simulated radio and the flash stand-in for
# esp32.Partition, which only the unix build freezes (manifest_unix.py). The same modules as
# package.json lists for mip (tools/mip/build.py: HOST_ONLY).
package(  # noqa: F821
    "wifimgr", files=_package_files("wifimgr", exclude=("sim.py", "partition.py")), opt=3
)
