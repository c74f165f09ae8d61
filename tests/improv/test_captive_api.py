"""RFC 8908, the Captive Portal API, as the portal serves it at the URI the access point's DHCP
server offers as option 114 (RFC 8910): on the simulated device, from any Host name."""

import json

from helpers.portal import Device


def test_captive_until_provisioned_then_not(micropython):
    with Device(micropython, "first-boot") as dev:
        dev.wait_status(lambda s: s["ap_active"])
        # the phone asks by the URI it got from DHCP, or by any name the captive DNS answered
        for host in ("127.0.0.1", "captive.example"):
            status, headers, body = dev.get("/api/captive", headers={"Host": host})
            assert status == 200
            assert headers["content-type"] == "application/captive+json"
            assert headers["cache-control"] == "no-store"
            assert json.loads(body) == {"captive": True, "user-portal-url": dev.url}
        creds = {"ssid": "Meadowbrook", "password": "tulip-garden-42"}
        status, _ = dev.post("/api/connect", creds)
        assert status == 202
        dev.wait_status(lambda s: s["state"] == "connected")
        _, headers, body = dev.get("/api/captive")
        assert json.loads(body) == {"captive": False, "user-portal-url": dev.url}
