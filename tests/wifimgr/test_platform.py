"""wifimgr._wlan.WlanCodes (wifimgr.platform.wlan_codes()): WLAN.status() codes from the network
module's STAT_* names only, whatever numbers a port gives them and whichever names it lacks
(issue 14).

The Pico W's numbers follow extmod/modnetwork.c (its STAT_* table for cyw43: STAT_IDLE
CYW43_LINK_DOWN, STAT_CONNECTING CYW43_LINK_JOIN, STAT_WRONG_PASSWORD CYW43_LINK_BADAUTH,
STAT_NO_AP_FOUND CYW43_LINK_NONET, STAT_CONNECT_FAIL CYW43_LINK_FAIL, STAT_GOT_IP
CYW43_LINK_UP) with cyw43-driver's src/cyw43.h values (DOWN 0, JOIN 1, NOIP 2, UP 3, FAIL -1,
NONET -2, BADAUTH -3); extmod/network_cyw43.c: network_cyw43_status() returns
cyw43_tcpip_link_status() as it is, NOIP (associated, waiting for DHCP) included, which has no
STAT_ name. The esp8266's are modnetwork.c's STAT_IDLE 0 ... STAT_GOT_IP 5."""

import json

from helpers.pkg import run_json

CYW43 = {"IDLE": 0, "CONNECTING": 1, "WRONG_PASSWORD": -3, "NO_AP_FOUND": -2,
         "CONNECT_FAIL": -1, "GOT_IP": 3}  # fmt: skip
ESP8266 = {"IDLE": 0, "CONNECTING": 1, "WRONG_PASSWORD": 2, "NO_AP_FOUND": 3,
           "CONNECT_FAIL": 4, "GOT_IP": 5}  # fmt: skip

CODES = r"""
from wifimgr._wlan import WlanCodes
class Net:
    pass
out_ = {}
for name, stat in STATS.items():
    net = Net()
    for k, v in stat.items():
        setattr(net, "STAT_" + k, v)
    c = WlanCodes(net, "rp2")
    out_[name] = {"wrong_password": c.wrong_password, "not_found": c.not_found,
                  "progressing": [n for n in range(-4, 8) if c.progressing(n)]}
out(out_)
"""


def test_codes_come_from_the_names_a_port_has(micropython):
    r = run_json(
        micropython,
        "STATS = %s\n" % json.dumps({"cyw43": CYW43, "esp8266": ESP8266}) + CODES,
    )
    # No STAT_HANDSHAKE_TIMEOUT nor STAT_NO_AP_FOUND_* there: only what the port names.
    assert r["cyw43"] == {"wrong_password": [-3], "not_found": [-2, -1],
                          "progressing": [0, 1, 2]}  # fmt: skip
    assert r["esp8266"] == {"wrong_password": [2], "not_found": [3, 4],
                            "progressing": [0, 1]}  # fmt: skip


# The simulated radio's station seen through cyw43's numbering: what a Pico W reports.
LINK = r"""
radio([ap("Home", assoc_ms=400, dhcp_ms=900)])
import network as simnet

class Cyw43WLAN:
    def __init__(self, wlan):
        self._w = wlan
    def __getattr__(self, name):
        return getattr(self._w, name)
    def status(self, *param):
        if param:
            return self._w.status(*param)
        code = self._w.status()
        if code == simnet.STAT_GOT_IP:
            return 3
        if code == simnet.STAT_CONNECTING:
            try:
                self._w.status("rssi")
                return 2  # CYW43_LINK_NOIP: joined, no address yet
            except (OSError, ValueError):
                return 1
        return {simnet.STAT_IDLE: 0, simnet.STAT_WRONG_PASSWORD: -3,
                simnet.STAT_NO_AP_FOUND: -2}.get(code, -1)

class Cyw43Network:
    STA_IF, AP_IF = simnet.STA_IF, simnet.AP_IF
    def WLAN(iface):
        return Cyw43WLAN(simnet.WLAN(iface))

for k, v in STATS.items():
    setattr(Cyw43Network, "STAT_" + k, v)
sys.modules["network"] = Cyw43Network
from wifimgr.link import Link
lk = Link(Cyw43Network.WLAN(simnet.STA_IF), Cyw43Network.WLAN(simnet.AP_IF), clock=clock)
lk.configure([{"ssid": "Home", "password": PASSWORD}], {"ap_policy": "never"})
seen = []
lk.on_change(lambda s: seen.append([s["state"], s["reason"]]))
async def main():
    lk.start()
    while clock.now_ms() < 20000:
        await asyncio.sleep_ms(0)
asyncio.run(main())
out({"seen": seen, "status": lk.status()["state"]})
"""


def run_link(micropython, password):
    body = "STATS = %s\nPASSWORD = %r\n" % (json.dumps(CYW43), password) + LINK
    return run_json(micropython, body)


def test_the_twin_joins_on_a_radio_with_cyw43_numbers(micropython):
    """Associated and waiting for DHCP is CYW43_LINK_NOIP (2), which has no STAT_ name: the
    twin waits for the address instead of calling the link lost."""
    r = run_link(micropython, "correct-horse")
    assert r["status"] == "connected", r
    assert ["connected", None] in r["seen"] and not [s for s in r["seen"] if s[1]], r


def test_the_twin_tells_a_wrong_password_on_cyw43_numbers(micropython):
    r = run_link(micropython, "wrong-horse-xx")
    assert ["failed", "wrong_password"] in r["seen"] or any(
        s[1] == "wrong_password" for s in r["seen"]
    ), r
