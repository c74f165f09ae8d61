"""A phone's view of the captive portal: two network namespaces joined by a veth pair. The
device side (192.168.4.1) runs the real package on the simulated radio, first boot, serving DNS
on port 53 and HTTP on port 80 while its access point is up; the phone side has 192.168.4.1 as
its only resolver and runs Chromium, which opens Android's connectivity check and must land on
the portal page. Needs root and iproute2; skipped with the reason otherwise."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from helpers.micropython import MICROPYTHON, SCENARIOS, MicroPython
from helpers.portal import DEVICE, build_page, end_process

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
DEVICE_IP = "192.168.4.1"
PHONE_IP = "192.168.4.2"


def sh(*args, check=True):
    return subprocess.run(args, capture_output=True, text=True, check=check)


@pytest.fixture
def namespaces():
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root (ip netns)")
    if not shutil.which("ip"):
        pytest.skip("no ip command (apt-get install iproute2)")
    tag = str(os.getpid())
    dev, phone = "wmdev" + tag, "wmphone" + tag
    veth_dev, veth_phone = "wmd" + tag, "wmp" + tag
    resolv = Path("/etc/netns") / phone
    if sh("ip", "netns", "add", dev, check=False).returncode != 0:
        pytest.skip("cannot create network namespaces here (ip netns add failed)")
    try:
        sh("ip", "netns", "add", phone)
        sh("ip", "link", "add", veth_dev, "type", "veth", "peer", "name", veth_phone)
        sh("ip", "link", "set", veth_dev, "netns", dev)
        sh("ip", "link", "set", veth_phone, "netns", phone)
        for ns, ifname, ip in ((dev, veth_dev, DEVICE_IP), (phone, veth_phone, PHONE_IP)):
            sh("ip", "-n", ns, "addr", "add", ip + "/24", "dev", ifname)
            sh("ip", "-n", ns, "link", "set", ifname, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        # `ip netns exec` puts this file over /etc/resolv.conf: the device is the only resolver
        resolv.mkdir(parents=True, exist_ok=True)
        (resolv / "resolv.conf").write_text("nameserver %s\n" % DEVICE_IP)
        yield dev, phone
    finally:
        sh("ip", "netns", "del", phone, check=False)
        sh("ip", "netns", "del", dev, check=False)
        shutil.rmtree(resolv, ignore_errors=True)


def wait_for_portal(phone, device):
    probe = "import socket; socket.create_connection(('%s', 80), 1).close()" % DEVICE_IP
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if device.poll() is not None:
            raise AssertionError("the device exited: %s" % device.stdout.read())
        if sh("ip", "netns", "exec", phone, "python3", "-c", probe, check=False).returncode == 0:
            return
        time.sleep(0.3)
    raise AssertionError("the portal never answered on %s:80 inside the namespace" % DEVICE_IP)


def test_phone_connectivity_check_lands_on_the_portal(namespaces, tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("no Chromium at %s (apt-get install chromium)" % CHROMIUM)
    playwright = pytest.importorskip("playwright.sync_api")
    dev, phone = namespaces
    build_page()
    mp = MicroPython(MICROPYTHON, tmp_path)
    state = tmp_path / "device"
    state.mkdir()
    args = (SCENARIOS / "first-boot.json", state, 80, "0.0.0.0", 53, "ap")
    device = subprocess.Popen(
        ["ip", "netns", "exec", dev, *mp.command(DEVICE, args)],
        env=mp.env(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # Chromium started inside the phone's namespace; Playwright talks to it over a pipe
    wrapper = tmp_path / "chromium-in-phone"
    wrapper.write_text('#!/bin/sh\nexec ip netns exec %s %s "$@"\n' % (phone, CHROMIUM))
    wrapper.chmod(0o755)
    try:
        wait_for_portal(phone, device)
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(wrapper))
            page = browser.new_page(viewport={"width": 360, "height": 740})
            page.goto("http://connectivitycheck.gstatic.com/generate_204")
            assert page.url == "http://%s/" % DEVICE_IP
            playwright.expect(page.locator("#nets")).to_contain_text("Meadowbrook", timeout=15000)
            probes = page.evaluate("fetch('/api/status').then(r => r.json())")["portal"]["probes"]
            seen = [(x["os"], x["host"], x["path"]) for x in probes]
            assert ("android", "connectivitycheck.gstatic.com", "/generate_204") in seen, seen
            shots = Path(__file__).resolve().parents[2] / "build" / "screenshots"
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / "phone-1-captive-portal.png"))
            browser.close()
    finally:
        end_process(device)
