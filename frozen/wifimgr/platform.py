"""What wifimgr knows about the platform it runs on, in one place.

- `wlan_codes()`: the `WLAN.status()` values, read from the `network` module's `STAT_*`
  names (whatever numbers the port gives them), grouped as the Link needs them.
- `chip()`, `build()`: this chip as the boards spell it ("esp32c3") and the build name
  (`sys.implementation._build`, which is the release's board name, "WIFIMGR_ESP32C3").
- `reset()`: machine.reset().
- `AP_DEFAULT_IP`: the access point's address when its interface says none.
- `unique_id()`: the chip's unique id, which the credential store's keys and the default
  device name come from.

Off the device (the unix port) the host flash stand-in, `wifimgr.partition`, says which board
it stands for and ends the process on reset; it is imported only there, and only when asked.
"""

import sys

from micropython import const

ON_DEVICE = sys.platform == "esp32"
# The access point's address when its interface gives none: ESP-IDF's default for the soft AP
# (esp_netif/esp_netif_defaults.c: _g_esp_netif_soft_ap_ip).
AP_DEFAULT_IP = "192.168.4.1"
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


def wlan_codes():
    """The WLAN.status() values of the `network` module imported now (on the unix port that
    is the simulated radio, once wifimgr.sim.install() ran)."""
    import network

    return WlanCodes(network)


def _host():
    from wifimgr import partition

    return partition


def chip():
    """This chip's name as the boards spell it ("esp32c3")."""
    if not ON_DEVICE:
        return _host().board()["chip"]
    machine = sys.implementation._machine
    return machine[machine.rfind(" with ") + 6 :].lower().replace("-", "")


def build():
    """The build name, which is the release's board name ("WIFIMGR_ESP32S3-FLASH_16M"). It
    names what was built (the partition table, the flash size it expects), not the module it
    runs on: a 4 MB build on an 8 MB module is still the 4 MB build."""
    if not ON_DEVICE:
        return _host().board()["build"]
    return sys.implementation._build


def reset():
    """machine.reset(); on the unix port the process ends (the next one powers on again)."""
    if not ON_DEVICE:
        _host().reset()
    import machine

    machine.reset()


def unique_id():
    """The chip's unique id as bytes: machine.unique_id(), else the station MAC, else None."""
    try:
        import machine

        return bytes(machine.unique_id())
    except (ImportError, AttributeError, OSError):
        pass
    try:
        import network

        return bytes(network.WLAN(network.STA_IF).config("mac"))
    except (ImportError, AttributeError, OSError, ValueError, TypeError):
        return None
