"""RFC 8910: the URI the access point's DHCP server offers as option 114 is the portal's
Captive Portal API (/api/captive) on the AP's address, while the AP is up. On the C Link the
simulated radio records it as port/radio_esp32.c: offer_captive_uri() sets it on ESP-IDF; the
twin runs on network.WLAN, which cannot set DHCP options (network_wlan.c: network_wlan_config()
has no such key), so its AP offers none."""

import pytest
from helpers.micropython import LINKS, micropython_on
from helpers.pkg import run_json


@pytest.fixture(params=LINKS)
def micropython(request, tmp_path):
    return micropython_on(request.param, tmp_path)


def test_ap_offers_the_portal_captive_api_uri_while_up(micropython):
    r = run_json(
        micropython,
        """
radio([ap("Home")])
import network
from wifimgr.manager import Manager
from wifimgr.portal import Portal
m = Manager("wifimgr.json", clock=clock, uid=UID)
m.start(serve="never")
until(m, lambda s: s["ap_active"])
apif = network.WLAN(network.AP_IF)
up = [apif.dhcp_captive_uri, Portal(m).url() + "api/captive", m.status()["ap_ip"]]
m.try_credentials("Home", "correct-horse")
until(m, lambda s: s["trial"] and s["trial"]["state"] == "connected")
m.finish_provisioning()
until(m, lambda s: not s["ap_active"])
out([up, apif.dhcp_captive_uri])
""",
    )
    (offered, api, ap_ip), after = r
    assert api == "http://192.168.4.1/api/captive" and ap_ip == "192.168.4.1"
    assert offered == (api if micropython.link == "native" else None)
    assert after is None
