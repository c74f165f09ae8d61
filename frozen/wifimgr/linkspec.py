"""What both Link backends share: the policy's defaults and ranges and the argument checks.

`wifimgr.link.Link` (the Python twin) and `_wifimgr.Link` (C, wifimgr_link.c) both call these, so
the two word every error alike and the C Link never imports the twin. The C Link calls them
through wifimgr.call_dropped(): with the C Link, nothing keeps this module between its uses.
"""

from micropython import const

MAX_CANDIDATES = const(8)  # what the state machine holds (core/link.h WM_LINK_MAX_CANDIDATES)


def max_candidates():
    """MAX_CANDIDATES, for a caller that does not keep this module (wifimgr.policy)."""
    return MAX_CANDIDATES


AP_POLICIES = ("always", "fallback", "never")

POLICY_DEFAULTS = {
    "ap_policy": "fallback",
    "ap_config": None,
    "retries": 1,
    "backoff_min_ms": 2000,
    "backoff_max_ms": 300000,
    "rescan_ms": 15000,
    "min_rssi": -90,
    "connect_timeout_ms": 15000,
    "dhcp_timeout_ms": 10000,
    "linger_ms": 120000,
    "probe_ms": 400,
    "poll_ms": 100,
}
# (key, lowest, highest) of the integer keys.
_INT_RANGES = (
    ("retries", 1, 100),
    ("backoff_min_ms", 100, 3600000),
    ("backoff_max_ms", 100, 86400000),
    ("rescan_ms", 1000, 3600000),
    ("min_rssi", -100, 0),
    ("connect_timeout_ms", 1000, 120000),
    ("dhcp_timeout_ms", 1000, 120000),
    ("linger_ms", 0, 3600000),
    ("probe_ms", 0, 60000),
    ("poll_ms", 10, 10000),
)


def check_utf8(data, field):
    """`data` (bytes) as str; ValueError naming `field` unless it is strict UTF-8 (RFC 3629:
    no overlong forms, no surrogates U+D800..U+DFFF, nothing above U+10FFFF). MicroPython's
    own decode() lets surrogates through, and a str holding one encodes to those bytes."""
    i, n = 0, len(data)
    while i < n:
        c = data[i]
        if c < 0x80:
            i += 1
            continue
        if 0xC2 <= c <= 0xDF:
            k, low, high = 1, 0x80, 0xBF
        elif 0xE0 <= c <= 0xEF:
            k = 2
            low = 0xA0 if c == 0xE0 else 0x80
            high = 0x9F if c == 0xED else 0xBF  # ED A0..BF: a surrogate
        elif 0xF0 <= c <= 0xF4:
            k = 3
            low = 0x90 if c == 0xF0 else 0x80
            high = 0x8F if c == 0xF4 else 0xBF
        else:
            k = 0
        if not k or i + k >= n or not low <= data[i + 1] <= high:
            raise ValueError("%s: is not valid UTF-8 (byte %d)" % (field, i))
        for j in range(i + 2, i + k + 1):
            if not 0x80 <= data[j] <= 0xBF:
                raise ValueError("%s: is not valid UTF-8 (byte %d)" % (field, i))
        i += k + 1
    return data.decode()


def check_text(value, field, high):
    """`value` as str: a string of valid UTF-8 of at most `high` bytes; ValueError naming
    `field` otherwise. Every string from a user goes through this (or the checks below)."""
    if isinstance(value, (bytes, bytearray)):
        return check_utf8(bytes(value), field)
    if not isinstance(value, str):
        raise ValueError("%s: must be a string, not %s" % (field, type(value).__name__))
    data = value.encode()
    if len(data) > high:
        raise ValueError("%s: must be at most %d bytes, not %d" % (field, high, len(data)))
    check_utf8(data, field)
    return value


def check_ssid(ssid, field="ssid"):
    """Returns the SSID as bytes; ValueError naming `field` unless it is 1 to 32 bytes. A str
    must be valid UTF-8; bytes are taken as the octets the air carries."""
    if isinstance(ssid, str):
        ssid = check_text(ssid, field, 255).encode()
    if not isinstance(ssid, (bytes, bytearray)):
        raise ValueError("%s: must be a string, not %s" % (field, type(ssid).__name__))
    if not 1 <= len(ssid) <= 32:
        raise ValueError("%s: must be 1 to 32 bytes, not %d" % (field, len(ssid)))
    return bytes(ssid)


_HEX = "0123456789abcdefABCDEF"


def check_password(password, field="password"):
    """The WPA2 passphrase as str, "" for an open network; ValueError naming `field` unless it
    is 8 to 63 printable ASCII characters or exactly 64 hex digits (IEEE 802.11i, the PSK
    itself)."""
    if password is None:
        return ""
    password = check_text(password, field, 255)
    n = len(password)
    if not password:
        return password
    if n == 64 and all(c in _HEX for c in password):
        return password
    if not 8 <= n <= 63 or not all(" " <= c <= "~" for c in password):
        raise ValueError(
            "%s: must be empty (open network) or 8 to 63 printable ASCII characters (or 64 hex"
            " digits)" % field
        )
    return password


def check_bssid(bssid, field="bssid"):
    if bssid is None:
        return None
    if not isinstance(bssid, (bytes, bytearray)) or len(bssid) != 6:
        raise ValueError("%s must be 6 bytes or None" % field)
    return bytes(bssid)


def check_channel(channel, field="channel"):
    if not isinstance(channel, int) or isinstance(channel, bool) or not 1 <= channel <= 14:
        raise ValueError("%s must be 1 to 14" % field)
    return channel


def check_candidates(candidates):
    """Returns a list of (ssid bytes, password, hidden, bssid) from the user's dicts."""
    if not isinstance(candidates, (list, tuple)):
        raise ValueError("candidates must be a list")
    if len(candidates) > MAX_CANDIDATES:
        raise ValueError("candidates: at most %d networks" % MAX_CANDIDATES)
    out = []
    for i, cand in enumerate(candidates):
        where = "candidates[%d]." % i
        if not isinstance(cand, dict):
            raise ValueError("candidates[%d] must be a dict" % i)
        for key in cand:
            if key not in ("ssid", "password", "hidden", "bssid"):
                raise ValueError(where + "%s: unknown key" % key)
        ssid = check_ssid(cand.get("ssid"), where + "ssid")
        password = check_password(cand.get("password"), where + "password")
        hidden = cand.get("hidden", False)
        if not isinstance(hidden, bool):
            raise ValueError(where + "hidden must be True or False")
        bssid = check_bssid(cand.get("bssid"), where + "bssid")
        out.append((ssid, password, hidden, bssid))
    return out


def check_policy(policy):
    """Returns the policy with defaults filled in; ValueError naming the first bad key."""
    if policy is None:
        policy = {}
    if not isinstance(policy, dict):
        raise ValueError("policy must be a dict")
    for key in policy:
        if key not in POLICY_DEFAULTS:
            raise ValueError("policy.%s: unknown key" % key)
    out = dict(POLICY_DEFAULTS)
    out.update(policy)
    if out["ap_policy"] not in AP_POLICIES:
        raise ValueError(
            "policy.ap_policy must be one of %s, not %r"
            % (", ".join(AP_POLICIES), out["ap_policy"])
        )
    if out["ap_config"] is not None and not isinstance(out["ap_config"], dict):
        raise ValueError("policy.ap_config must be a dict")
    for key, low, high in _INT_RANGES:
        value = out[key]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError("policy.%s must be an integer from %d to %d" % (key, low, high))
    if out["backoff_max_ms"] < out["backoff_min_ms"]:
        raise ValueError("policy.backoff_max_ms must not be below backoff_min_ms")
    if 0 < out["probe_ms"] < 100:
        raise ValueError("policy.probe_ms must be 0 (off) or from 100 to 60000")
    return out


def parse_mac(text, field):
    if isinstance(text, str):
        parts = text.split(":")
        try:
            if len(parts) != 6:
                raise ValueError
            return bytes(int(p, 16) for p in parts)
        except ValueError:
            raise ValueError("%s must be 6 bytes or aa:bb:cc:dd:ee:ff" % field)
    return check_bssid(text, field)


def check_ssid_text(ssid, field="ssid"):
    """The SSID as str: valid UTF-8 (check_text), 1 to 32 bytes (check_ssid); what a
    configuration holds."""
    return check_ssid(check_text(ssid, field, 255), field).decode()


def check_hint(ssid, bssid, channel):
    """Link.remember()'s arguments as (ssid bytes, bssid bytes, channel)."""
    ssid = check_ssid(ssid)
    bssid = parse_mac(bssid, "bssid")
    if bssid is None:
        raise ValueError("bssid must be 6 bytes or aa:bb:cc:dd:ee:ff")
    return ssid, bssid, check_channel(channel)


def check_trial(ssid, password, hidden):
    """Link.try_credentials()'s arguments as (ssid bytes, password)."""
    ssid = check_ssid(ssid)
    password = check_password(password)
    if not isinstance(hidden, bool):
        raise ValueError("hidden must be True or False")
    return ssid, password
