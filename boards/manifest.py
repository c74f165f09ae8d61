# Frozen into every wifimgr board: the esp32 port's own modules (_boot, inisetup, asyncio,
# mip, ...) and the wifimgr package with what it needs from micropython-lib.
include("$(PORT_DIR)/boards/manifest.py")  # noqa: F821
include("../frozen/manifest.py")  # noqa: F821
