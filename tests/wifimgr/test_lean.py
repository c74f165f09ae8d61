"""Lean at run time (issue 14): the package imports what the current state needs and no more.
The OTA machinery only when an update runs (and never the host's flash stand-in, which only
the unix port has), the portal and the DNS responder only once the access point is up, the
Python twins only where the firmware has no C class, Improv only where it answers."""

from helpers.pkg import run_json

BODY = r"""
import wifimgr
from wifimgr.config import Config
from wifimgr.store import Store

def loaded():
    return sorted(m for m in sys.modules if m.startswith("wifimgr."))

radio([ap("Home")] if KNOWN else [])
if KNOWN:
    cfg = Config("wifimgr.json", Store.for_config("wifimgr.json"))
    cfg.add_network("Home", "correct-horse", save=False)
    cfg.save()
m = wifimgr.start("wifimgr.json", http=("127.0.0.1", 0), dns=("127.0.0.1", 0), clock=clock)
until(m, lambda s: s["state"] == "connected" or s["ap_active"])
t = clock.now_ms()
until(m, lambda s: clock.now_ms() - t > 30000, 31000)  # 30 s in that state
s = m.status()
out({"state": s["state"], "ap": s["ap_active"], "servers": s["servers"], "modules": loaded(),
     "native": wifimgr.native("Link") is not None})
"""


# What runs now and then is loaded for that and dropped after (wifimgr.call_dropped()): the
# store's crypto (a load, a save), the configuration's document checks and its editing (a
# change), safe mode's code (at boot, on a crash), the policy (when the configuration
# changes, on a connect), the one-shot API (setup_network() etc.), what the manager does once
# at start (wifimgr.provision: passwords migrated, a wifi.json imported, the setup key), the
# console's INFO lines (quiet by default).
DROPPED = {
    "wifimgr._console",
    "wifimgr.provision",
    "wifimgr._seal",
    "wifimgr._schema",
    "wifimgr._cfgedit",
    "wifimgr.safemode",
    "wifimgr.policy",
    "wifimgr._oneshot",
}


def state(micropython, known):
    body = BODY.replace("KNOWN", "True" if known else "False")
    return run_json(micropython, body)


def twins(native):
    return set() if native else {"wifimgr.link", "wifimgr.dns"}


def test_with_the_access_point_up_the_portal_and_dns_and_nothing_of_ota(micropython):
    r = state(micropython, known=False)
    assert r["ap"] and r["servers"] == {"portal": "serving", "dns": "serving"}, r
    mods = set(r["modules"])
    assert {"wifimgr.portal", "wifimgr.portal.http"} <= mods, mods
    # No update ran: no OTA machinery, no otadata, no flash stand-in; Improv is off here.
    assert not [m for m in mods if m.startswith(("wifimgr.ota", "wifimgr.partition"))], mods
    assert "wifimgr.improv" not in mods and "wifimgr.sim" in mods
    assert not mods & DROPPED, mods
    assert mods & {"wifimgr.link", "wifimgr.dns"} == twins(r["native"]), mods


def test_joined_without_the_access_point_no_portal_no_dns(micropython):
    r = state(micropython, known=True)
    assert r["state"] == "connected" and not r["ap"], r
    mods = set(r["modules"])
    assert not [m for m in mods if m.startswith(("wifimgr.portal", "wifimgr.ota"))], mods
    assert "wifimgr.dns" not in mods and "wifimgr.improv" not in mods, mods
    assert not mods & DROPPED, mods
    assert ("wifimgr.link" in mods) == (not r["native"]), mods


def test_the_guard_of_a_boot_with_nothing_pending_loads_no_http_client(micropython, tmp_path):
    """ota.guard() at boot (on a board, wifimgr.start() runs it) reads otadata and returns:
    the HTTP client, the image checks, the download and the manifest code stay unloaded."""
    body = r"""
from wifimgr import partition
partition.setup("flash")
from wifimgr import ota
r = asyncio.run(ota.guard(lambda: True))
out({"r": r, "modules": sorted(m for m in sys.modules if m.split(".")[:2] == ["wifimgr", "ota"])})
"""
    r = run_json(micropython, body)
    assert r["r"] == "not_pending", r
    assert r["modules"] == ["wifimgr.ota", "wifimgr.ota.journal", "wifimgr.ota.rollback"], r
