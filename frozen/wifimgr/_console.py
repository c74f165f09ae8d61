"""The manager's lines on the console at INFO (wifimgr.log_level(20)), one per change of the
link's state: loaded for a change only when the log level lets them through (wifimgr is quiet
by default), and dropped after (wifimgr.call_dropped())."""

from wifimgr import _log as log

_BUSY = ("connecting", "getting_ip", "connected")  # states in which the link names a network
# How the log says an attempt on a network ended, by the link's status()["reason"].
_FAILED = (
    ("wrong_password", "%s refused the password"),
    ("not_found", "%s is not on the air"),
    ("no_ip", "%s gave no address"),
    ("link_lost", "lost the link to %s"),
)


def state_lines(s, prev, ap_ssid):
    """Logs what changed from the link status `prev` to `s`; `ap_ssid`: the access point's."""
    state, ssid, reason = s["state"], s["ssid"], s["reason"]
    was, left = prev["state"], prev["ssid"]
    if reason and left and was in _BUSY and (reason != prev.get("reason") or ssid != left):
        # The attempt on `left` ended: say why before what comes next.
        said = [text for r, text in _FAILED if r == reason]
        log.info(said[0] if said else "%s failed", left)
    if state != was or ssid != left:
        if state == "connected":
            ch = s["channel"]
            log.info("connected to %s: %s, %s dBm%s", ssid, s["ip"], s["rssi"],
                     ", channel %s" % ch if ch is not None else "")  # fmt: skip
        elif state in ("connecting", "getting_ip"):
            log.info("%s %s", "joining" if state == "connecting" else "asking DHCP of", ssid)
        elif state == "waiting" and reason in (None, "not_found"):
            log.info("none of the known networks is on the air")
        elif state == "waiting":
            log.info("no known network joined (last: %s): trying again later", reason)
    if s["ap_active"] != prev["ap_active"]:
        log.info("access point %s %s", ap_ssid, "up" if s["ap_active"] else "down")
