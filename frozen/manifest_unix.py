# What `make unix` freezes: the unix port's standard modules (asyncio among them, which the
# package needs) and the wifimgr package as the boards have it.
include("$(PORT_DIR)/variants/standard/manifest.py")  # noqa: F821
include("manifest.py")  # noqa: F821
