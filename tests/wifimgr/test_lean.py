"""Lean at run time (issue 14): the package imports what the current state needs and no more.
The OTA machinery only when an update runs (and never the host's flash stand-in, which only
the unix port has), the portal and the DNS responder only once the access point is up, the
Python twins only where the firmware has no C class, Improv only where it answers. Of the
portal, while nobody visits, the server and the captive-portal probes alone: the JSON API
(portal.api) while the device's own pages are visited, the page (portal.page), a POST's body
(portal.form) and the owner's rare routes (portal.admin) for their request."""

from helpers.pkg import run_json
from helpers.portal import free_port

BODY = r"""
import wifimgr
from wifimgr.config import Config
from wifimgr.store import Store

def loaded():
    return sorted(m for m in sys.modules if m.startswith("wifimgr."))

radio([ap("Home")] if KNOWN else [])
wifimgr.drop("linkspec")  # the simulator's (parse_mac), which a device does not have
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
    # With the C Link, the checks both Links share (wifimgr.linkspec) are loaded for each use
    # (wifimgr_link.c: wifimgr_link_call) and not kept; the twin keeps them.
    return set() if native else {"wifimgr.link", "wifimgr.dns", "wifimgr.linkspec"}


def test_with_the_access_point_up_the_portal_and_dns_and_nothing_of_ota(micropython):
    r = state(micropython, known=False)
    assert r["ap"] and r["servers"] == {"portal": "serving", "dns": "serving"}, r
    mods = set(r["modules"])
    assert {"wifimgr.portal", "wifimgr.portal.http"} <= mods, mods
    # Nobody visited: nothing of the page, its API or the owner's routes.
    visit = {"wifimgr.portal." + m for m in ("api", "page", "form", "admin")}
    assert not mods & visit, mods
    # No update ran: no OTA machinery, no otadata, no flash stand-in; Improv is off here.
    assert not [m for m in mods if m.startswith(("wifimgr.ota", "wifimgr.partition"))], mods
    assert "wifimgr.improv" not in mods and "wifimgr.sim" in mods
    assert not mods & DROPPED, mods
    assert mods & {"wifimgr.link", "wifimgr.dns", "wifimgr.linkspec"} == twins(r["native"]), mods


def test_joined_without_the_access_point_no_portal_no_dns(micropython):
    r = state(micropython, known=True)
    assert r["state"] == "connected" and not r["ap"], r
    mods = set(r["modules"])
    assert not [m for m in mods if m.startswith(("wifimgr.portal", "wifimgr.ota"))], mods
    assert "wifimgr.dns" not in mods and "wifimgr.improv" not in mods, mods
    assert not mods & DROPPED, mods
    assert mods & {"wifimgr.link", "wifimgr.linkspec"} == twins(r["native"]) - {"wifimgr.dns"}


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


VISIT = r"""
import wifimgr
radio([])
m = wifimgr.start("wifimgr.json", http=("127.0.0.1", PORT), dns=("127.0.0.1", 0), clock=clock)
until(m, lambda s: s["servers"]["portal"] == "serving")
portal = m._portal

def loaded():
    return sorted(k for k in sys.modules if k.startswith("wifimgr.portal."))

async def main():
    seen = {"idle": [loaded(), portal.visit is None]}
    st, _, _ = await request(PORT, "GET", "/generate_204", host="connectivitycheck.gstatic.com")
    seen["probe"] = [st, loaded(), portal.visit is None]
    # The visit ends after SESSION_IDLE_MS without a request: 1 s here.
    import wifimgr.portal.api as api
    api.SESSION_IDLE_MS = 1000
    st, head, payload = await request(PORT, "GET", "/api/session")
    cookie = head.split("Set-Cookie: ")[1].split(";")[0]
    auth = ["Cookie: " + cookie, "X-Token: " + json.loads(payload)["token"],
            "Content-Type: application/x-www-form-urlencoded"]
    seen["session"] = [st, portal.visit is not None]
    st, _, payload = await request(PORT, "GET", "/")
    seen["page"] = [st, b"<html" in payload, loaded()]
    key = b"key=abcd-efgh-jkmn"
    st, _, payload = await request(PORT, "POST", "/api/unlock", headers=auth, body=key)
    seen["unlock"] = [st, json.loads(payload)["error"], loaded()]
    # Another client keeps the visit: the first session, unused for more than 1 s, is over.
    for _ in range(8):
        await request(PORT, "GET", "/api/status")
        await asyncio.sleep_ms(200)
    st, _, payload = await request(PORT, "POST", "/api/rescan", headers=auth)
    seen["expired"] = [st, json.loads(payload)["error"], portal.visit is not None]
    await asyncio.sleep_ms(1500)
    seen["left"] = [loaded(), portal.visit is None, "api" in dir(sys.modules["wifimgr.portal"])]
    st, _, payload = await request(PORT, "GET", "/api/session")
    seen["again"] = [st, sorted(json.loads(payload)), loaded()]
    return seen

out(asyncio.run(main()))
"""


def test_the_page_and_its_api_load_with_a_visit_and_leave_with_its_sessions(micropython):
    """The first request for one of the device's own names loads portal.api (a probe does not);
    a session unused for SESSION_IDLE_MS is over, and once no request came for that long the
    visit is dropped, sessions and module, until the next one. The page, a POST's body and the
    owner's routes (portal.page, portal.form, portal.admin) are loaded for their request and
    dropped after it, as is the module that names the page (portal._page: the portal's start
    checks that it is there)."""
    r = run_json(micropython, VISIT.replace("PORT", str(free_port())))
    resident = ["wifimgr.portal.http"]
    assert r["idle"] == [resident, True], r
    assert r["probe"] == [302, resident, True], r
    api = sorted(resident + ["wifimgr.portal.api"])
    assert r["session"] == [200, True], r
    # the page's module served it and is gone; admin answered (its message) and is gone, as is
    # the module that read the request's body
    assert r["page"] == [200, True, api], r
    assert r["unlock"] == [403, "wrong setup key", api], r
    assert r["expired"] == [403, "missing or wrong session token: reload the page", True], r
    assert r["left"] == [resident, True, False], r
    assert r["again"] == [200, ["provisioned", "token", "unlocked"], api], r
