"""The two flows of the setup key (README, "Who can do what") as a phone user walks them, in
Debian's Chromium at an iPhone's 390 x 844 against `make sim`: first-boot provisioning with no
key (the success page shows the key, once), and the recovery of a provisioned device whose
router is gone, through its fallback access point (WPA2 with the setup key) and the key typed
into the page. Screenshots of every step go to build/screenshots/owner-*.png."""

import json
import os
import struct

import pytest
from helpers.micropython import ROOT
from helpers.portal import Sim

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "build" / "screenshots"
VIEWPORT = {"width": 390, "height": 844}


@pytest.fixture
def page():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("no Chromium at %s (apt-get install chromium)" % CHROMIUM)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        yield page
        browser.close()
        assert not page.errors, page.errors


def expect():
    from playwright.sync_api import expect

    return expect


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    png = page.screenshot(path=str(SHOTS / ("owner-%s.png" % name)), full_page=True)
    assert struct.unpack(">II", png[16:24])[0] == 390, name
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, name


def join(page, ssid, password):
    check = expect()
    button = page.get_by_role("button", name=ssid + ", signal", exact=False).first
    check(button).to_be_visible(timeout=15000)
    button.click()
    page.fill("#pw", password)
    page.click("#go")
    check(page.locator("#rh")).to_have_text("Connected", timeout=20000)


def test_first_boot_needs_no_key_and_shows_it_once(page, tmp_path):
    check = expect()
    with Sim("first-boot", tmp_path) as sim:
        sim.api.wait_status(lambda s: s["ap_active"] and s["ap_security"] == 0)
        page.goto(sim.url)
        check(page.locator("#lock")).to_be_hidden()
        shot(page, "first-boot-1-networks")
        join(page, "Meadowbrook", "tulip-garden-42")
        key = sim.setup_key()
        check(page.locator("#rd .key")).to_have_text(key)
        check(page.locator("#rn")).to_contain_text("not shown again")
        shot(page, "first-boot-2-connected-with-key")
        page.reload()
        check(page.locator("#lock")).to_be_hidden()  # its session owns the device
        assert key not in page.content()


def test_recovery_through_the_secured_fallback_access_point(page, tmp_path):
    """The router the device knew is gone; its fallback access point is up with the setup key
    as WPA2 passphrase (the phone joins it with the key from the label); the page asks for the
    key before it lets anyone choose the new router."""
    check = expect()
    doc = {
        "known_networks": [{"ssid": "Old-Router", "password": "old-router-pw"}],
        "access_points": [
            {"ssid": "New-Router", "bssid": "02:00:00:00:00:05", "channel": 1, "rssi": -52,
             "security": "wpa2", "password": "new-router-pw", "ip": "192.168.7.20"},
        ],
    }  # fmt: skip
    scenario = tmp_path / "recovery.json"
    scenario.write_text(json.dumps(doc))
    with Sim(scenario, tmp_path / "state") as sim:
        sim.api.wait_status(lambda s: s["ap_active"] and s["ap_security"] == 3)
        page.goto(sim.url)
        check(page.locator("#lock")).to_be_visible(timeout=15000)
        shot(page, "recovery-1-locked")
        page.fill("#key", "aaaa-bbbb-cccc")
        page.click("#lf button")
        check(page.locator("#lt")).to_have_text("wrong setup key")
        shot(page, "recovery-2-wrong-key")
        page.wait_for_timeout(1100)  # a guess a second
        page.fill("#key", sim.setup_key())
        page.click("#lf button")
        check(page.locator("#lock")).to_be_hidden()
        shot(page, "recovery-3-unlocked")
        join(page, "New-Router", "new-router-pw")
        check(page.locator("#rd")).to_contain_text("192.168.7.20")
        assert page.locator("#rd .key").count() == 0  # shown at first boot only
        shot(page, "recovery-4-connected")
