"""From configuration to behaviour: the state machine's candidates and policy, the hostname,
static addresses and WebREPL.

- `candidates(cfg)`: the known networks, most preferred first, as `Link.configure()` takes
  them (the first eight: what the state machine holds); entries it cannot use are skipped
  and logged.
- `link_policy(cfg, override=None)`: `access_point.start_policy` becomes `ap_policy`, the
  access point settings (name: `essid`, else the device name; passphrase: the access point
  password, else the setup key when provisioned; WPA2, open only at first boot) become
  `ap_config`, and the `link` section adds the timings.
- `set_hostname(name, sta)`: before the first connect, so DHCP and mDNS use it.
- `webrepl(cfg, status)`: starts WebREPL when the joined network (or the access point) has
  `enables_webrepl` and a WebREPL password is configured; never without a password.
- `wants_improv(cfg)`: whether Improv Wi-Fi answers on the serial console (wifimgr.improv,
  imported only then).
"""

import sys

from micropython import const

from wifimgr import _log as log
from wifimgr import call_dropped
from wifimgr.store import SETUP_KEY

_SEC_OPEN = const(0)
_SEC_WPA2 = const(3)


def candidates(cfg):
    out = []
    limit = call_dropped("linkspec", "max_candidates")
    for net in cfg.networks():
        if len(out) == limit:
            log.warning("policy: only the first %d known networks are tried", limit)
            break
        bssid = net.get("bssid")
        cand = {
            "ssid": net["ssid"],
            "password": cfg.password(net["ssid"]) or "",
            "hidden": net.get("hidden", False),
            "bssid": _mac_bytes(bssid) if bssid else None,
        }
        out.append(cand)
    return out


def _mac_bytes(text):
    return bytes(int(p, 16) for p in text.split(":"))


def ap_config(cfg):
    """The `WLAN.config(**...)` settings of the access point. Its passphrase: the configured
    access point password, else the setup key once the device is provisioned (or from the
    first boot with `setup_ap_secured`): the fallback access point of a provisioned device is
    never open."""
    ap = cfg.get("access_point") or {}
    conf = ap.get("config") or {}
    ssid = conf.get("essid") or conf.get("ssid") or cfg.device_name
    key = cfg.ap_password()
    if not key and cfg.store is not None and (cfg.ssids() or cfg.get("setup_ap_secured")):
        key = cfg.store.get(SETUP_KEY) or ""
    out = {"ssid": ssid, "key": key, "security": _SEC_WPA2 if key else _SEC_OPEN}
    if "authmode" in conf and key:
        out["security"] = conf["authmode"]
    if "channel" in conf:
        out["channel"] = conf["channel"]
    if "hidden" in conf:
        out["hidden"] = conf["hidden"]
    return out


def link_policy(cfg, override=None):
    """The policy dict for `Link.configure()`; `override` (e.g. {"ap_policy": "never"}) wins."""
    policy = dict(cfg.get("link") or {})
    policy["ap_policy"] = cfg.start_policy
    policy["ap_config"] = ap_config(cfg)
    if override:
        policy.update(override)
    return policy


def static_ip(cfg, ssid):
    """(ip, netmask, gateway, dns) configured for `ssid`, or None for DHCP."""
    for net in cfg.networks():
        if net["ssid"] == ssid and net.get("static_ip"):
            s = net["static_ip"]
            return (s["ip"], s["netmask"], s["gateway"], s["dns"])
    return None


def apply_static_ip(cfg, sta, ssid):
    """The address `ssid` is configured with, else DHCP. A static address stops the DHCP
    client for good (network_common.c: esp_ifconfig() calls esp_netif_dhcpc_stop()), so a
    network without one starts it again (esp_ipconfig(dhcp4=True) starts it only if it is
    not running). Returns True when a static address was set."""
    addr = static_ip(cfg, ssid)
    try:
        if addr is None:
            sta.ipconfig(dhcp4=True)
            return False
        sta.ifconfig(addr)
        log.info("policy: static address %s on %s", addr[0], ssid)
        return True
    except (OSError, ValueError) as e:
        log.error("policy: cannot set the address of %s: %s", ssid, e)
        return False


def set_hostname(name, sta=None):
    """Sets the DHCP/mDNS hostname: network.hostname() on MicroPython >= 1.20, else the
    station's dhcp_hostname. Returns True if one of them took it."""
    try:
        import network

        if hasattr(network, "hostname"):
            network.hostname(name)
            return True
    except (ImportError, OSError, ValueError) as e:
        log.warning("policy: network.hostname(%r) failed: %s", name, e)
    if sta is not None:
        try:
            sta.config(dhcp_hostname=name)
            return True
        except (OSError, ValueError, TypeError) as e:
            log.warning("policy: cannot set the hostname: %s", e)
    return False


def wants_webrepl(cfg, status):
    """True when the joined network or the running access point asks for WebREPL."""
    if status.get("state") == "connected":
        for net in cfg.networks():
            if net["ssid"] == status.get("ssid") and net.get("enables_webrepl"):
                return True
    if status.get("ap_active"):
        ap = cfg.get("access_point") or {}
        if ap.get("enables_webrepl"):
            return True
    return False


def webrepl(cfg, status, module=None):
    """Starts WebREPL if it is wanted and a password is configured. Returns "started",
    "no_password", "unavailable" or None (not wanted)."""
    if not wants_webrepl(cfg, status):
        return None
    password = cfg.webrepl_password()
    if not password:
        log.warning("policy: WebREPL wanted but no webrepl_password is set: not started")
        return "no_password"
    if module is None:
        try:
            import webrepl as module
        except ImportError:
            log.warning("policy: WebREPL wanted but this firmware has no webrepl module")
            return "unavailable"
    try:
        module.start(password=password)
    except (OSError, ValueError) as e:
        log.error("policy: WebREPL did not start: %s", e)
        return "unavailable"
    return "started"


def wants_improv(cfg):
    """Whether this device speaks Improv on its serial console: the configuration's "improv"
    key, true or false; unset, on an ESP32 only."""
    on = cfg.get("improv")
    if on is None:
        return sys.platform == "esp32"
    if not isinstance(on, bool):
        log.error("improv: the improv key must be true or false, not %r: off", on)
        return False
    return on
