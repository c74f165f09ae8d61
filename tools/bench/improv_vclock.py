# Run by MicroPython for bench_improv.py: the real Manager and wifimgr.improv on the simulated
# radio with a virtual clock (home scenario, as portal_vclock.py: the device is on its known
# network when the guest network's credentials arrive). The send-WiFi-settings RPC is handed to
# Improv.handle() as the serial reader hands it over, and the answers are collected from its
# output stream. Measures, in virtual time, from the RPC to the "provisioned" state packet.
# Prints one JSON line. argv: scenario, state directory.

import asyncio
import json
import os
import sys

from wifimgr import sim

scenario = sim.load_scenario(sys.argv[1])
clock = sim.VirtualClock()
sim.install(scenario, clock)
os.chdir(sys.argv[2])

from wifimgr import improv  # noqa: E402
from wifimgr.config import Config  # noqa: E402
from wifimgr.manager import Manager  # noqa: E402
from wifimgr.store import Store  # noqa: E402

cfg = Config("wifimgr.json", Store.for_config("wifimgr.json"))
for net in scenario.known_networks:
    cfg.add_network(net["ssid"], net.get("password", ""), first=False, save=False)
cfg.save()

PROVISIONED = improv.packet(improv.CURRENT_STATE, bytes([improv.PROVISIONED]))


class Line:
    # The serial line's device-to-host direction: when the provisioned state was written.
    def __init__(self):
        self.data = b""
        self.provisioned_ms = None

    def write(self, b):
        self.data += b
        if self.provisioned_ms is None and PROVISIONED in self.data:
            self.provisioned_ms = clock.now_ms()


async def main():
    m = Manager("wifimgr.json", clock=clock)
    m.start()
    while m.status()["state"] != "connected":
        await asyncio.sleep_ms(0)
    line = Line()
    dev = improv.Improv(m, None, line)
    ssid, password = b"Meadowbrook-Guest", b"welcome-guests"
    payload = bytes([len(ssid)]) + ssid + bytes([len(password)]) + password
    rpc = bytes([improv.SEND_WIFI, len(payload)]) + payload
    guest = [a for a in scenario.access_points if a.ssid == "Meadowbrook-Guest"][0]
    sent = clock.now_ms()
    await dev.handle(improv.RPC, rpc)
    print(
        json.dumps(
            {
                "provisioned": line.provisioned_ms is not None,
                "rpc_to_provisioned_ms": (line.provisioned_ms or clock.now_ms()) - sent,
                "assoc_ms": guest.assoc_ms,
                "dhcp_ms": guest.dhcp_ms,
            }
        )
    )
    m.stop()


asyncio.run(main())
