"""frozen/wifimgr/policy.py on MicroPython: configuration to state machine candidates and
policy, start_policy as the seed defines it, hostname before the first connect, static
addresses, and WebREPL only with a password."""

import pytest
from helpers.pkg import run_json

WEBREPL = """
import sys
class FakeWebREPL:
    started = []
    def start(self, password=None):
        self.started.append(password)
sys.modules["webrepl"] = FakeWebREPL()
"""


def test_candidates_and_policy_from_the_configuration(micropython):
    r = run_json(
        micropython,
        """
from wifimgr import policy
from wifimgr.config import Config
from wifimgr.store import Store
c = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
c.add_network("Open", "", first=False)
c.add_network("Attic", "attic-pass", first=False, hidden=True, bssid="aa:bb:cc:dd:ee:ff")
c.set("access_point", {"config": {"essid": "Sensor-AP", "channel": 11}, "start_policy": "always"})
c.set_ap_password("ap-secret-1")
c.set("link", {"rescan_ms": 30000, "retries": 2})
cands = policy.candidates(c)
for cand in cands:
    cand["bssid"] = cand["bssid"] and cand["bssid"].hex()
out([cands, policy.link_policy(c), policy.link_policy(c, {"ap_policy": "never"})["ap_policy"]])
""",
    )
    cands, pol, override = r
    assert cands == [
        {"ssid": "Open", "password": "", "hidden": False, "bssid": None},
        {"ssid": "Attic", "password": "attic-pass", "hidden": True, "bssid": "aabbccddeeff"},
    ]
    assert pol == {
        "rescan_ms": 30000,
        "retries": 2,
        "ap_policy": "always",
        "ap_config": {"ssid": "Sensor-AP", "key": "ap-secret-1", "security": 3, "channel": 11},
    }
    assert override == "never"


@pytest.mark.parametrize(
    "start_policy, known, expect",
    [
        # (AP up at some point, connected at the end)
        ("always", True, [True, True]),
        ("fallback", True, [False, True]),
        ("fallback", False, [True, False]),
        ("never", False, [False, False]),
    ],
)
def test_start_policy(micropython, start_policy, known, expect):
    """seeds/micropython-wifimanager.md: always = AP regardless of the station; fallback =
    AP only when no network could be joined; never = no AP whatever happens."""
    r = run_json(
        micropython,
        """
radio([ap("Home")])
from wifimgr.config import Config
from wifimgr.store import Store
from wifimgr.manager import Manager
c = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
c.set("access_point", {"start_policy": %r})
if %r:
    c.add_network("Home", "correct-horse")
m = Manager("wifimgr.json", clock=clock, uid=UID)
seen = []
m.on("ap_started", lambda s: seen.append(1))
m.start(serve="never")
until(m, lambda s: False, 30000)
out([bool(seen), m.status()["state"] == "connected"])
"""
        % (start_policy, known),
    )
    assert r == expect


def test_hostname_is_set_before_the_first_connect(micropython):
    micropython.link = "twin"  # it watches WLAN.connect(), which only the twin calls
    r = run_json(
        micropython,
        """
r = radio([ap("Home")])
import network
order = []
real_hostname = network.hostname
def hostname(name=None):
    if name is not None:
        order.append(["hostname", name])
    return real_hostname(name)
network.hostname = hostname
real_connect = r.sta.connect
def connect(*a, **k):
    order.append(["connect", a[0].decode()])
    return real_connect(*a, **k)
r.sta.connect = connect
from wifimgr.config import Config
from wifimgr.store import Store
from wifimgr.manager import Manager
c = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
c.set("hostname", "kitchen-sensor")
c.add_network("Home", "correct-horse")
m = Manager("wifimgr.json", clock=clock, uid=UID)
m.start(serve="never")
until(m, lambda s: s["state"] == "connected")
out([order[:2], network.hostname()])
""",
    )
    assert r == [[["hostname", "kitchen-sensor"], ["connect", "Home"]], "kitchen-sensor"]


def test_static_ip_on_its_network_and_dhcp_again_on_the_next(micropython):
    """A static address is set on association to its network; the next network joined without
    one gets a lease again, not the old address (network_common.c: esp_ifconfig() stops the
    DHCP client for good, esp_ipconfig(dhcp4=True) starts it again; the simulated radio does
    the same)."""
    r = run_json(
        micropython,
        """
radio([ap("Home", "aa:00:00:00:00:01", 6, -50, ip="192.168.1.50", vanish_at_s=30),
       ap("Work", "aa:00:00:00:00:02", 11, -60, ip="10.0.0.50")])
import network
sta = network.WLAN(network.STA_IF)
from wifimgr.config import Config
from wifimgr.store import Store
from wifimgr.manager import Manager
c = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
c.add_network("Home", "correct-horse", static_ip={"ip": "192.168.1.77",
              "netmask": "255.255.255.0", "gateway": "192.168.1.1", "dns": "1.1.1.1"})
c.add_network("Work", "correct-horse", first=False)
m = Manager("wifimgr.json", clock=clock, uid=UID)
m.start(serve="never")
until(m, lambda s: s["state"] == "connected")
home = [m.status()["ssid"], list(sta.ifconfig()), sta.ipconfig("dhcp4")]
until(m, lambda s: s["state"] == "connected" and s["ssid"] == "Work", 120000)
out([home, [m.status()["ssid"], sta.ifconfig()[0], sta.ipconfig("dhcp4")]])
""",
    )
    home, work = r
    assert home == ["Home", ["192.168.1.77", "255.255.255.0", "192.168.1.1", "1.1.1.1"], False]
    assert work == ["Work", "10.0.0.50", True]


@pytest.mark.parametrize(
    "password, expect_started, expect_status",
    [("s3cret", ["s3cret"], "started"), (None, [], "no_password")],
)
def test_webrepl_only_with_a_password(micropython, password, expect_started, expect_status):
    """A network with enables_webrepl starts WebREPL on connect with the configured password;
    without a password it is never started, and status()["webrepl"] says why."""
    r = run_json(
        micropython,
        WEBREPL
        + """
radio([ap("Home")])
from wifimgr.config import Config
from wifimgr.store import Store
from wifimgr.manager import Manager
c = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
c.add_network("Home", "correct-horse", enables_webrepl=True)
c.set("webrepl_password", %r)
m = Manager("wifimgr.json", clock=clock, uid=UID)
m.start(serve="never")
until(m, lambda s: s["state"] == "connected")
out([sys.modules["webrepl"].started, m.status()["webrepl"]])
"""
        % (password,),
    )
    assert r == [expect_started, expect_status]


def test_webrepl_on_the_access_point_and_not_on_other_networks(micropython):
    r = run_json(
        micropython,
        WEBREPL
        + """
radio([ap("Home")])
from wifimgr import policy
from wifimgr.config import Config
from wifimgr.store import Store
c = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
c.add_network("Home", "correct-horse", enables_webrepl=False)
c.set("access_point", {"enables_webrepl": True})
c.set_webrepl_password("s3cret")
on_home = policy.webrepl(c, {"state": "connected", "ssid": "Home", "ap_active": False})
on_ap = policy.webrepl(c, {"state": "waiting", "ssid": None, "ap_active": True})
out([on_home, on_ap, sys.modules["webrepl"].started])
""",
    )
    assert r == [None, "started", ["s3cret"]]


def test_the_access_point_is_secured_by_the_setup_key_once_provisioned(micropython):
    """First boot: open (a phone alone can set the device up), or WPA2 with the setup key when
    setup_ap_secured is on. Provisioned: the fallback access point always has a passphrase,
    the setup key unless the owner configured one of their own."""
    r = run_json(
        micropython,
        """
from wifimgr import policy
from wifimgr.config import Config
from wifimgr.store import Store
c = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
key = c.store.setup_key()
steps = [policy.ap_config(c)]
c.set("setup_ap_secured", True)
steps.append(policy.ap_config(c))
c.set("setup_ap_secured", False)
c.add_network("Home", "", first=False)
steps.append(policy.ap_config(c))
c.set_ap_password("own-ap-secret")
steps.append(policy.ap_config(c))
out([key, [(s["key"], s["security"]) for s in steps]])
""",
    )
    key, steps = r
    assert steps == [["", 0], [key, 3], [key, 3], ["own-ap-secret", 3]]
