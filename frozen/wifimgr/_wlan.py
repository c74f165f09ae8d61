"""The `WLAN.status()` codes by what they mean to the Python link twin, read from the network
module's STAT_* names: wifimgr.platform.wlan_codes() imports this module when the twin asks
(the C Link reads the radio's events, not WLAN.status())."""

import sys

from micropython import const

# ESP-IDF's WIFI_REASON_4WAY_HANDSHAKE_TIMEOUT (esp_wifi_types_generic.h), what a WPA2 access
# point's wrong password usually ends in on the esp32 port: network_wlan.c:
# network_wlan_status() passes reasons it has no name for through, and this one has none.
_ESP32_REASON_4WAY_HANDSHAKE_TIMEOUT = const(15)


class WlanCodes:
    """WLAN.status() values, from the network module's STAT_* names alone (each port numbers
    them its own way, and has only some: the esp32 port's modnetwork_globals.h names a dozen,
    extmod/modnetwork.c gives the Pico W's cyw43 six, from its CYW43_LINK_* states): idle,
    connecting, got_ip, and the codes that mean a wrong password or a network not found
    (anything else that is not progress is a lost link)."""

    def __init__(self, network, platform=sys.platform):
        def named(*names):
            return tuple(
                getattr(network, "STAT_" + n) for n in names if hasattr(network, "STAT_" + n)
            )

        self.idle = network.STAT_IDLE
        self.connecting = network.STAT_CONNECTING
        self.got_ip = network.STAT_GOT_IP
        self.wrong_password = named("WRONG_PASSWORD", "HANDSHAKE_TIMEOUT")
        if platform == "esp32":
            self.wrong_password += (_ESP32_REASON_4WAY_HANDSHAKE_TIMEOUT,)
        self.not_found = named(
            "NO_AP_FOUND",
            "CONNECT_FAIL",
            "NO_AP_FOUND_W_COMPATIBLE_SECURITY",
            "NO_AP_FOUND_IN_AUTHMODE_THRESHOLD",
            "NO_AP_FOUND_IN_RSSI_THRESHOLD",
        )
        self._failures = self.wrong_password + self.not_found + named("BEACON_TIMEOUT")

    def progressing(self, code):
        """True for idle and the steps of a connect that has not ended: STAT_CONNECTING, and a
        code between it and STAT_GOT_IP that names no failure (cyw43's CYW43_LINK_NOIP, 2:
        associated, waiting for DHCP, has no STAT_ name)."""
        if code in (self.idle, self.connecting):
            return True
        low, high = sorted((self.connecting, self.got_ip))
        return low < code < high and code not in self._failures
