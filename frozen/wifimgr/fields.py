"""The configuration's single values: their checks and limits, resident beside wifimgr.config,
which re-exports them, and read by wifimgr._schema (the whole document's checks, loaded only
for a check) without importing wifimgr.config."""

from micropython import const

from wifimgr import call_dropped

SCHEMA = const(3)
START_POLICIES = ("always", "fallback", "never")
MAX_NETWORKS = const(16)


class ConfigError(ValueError):
    """A configuration problem; the message names the file or key and what is wrong, `key`
    the key (None when the message names a file)."""

    def __init__(self, message, key=None):
        super().__init__(message)
        self.key = key


def _err(key, problem):
    raise ConfigError("%s: %s" % (key, problem), key)


def check_ssid(ssid, key="ssid"):
    """The SSID as str; ConfigError unless it is 1 to 32 bytes of valid UTF-8 (the checks and
    their wording are wifimgr.linkspec's)."""
    try:
        return call_dropped("linkspec", "check_ssid_text", ssid, key)
    except ValueError as e:
        raise ConfigError(str(e), key)


def check_password(password, key="password"):
    """The WPA2 passphrase as str ("" for an open network); ConfigError unless
    wifimgr.linkspec.check_password() takes it."""
    try:
        return call_dropped("linkspec", "check_password", password, key)
    except ValueError as e:
        raise ConfigError(str(e), key)


def check_url(value, key="ota_url"):
    # Whether plain http:// may be used for an update is wifimgr.ota's decision (only with a
    # SHA-256 from elsewhere); here only the form.
    if value is None:
        return
    if not isinstance(value, str) or not (
        value.startswith("https://")
        and len(value) > 8
        or value.startswith("http://")
        and len(value) > 7
    ):
        _err(key, "must be an https:// or http:// URL or null, not %r" % (safe_url(value),))


def safe_url(url):
    """url without the `user:password@` of its authority: the form every log line and status
    shows (the one helper for it)."""
    if not isinstance(url, str):
        return url
    start = url.find("://") + 3
    if start < 3:
        return url
    end = len(url)
    for c in "/?#":
        i = url.find(c, start)
        if 0 <= i < end:
            end = i
    at = url.rfind("@", start, end)
    return url if at < 0 else url[:start] + url[at + 1 :]


def check_pin(value, key="ota_pin"):
    """A certificate's SHA-256 as hex, colons between the bytes allowed ("ab:cd:..." as
    `openssl x509 -fingerprint -sha256` prints it); returns the 64 hex digits, lower case."""
    if not isinstance(value, str):
        _err(key, "must be a string of 64 hex digits, not %s" % type(value).__name__)
    digits = value.replace(":", "").lower()
    if len(digits) != 64 or any(c not in "0123456789abcdef" for c in digits):
        _err(key, "must be the SHA-256 of a certificate as 64 hex digits, not %r" % value)
    return digits
