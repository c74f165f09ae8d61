# What `make unix` freezes: asyncio (the unix port's own manifest has it, and replacing that
# manifest drops it), then the package, as boards/manifest.py does for the esp32 port, and what
# no board carries: the simulated radio and the host's flash stand-in for esp32.Partition.
include("$(MPY_DIR)/extmod/asyncio")  # noqa: F821
include("manifest.py")  # noqa: F821
module("wifimgr/sim.py", opt=3)  # noqa: F821
module("wifimgr/partition.py", opt=3)  # noqa: F821
