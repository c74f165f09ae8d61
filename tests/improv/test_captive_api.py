"""RFC 8908, the Captive Portal API, as the portal serves it at the URI the access point's DHCP
server offers as option 114 (RFC 8910): on the simulated device, by the device's own names
only, as every page and API is (a foreign name gets the redirect to the portal: DNS
rebinding reads nothing)."""

import json

from helpers.portal import Device


def test_captive_until_provisioned_then_not(micropython):
    with Device(micropython, "first-boot") as dev:
        dev.wait_status(lambda s: s["ap_active"])
        # the phone asks by the URI it got from DHCP: the device's own address
        status, headers, body = dev.get("/api/captive", headers={"Host": "127.0.0.1"})
        assert status == 200
        assert headers["content-type"] == "application/captive+json"
        assert headers["cache-control"] == "no-store"
        assert json.loads(body) == {"captive": True, "user-portal-url": dev.url}
        status, headers, _ = dev.get("/api/captive", headers={"Host": "captive.example"})
        assert status == 302 and headers["location"].startswith(dev.url), headers
        creds = {"ssid": "Meadowbrook", "password": "tulip-garden-42"}
        status, _ = dev.post("/api/connect", creds)
        assert status == 202
        dev.wait_status(lambda s: s["state"] == "connected")
        _, headers, body = dev.get("/api/captive")
        assert json.loads(body) == {"captive": False, "user-portal-url": dev.url}
