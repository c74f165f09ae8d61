"""The provisioning page as a person uses it: Debian's Chromium driven by Playwright, at a
phone's 390 x 844, against `make sim` for each scenario. Screenshots of every step go to
build/screenshots/ and are checked (size, not blank)."""

import os
import re
import struct

import pytest
from helpers.micropython import MICROPYTHON, ROOT, MicroPython
from helpers.portal import Device, Sim

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "build" / "screenshots"
VIEWPORT = {"width": 390, "height": 844}
HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "☕ Café Wi‑Fi 📶 & more",
    "日本語のネットワーク!!",
]


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("no Chromium at %s (apt-get install chromium)" % CHROMIUM)
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    yield page
    context.close()
    assert not page.dialogs, "a script ran from the air: %s" % page.dialogs
    assert not page.errors, page.errors


def shot(page, name):
    """Saves a screenshot and checks it is a phone-sized PNG with something on it."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / (name + ".png")
    png = page.screenshot(path=str(path))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (VIEWPORT["width"], VIEWPORT["height"]), name
    # no element wider than the phone: nothing to scroll sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"], name
    return path


def network_button(page, ssid):
    # Playwright hands the pattern to JavaScript as /.../: a slash must be escaped
    pattern = "^" + re.escape(ssid).replace("/", "\\/") + ", signal"
    return page.get_by_role("button", name=re.compile(pattern))


def expect(page):
    from playwright.sync_api import expect

    return expect


def known(sim):
    """The device's known networks, read by a client of its own that has the setup key."""
    if sim.api.unlock(sim.setup_key())[0] != 200:
        raise AssertionError("the setup key did not unlock")
    return sim.api.json("/api/networks")["networks"]


def unlock(page, key):
    """Enters the setup key in the page's "Setup key needed" card."""
    check = expect(page)
    check(page.locator("#lock")).to_be_visible(timeout=15000)
    page.fill("#key", key)
    page.click("#lf button")
    check(page.locator("#lock")).to_be_hidden()


def provision(page, sim, name, ssid, wrong, right, ip, key=None, heading=None):
    """Picks `ssid`, gives a wrong password, then the right one without reloading; unlocks the
    page with `key` first (a provisioned device). `heading`: what the list's heading says."""
    check = expect(page)
    page.goto(sim.url)
    if key:
        unlock(page, key)
    check(network_button(page, ssid)).to_be_visible(timeout=15000)
    if heading:
        check(page.locator("#h-n")).to_have_text(heading, timeout=15000)
    shot(page, name + "-1-networks")
    network_button(page, ssid).click()
    page.fill("#pw", wrong)
    page.click("#eye")  # show the password
    check(page.locator("#pw")).to_have_attribute("type", "text")
    shot(page, name + "-2-password")
    page.click("#go")
    check(page.locator("#prog")).to_be_visible()
    check(page.locator("#pt")).to_contain_text(ssid)
    shot(page, name + "-3-trying")
    check(page.locator("#rh")).to_have_text("Wrong password", timeout=20000)
    check(page.locator("#rt")).to_contain_text(ssid)
    shot(page, name + "-4-wrong-password")
    page.click("#retry")
    page.fill("#pw", right)
    page.click("#go")
    check(page.locator("#rh")).to_have_text("Connected", timeout=20000)
    ap_when_shown = sim.api.json("/api/status")["ap_active"]
    check(page.locator("#rd")).to_contain_text(ip)
    check(page.locator("#rd")).to_contain_text(".local/")
    shot(page, name + "-5-connected")
    return ap_when_shown


def test_first_boot_wrong_then_right_password_and_the_ap_closes_after(page, tmp_path):
    with Sim("first-boot", tmp_path) as sim:
        assert sim.api.wait_status(lambda s: s["ap_active"])
        up = provision(
            page,
            sim,
            "first-boot",
            "Meadowbrook",
            "wrong-password",
            "tulip-garden-42",
            "192.168.1.57",
            heading="Choose a network",
        )
        assert up, "the access point closed before the page showed success"
        # the page lets it close only after showing success
        sim.api.wait_status(lambda s: not s["ap_active"], timeout=15)
        assert known(sim) == ["Meadowbrook"]


def test_home_joins_the_guest_network(page, tmp_path):
    with Sim("home", tmp_path) as sim:
        provision(
            page,
            sim,
            "home",
            "Meadowbrook-Guest",
            "guest-guess",
            "welcome-guests",
            "192.168.2.23",
            key=sim.setup_key(),
            heading="Connected to Meadowbrook",
        )
        assert known(sim) == ["Meadowbrook-Guest", "Meadowbrook"]
        # Already on WiFi: there is no setup network to close, and the page does not name one.
        check = expect(page)
        check(page.locator("#rn")).to_contain_text("Use the address above")
        check(page.locator("#rn")).not_to_contain_text("setup network")


def test_home_marks_the_current_network_and_forgets_only_when_confirmed(page, tmp_path):
    check = expect(page)
    with Sim("home", tmp_path) as sim:
        sim.api.wait_status(lambda s: s["state"] == "connected")
        page.goto(sim.url)
        unlock(page, sim.setup_key())
        check(network_button(page, "Meadowbrook")).to_have_attribute(
            "aria-label", re.compile(", connected$"), timeout=15000
        )
        check(network_button(page, "Meadowbrook-Guest")).not_to_have_attribute(
            "aria-label", re.compile("connected")
        )
        page.click("#st summary")
        check(page.locator("#sd")).to_contain_text("Connected")
        check(page.get_by_role("heading", name="Data")).to_be_hidden()  # no data: no heading
        page.locator("#st summary").click()
        page.click("#kn summary")
        row = page.locator("#known li").first
        check(row).to_contain_text("Meadowbrook")
        name, whole = row.locator("span").bounding_box(), row.bounding_box()
        # the name has the room, on one line: the buttons are compact
        assert name["width"] > whole["width"] * 0.6, (name, whole)
        assert name["height"] < 30, name
        shot(page, "home-6-saved-networks")
        page.get_by_role("button", name="Forget Meadowbrook").click()
        check(row).to_contain_text("Forget Meadowbrook?")
        shot(page, "home-7-forget-confirm")
        assert known(sim) == ["Meadowbrook"], "forgotten before it was confirmed"
        page.get_by_role("button", name="Keep").click()
        check(page.get_by_role("button", name="Forget Meadowbrook")).to_be_visible()
        assert known(sim) == ["Meadowbrook"]
        page.get_by_role("button", name="Forget Meadowbrook").click()
        page.get_by_role("button", name="Yes, forget Meadowbrook").click()
        check(page.locator("#known")).to_contain_text("None yet.")
        assert known(sim) == []


def test_roaming_lists_one_entry_per_ssid_and_joins_an_open_network(page, tmp_path):
    check = expect(page)
    with Sim("roaming", tmp_path) as sim:
        page.goto(sim.url)
        unlock(page, sim.setup_key())  # provisioned: it knows the office network
        check(network_button(page, "Fieldstone-Visitors")).to_be_visible(timeout=15000)
        names = page.locator("#nets .ssid").all_inner_texts()
        assert names.count("Fieldstone-Office") == 1
        assert names[0] == "Fieldstone-Office"  # strongest first: -49 dBm
        shot(page, "roaming-1-networks")
        network_button(page, "Fieldstone-Visitors").click()
        check(page.locator("#open")).to_be_visible()
        check(page.locator("#pw")).to_be_hidden()
        page.click("#go")
        check(page.locator("#rh")).to_have_text("Connected", timeout=20000)
        check(page.locator("#rd")).to_contain_text("172.16.9.40")
        shot(page, "roaming-2-connected")


def test_hostile_ssids_render_as_text_and_the_emoji_network_joins(page, tmp_path):
    check = expect(page)
    with Sim("hostile", tmp_path) as sim:
        page.goto(sim.url)
        check(network_button(page, HOSTILE[0])).to_be_visible(timeout=15000)
        names = page.locator("#nets .ssid").all_inner_texts()
        for ssid in HOSTILE:
            assert ssid in names
        # the DOM holds text, never markup from the air
        assert page.locator("#nets img, #nets script").count() == 0
        assert page.evaluate("document.querySelectorAll('img').length") == 0
        shot(page, "hostile-1-networks")
        # for a screen reader: every control has a name, each network says signal and lock
        unnamed = page.evaluate(
            """[...document.querySelectorAll('button, input, summary')].filter((e) =>
                !(e.labels && e.labels.length) && !e.getAttribute('aria-label') &&
                !e.textContent.trim()).map((e) => e.id || e.outerHTML)"""
        )
        assert unnamed == []
        assert page.evaluate("document.documentElement.lang") == "en"
        label = network_button(page, HOSTILE[1]).get_attribute("aria-label")
        assert label == HOSTILE[1] + ", signal 3 of 4, secured"
        assert network_button(page, HOSTILE[0]).get_attribute("aria-label").endswith(", open")
        provision(
            page,
            sim,
            "hostile",
            HOSTILE[2],
            "not-the-latte",
            "latte-art-2026",
            "192.168.1.50",
            key=sim.setup_key(),
        )
        check(page.locator("#rt")).to_contain_text(HOSTILE[2])
        # the list's heading names the network joined, as text, and the list marks it
        page.goto(sim.url)
        check(page.locator("#h-n")).to_have_text("Connected to " + HOSTILE[2], timeout=15000)
        check(network_button(page, HOSTILE[2])).to_have_attribute(
            "aria-label", re.compile(", connected$")
        )
        shot(page, "hostile-5b-current-network")
        # a hidden network, typed in by hand
        page.get_by_role("button", name=re.compile("^Other network")).click()
        page.fill("#ssid", "Backroom")
        page.fill("#pw", "nobody-sees-me")
        shot(page, "hostile-6-hidden")
        page.click("#go")
        check(page.locator("#rh")).to_have_text("Connected", timeout=20000)
        shot(page, "hostile-7-hidden-connected")


def test_hostile_no_dhcp_shows_the_phases_and_scan_again_lists_afresh(page, tmp_path):
    """A router that gives no address: the page says it joined and waits for an address (the
    link's status()["state"] getting_ip), then offers Scan again, which lists afresh."""
    check = expect(page)
    with Sim("hostile", tmp_path) as sim:
        page.goto(sim.url)
        unlock(page, sim.setup_key())
        check(network_button(page, "NoDHCP-Lab")).to_be_visible(timeout=15000)
        network_button(page, "NoDHCP-Lab").click()
        page.fill("#pw", "static-only-99")
        page.click("#go")
        check(page.locator("#pt")).to_have_text(
            "Joined NoDHCP-Lab; getting an address from the router…", timeout=15000
        )
        shot(page, "hostile-8-getting-address")
        check(page.locator("#rh")).to_have_text("No address from the router", timeout=30000)
        shot(page, "hostile-9-no-address")
        page.get_by_role("button", name="Scan again").click()
        check(page.locator("#pick")).to_be_visible()
        check(page.locator("#scanning")).to_have_text("Scanning…")
        check(network_button(page, "NoDHCP-Lab")).to_be_visible(timeout=15000)
        page.click("#st summary")
        check(page.locator("#sd")).not_to_contain_text("waiting")
        page.locator("#st").scroll_into_view_if_needed()
        shot(page, "hostile-10-status")


def test_empty_air_offers_the_hidden_entry_and_says_not_found(page, tmp_path):
    check = expect(page)
    with Sim("empty", tmp_path) as sim:
        page.goto(sim.url)
        unlock(page, sim.setup_key())  # it knows a network, which is not in range
        check(page.get_by_role("button", name=re.compile("^Other network"))).to_be_visible(
            timeout=15000
        )
        page.get_by_role("button", name=re.compile("^Other network")).click()
        page.fill("#ssid", "Nowhere")
        page.fill("#pw", "whatever-it-is")
        page.click("#go")
        check(page.locator("#rh")).to_have_text("Network not found", timeout=20000)
        check(page.locator("#retry")).to_be_visible()
        shot(page, "empty-1-not-found")
        page.click("#st summary")
        check(page.locator("#sd")).to_contain_text("Not connected, retrying", timeout=15000)


def test_hook_result_data_and_diagnostics_are_shown(page, tmp_path):
    """The device's "connected" hook result on success; wifimgr.data with markup in it shown as
    text; the captive-portal probes the device saw, in the diagnostics."""
    check = expect(page)
    with Device(MicroPython(MICROPYTHON, tmp_path), "first-boot") as dev:
        dev.get("/generate_204", {"Host": "connectivitycheck.gstatic.com"})
        dev.get("/hotspot-detect.html", {"Host": "captive.apple.com"})
        page.goto(dev.url)
        page.click("#st summary")
        check(page.locator("#data")).to_contain_text("<b>label</b>")
        check(page.locator("#data")).to_contain_text('"quoted" & <i>markup</i> ☕')
        assert page.locator("#data b, #data i").count() == 0
        page.click("#dg summary")
        check(page.locator("#probes")).to_contain_text("connectivitycheck.gstatic.com")
        check(page.locator("#probes")).to_contain_text("apple")
        page.click("#up summary")
        page.fill("#url", "http://127.0.0.1:9/firmware.bin")
        page.click("#uf button")
        check(page.locator("#ut")).to_contain_text("setup key")  # updates need the owner
        unlock(page, dev.setup_key())
        page.fill("#sha", "ab" * 32)  # plain HTTP: the form sends the image's SHA-256 too
        page.click("#uf button")
        check(page.locator("#ut")).to_contain_text("Update started")
        # Nothing listens on port 9: the update gets as far as connecting, so the digest was
        # taken (without it, it would stop at once as insecure).
        check(page.locator("#ut")).to_contain_text("Update failed", timeout=15000)
        check(page.locator("#ut")).not_to_contain_text("SHA-256")
        # A new URL's rejection stays: the status poll does not bring back the last error.
        page.fill("#url", "ftp://updates.example/firmware.bin")
        page.click("#uf button")
        check(page.locator("#ut")).to_contain_text("https:// or http://")
        page.wait_for_timeout(3500)  # one 3-second status poll
        check(page.locator("#ut")).to_contain_text("https:// or http://")
        check(page.locator("#dh")).to_be_visible()  # there is data, under its heading
        page.locator("#st").scroll_into_view_if_needed()
        shot(page, "device-1-status")
        page.locator("#probes").scroll_into_view_if_needed()
        shot(page, "device-2-diagnostics")
        check(network_button(page, "Meadowbrook")).to_be_visible(timeout=15000)
        network_button(page, "Meadowbrook").click()
        page.fill("#pw", "tulip-garden-42")
        page.keyboard.press("Enter")
        check(page.locator("#rh")).to_have_text("Connected", timeout=20000)
        check(page.locator("#rd")).to_contain_text("mqtt topic home/")
        shot(page, "device-3-connected")
        # The next visitor sees the failed update as the last one, with its URL, not as theirs.
        other = page.context.browser.new_context(viewport=VIEWPORT).new_page()
        other.goto(dev.url)
        other.click("#up summary")
        check(other.locator("#ul")).to_contain_text(
            "Last update (http://127.0.0.1:9/firmware.bin): Update failed", timeout=10000
        )
        check(other.locator("#ut")).to_have_text("")
        other.context.close()
