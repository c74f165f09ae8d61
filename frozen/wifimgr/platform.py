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

ON_DEVICE = sys.platform == "esp32"
# The access point's address when its interface gives none: ESP-IDF's default for the soft AP
# (esp_netif/esp_netif_defaults.c: _g_esp_netif_soft_ap_ip).
AP_DEFAULT_IP = "192.168.4.1"


def wlan_codes():
    """The WLAN.status() values of the `network` module imported now (on the unix port that
    is the simulated radio, once wifimgr.sim.install() ran): a wifimgr._wlan.WlanCodes,
    imported only then (only the Python link twin asks: the C Link reads the radio's events)."""
    import network

    from wifimgr._wlan import WlanCodes

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
