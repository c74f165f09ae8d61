# Request bodies for the portal's POST routes: a form (application/x-www-form-urlencoded) or a
# JSON object, read into Fields whose checks name the field. Loaded for each such request
# (wifimgr.call_dropped from portal.api) and dropped after it.

import json

from micropython import const

from wifimgr import call_dropped

from .http import HTTPError

_MAX_TEXT_BYTES = const(256)  # of any one string field


def _unhex(c):
    if 48 <= c <= 57:
        return c - 48
    c |= 32
    if 97 <= c <= 102:
        return c - 87
    return -1


def unquote_bytes(raw, field):
    """Percent-decodes form-encoded bytes (+ is a space); HTTPError naming `field`."""
    if b"%" not in raw and b"+" not in raw:
        return bytes(raw)
    out = bytearray()
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == 37:  # %
            hi = _unhex(raw[i + 1]) if i + 2 < n else -1
            lo = _unhex(raw[i + 2]) if i + 2 < n else -1
            if hi < 0 or lo < 0:
                raise HTTPError(400, "%s: malformed percent-encoding" % field, field)
            out.append(hi * 16 + lo)
            i += 3
            continue
        out.append(32 if c == 43 else c)
        i += 1
    return bytes(out)


def unquote(raw, field):
    """Percent-decodes form-encoded bytes into str; HTTPError naming `field` unless strict
    UTF-8."""
    try:
        return call_dropped("linkspec", "check_utf8", unquote_bytes(raw, field), field)
    except ValueError as e:
        raise HTTPError(400, str(e), field)


def parse_form(body):
    """application/x-www-form-urlencoded -> dict of field -> list of str."""
    fields = {}
    if not body:
        return fields
    for pair in body.split(b"&"):
        if not pair:
            continue
        eq = pair.find(b"=")
        name = unquote(pair if eq < 0 else pair[:eq], "field name")
        value = unquote(b"" if eq < 0 else pair[eq + 1 :], name)
        fields.setdefault(name, []).append(value)
    return fields


class Fields:
    """A request's fields from a JSON object or a form, with checks that name the field."""

    def __init__(self, req):
        ctype = req.header("content-type").split(";")[0].strip().lower()
        self.json = ctype == "application/json"
        if self.json:
            try:
                doc = json.loads(req.body.decode())
            except UnicodeError:
                raise HTTPError(400, "body is not valid UTF-8")
            except ValueError:
                raise HTTPError(400, "body is not valid JSON")
            if not isinstance(doc, dict):
                raise HTTPError(400, "body must be a JSON object")
            self.doc = doc
        elif ctype in ("application/x-www-form-urlencoded", "") or ctype.startswith("text/"):
            form = parse_form(req.body)
            self.doc = {k: (v[0] if len(v) == 1 else v) for k, v in form.items()}
        else:
            raise HTTPError(415, "send application/x-www-form-urlencoded or application/json")

    def get(self, name, default=None):
        return self.doc.get(name, default)

    def text(self, name, required=True):
        value = self.doc.get(name)
        if value is None:
            if required:
                raise HTTPError(400, "%s is missing" % name, name)
            return ""
        if not isinstance(value, str):
            raise HTTPError(400, "%s must be a single string" % name, name)
        return self.check(value, name)

    def check(self, value, field):
        """`value` as every string a client sends must be: valid UTF-8 (no lone surrogate), at
        most _MAX_TEXT_BYTES; else HTTPError naming `field`."""
        try:
            return call_dropped("linkspec", "check_text", value, field, _MAX_TEXT_BYTES)
        except ValueError as e:
            raise HTTPError(400, str(e), field)

    def flag(self, name):
        value = self.doc.get(name, False)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "on", "yes"):
            return True
        if isinstance(value, str) and value.lower() in ("", "0", "false", "off", "no"):
            return False
        raise HTTPError(400, "%s must be true or false" % name, name)


def text(value, field):
    """Every string a client sends: valid UTF-8 (no lone surrogate), at most _MAX_TEXT_BYTES;
    else HTTPError naming `field`."""
    try:
        return call_dropped("linkspec", "check_text", value, field, _MAX_TEXT_BYTES)
    except ValueError as e:
        raise HTTPError(400, str(e), field)
