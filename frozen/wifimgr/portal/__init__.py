# The provisioning portal: the page, its JSON API and captive-portal detection, served by
# portal.http on asyncio. It talks to the device only through the Manager API (wifimgr.manager):
# status(), scan_results(), rescan(), try_credentials(), finish_provisioning(), known_networks(),
# forget(), reorder(), ota_update(), data, device_name, hostname.
#
# State-changing requests carry the session token the page got from GET /api/session (header
# X-Token, or a `token` field): a page on another site can neither read it nor guess it.
# Passwords go to the manager and nowhere else: never into a response, a log or an error.

import json
import time

from micropython import const

from .http import HTTPError, Response, Server

MAX_PROBES = const(12)
_PENDING_MS = const(5000)
_JSON = "application/json"
_NO_STORE = ("Cache-Control", "no-store")

# Captive-portal probes: path -> the system that sends it. Each is answered with a redirect to
# the portal, which is what makes that system open its login sheet on the portal page.
PROBES = {
    "/generate_204": "android",
    "/gen_204": "android",
    "/hotspot-detect.html": "apple",
    "/library/test/success.html": "apple",
    "/connecttest.txt": "windows",
    "/ncsi.txt": "windows",
    "/redirect": "windows",
    "/success.txt": "firefox",
    "/canonical.html": "firefox",
}


def _load_page():
    # The page, gzipped by the build (tools/portal/mkpage.py writes _page.py next to this file).
    try:
        from . import _page

        return _page.GZIP, _page.ETAG
    except ImportError:
        raise ImportError("wifimgr.portal: the page is not built (run make, or mkpage.py)")


# --- request bodies -------------------------------------------------------------------------


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
    """Percent-decodes form-encoded bytes into str; HTTPError naming `field` unless UTF-8."""
    try:
        return unquote_bytes(raw, field).decode()
    except UnicodeError:
        raise HTTPError(400, "%s is not valid UTF-8" % field, field)


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
        self.json = ctype == _JSON
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
        return value

    def flag(self, name):
        value = self.doc.get(name, False)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "on", "yes"):
            return True
        if isinstance(value, str) and value.lower() in ("", "0", "false", "off", "no"):
            return False
        raise HTTPError(400, "%s must be true or false" % name, name)


def _json(obj, status=200):
    return Response(status, json.dumps(obj), _JSON, [_NO_STORE])


def _json_error(status, message, field):
    doc = {"error": message}
    if field:
        doc["field"] = field
    return Response(status, json.dumps(doc), _JSON, [_NO_STORE])


def _jsonable(value):
    # wifimgr.data holds whatever the application put there: show it, never fail on it.
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def _bars(rssi):
    return 4 if rssi >= -55 else 3 if rssi >= -67 else 2 if rssi >= -78 else 1


def networks(records):
    """The scan as the page shows it: one entry per SSID, its strongest access point, strongest
    first; hidden networks (no name) left out."""
    best = {}
    for r in records:
        ssid = r.get("ssid")
        if not ssid or r.get("hidden"):
            continue
        seen = best.get(ssid)
        if seen is None:
            best[ssid] = {
                "ssid": ssid,
                "rssi": r["rssi"],
                "channel": r["channel"],
                "secure": bool(r["secure"]),
                "bars": _bars(r["rssi"]),
                "aps": 1,
            }
        else:
            seen["aps"] += 1
            if r["rssi"] > seen["rssi"]:
                seen["rssi"] = r["rssi"]
                seen["channel"] = r["channel"]
                seen["bars"] = _bars(r["rssi"])
            seen["secure"] = seen["secure"] or bool(r["secure"])
    out = list(best.values())
    out.sort(key=lambda n: (-n["rssi"], n["ssid"]))
    return out


def _host_of(header):
    host = header.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    colon = host.find(":")
    return host if colon < 0 else host[:colon]


class Portal:
    """The captive portal: `Portal(manager, host, port)`, then `start()` inside a running
    asyncio loop (returns a task; await it to know the socket is bound) and `stop()`.

    `url`: the portal's own address for redirects (default: host:port, or the AP address when
    listening on every interface). The idle timeout belongs to the manager
    (`portal_idle_timeout_s`): every API call the page makes counts as activity there.
    """

    def __init__(
        self,
        manager,
        host="0.0.0.0",
        port=80,
        max_connections=4,
        url=None,
    ):
        self.manager = manager
        self.host = host
        self.port = port
        self._url = url
        self.server = Server(self.handle, host, port, max_connections, _json_error)
        self.token = _token()
        self.probes = []
        self._started = time.ticks_ms()
        self._page = None
        self._pending = None  # (ssid, trial before the request, ticks): see _trial()

    # --- life ------------------------------------------------------------------------------

    def start(self):
        import asyncio

        self._page = _load_page()
        _check_bind(self.host, self.port)
        return asyncio.create_task(self.server.start())

    def stop(self):
        self.server.stop()

    def url(self):
        if self._url:
            return self._url
        port = "" if self.port == 80 else ":%d" % self.port
        host = self.host
        if host in ("0.0.0.0", ""):
            host = self.manager.status().get("ap_ip") or "192.168.4.1"
        return "http://%s%s/" % (host, port)

    # --- dispatch --------------------------------------------------------------------------

    def handle(self, req):
        path = req.path
        kind = PROBES.get(path)
        route = _ROUTES.get(path)
        if kind is None and (route is None or route[1] == "page") and path[:5] != "/api/":
            # a page of another site: the captive DNS sent it here; the API is ours anywhere
            host = _host_of(req.header("host"))
            own = self._own_hosts()
            if host and own is not None and host not in own:
                kind = "other"
        if kind is not None:
            return self._probe(kind, req)
        if route is None:
            if path.startswith("/api/"):
                raise HTTPError(404, "no API endpoint %s" % path[:64])
            return self._redirect()  # any other page of ours: the portal
        method, name = route
        if req.method != method and not (req.method == "HEAD" and method == "GET"):
            raise HTTPError(405, "%s takes %s" % (path, method), None, [("Allow", method)])
        if method == "POST":
            fields = Fields(req)
            self._check_token(req, fields)
            return getattr(self, name)(fields)
        return getattr(self, name)(req)

    def _own_hosts(self):
        st = self.manager.status()
        if not st.get("ap_active"):
            return None  # no captive DNS: every name that reaches us is a name for us
        own = ["localhost", "127.0.0.1", self.host]
        for key in ("ap_ip", "ip"):
            if st.get(key):
                own.append(st[key])
        name = self.manager.hostname
        if name:
            own.append(name.lower())
            own.append(name.lower() + ".local")
        if self._url:
            own.append(_host_of(self._url.split("//")[-1].split("/")[0]))
        return own

    def _probe(self, kind, req):
        host = req.header("host")[:64]
        path = req.path[:64]
        now = time.ticks_diff(time.ticks_ms(), self._started) // 1000
        for p in self.probes:
            if p["os"] == kind and p["host"] == host and p["path"] == path:
                p["count"] += 1
                p["last_s"] = now
                break
        else:
            if len(self.probes) >= MAX_PROBES:
                self.probes.pop(0)
            self.probes.append(
                {"os": kind, "host": host, "path": path, "count": 1, "first_s": now, "last_s": now}
            )
        return self._redirect()

    def _redirect(self):
        url = self.url()
        body = '<!doctype html><title>WiFi setup</title><a href="%s">WiFi setup</a>' % url
        return Response(302, body, "text/html; charset=utf-8", [("Location", url), _NO_STORE])

    def _check_token(self, req, fields):
        given = req.header("x-token") or fields.get("token")
        if not isinstance(given, str) or not _same(given, self.token):
            raise HTTPError(403, "missing or wrong session token: reload the page")

    # --- GET -------------------------------------------------------------------------------

    def page(self, req):
        gz, etag = self._page
        headers = [
            ("ETag", etag),
            ("Cache-Control", "no-cache"),
            ("Vary", "Accept-Encoding"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            (
                "Content-Security-Policy",
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline';"
                " connect-src 'self'; img-src data:; form-action 'self'; frame-ancestors 'none'",
            ),
        ]
        gzipped = "gzip" in _codings(req.header("accept-encoding"))
        if not gzipped:
            etag = etag[:-1] + '-identity"'  # another representation, another tag
            headers[0] = ("ETag", etag)
        if req.header("if-none-match") == etag:
            return Response(304, b"", "text/html; charset=utf-8", headers)
        if not gzipped:
            return Response(200, _gunzip(gz), "text/html; charset=utf-8", headers)
        headers.append(("Content-Encoding", "gzip"))
        return Response(200, gz, "text/html; charset=utf-8", headers)

    def session(self, req):
        return _json({"token": self.token})

    def scan(self, req):
        st = self.manager.status()
        return _json(
            {
                "networks": networks(self.manager.scan_results()),
                "scanning": st.get("state") == "scanning",
            }
        )

    def status(self, req):
        st = dict(self.manager.status())
        st["trial"] = self._trial(st.get("trial"))
        stats = dict(self.server.stats)
        stats["uptime_s"] = time.ticks_diff(time.ticks_ms(), self._started) // 1000
        stats["probes"] = self.probes
        st["portal"] = stats
        return _json(st)

    def captive(self, req):
        # RFC 8908, the Captive Portal API (the URI the AP's DHCP offers as option 114, RFC
        # 8910): captive until the device has joined a network.
        st = self.manager.status()
        doc = {"captive": st.get("state") != "connected", "user-portal-url": self.url()}
        return Response(200, json.dumps(doc), "application/captive+json", [_NO_STORE])

    def data(self, req):
        data = self.manager.data
        return _json({str(k): _jsonable(v) for k, v in data.items()})

    def known(self, req):
        return _json({"networks": list(self.manager.known_networks())})

    # --- POST ------------------------------------------------------------------------------

    def connect(self, f):
        ssid = f.text("ssid")
        password = f.text("password", False)
        hidden = f.flag("hidden")
        if not 1 <= len(ssid.encode()) <= 32:
            raise HTTPError(400, "ssid must be 1 to 32 bytes of UTF-8", "ssid")
        if password and not 8 <= len(password) <= 63:
            raise HTTPError(
                400, "password must be empty (open network) or 8 to 63 characters", "password"
            )
        try:
            self.manager.try_credentials(ssid, password, hidden)
        except (ValueError, OSError) as e:
            msg = str(e)
            if password and password in msg:
                msg = "the device refused these credentials"
            raise HTTPError(400 if isinstance(e, ValueError) else 409, msg)
        self._pending = (ssid, self.manager.status().get("trial"), time.ticks_ms())
        import asyncio

        asyncio.create_task(self._watch_trial())
        return _json({"trying": ssid}, 202)

    def _trial(self, trial):
        # try_credentials() returns before the state machine has taken the request, so for a
        # moment status() still shows the previous trial (the wrong password just corrected,
        # say). Until the machine reports this one, the page is told "trying".
        p = self._pending
        if p is None:
            return trial
        if trial != p[1] or time.ticks_diff(time.ticks_ms(), p[2]) > _PENDING_MS:
            self._pending = None
            return trial
        return {"ssid": p[0], "state": "trying", "reason": None, "ip": None}

    async def _watch_trial(self):
        # Catches the "trying" state even when the outcome arrives between two polls.
        import asyncio

        while self._pending is not None:
            trial = self.manager.status().get("trial")
            if trial is not None and trial.get("state") == "trying":
                self._pending = None
                break
            self._trial(trial)
            await asyncio.sleep_ms(20)

    def finish(self, f):
        self.manager.finish_provisioning()
        return _json({"finished": True})

    def rescan(self, f):
        self.manager.rescan()
        return _json({"scanning": True}, 202)

    def forget(self, f):
        ssid = f.text("ssid")
        if not self.manager.forget(ssid):
            raise HTTPError(404, "no known network with that name", "ssid")
        return _json({"forgotten": ssid})

    def order(self, f):
        order = f.get("order")
        if order is None:
            order = f.get("ssid", [])
        if isinstance(order, str):
            order = [order]
        if not isinstance(order, list) or not all(isinstance(s, str) for s in order):
            raise HTTPError(400, "order must be a list of network names", "order")
        try:
            self.manager.reorder(order)
        except ValueError as e:
            raise HTTPError(400, "order: %s" % e, "order")
        return _json({"networks": list(self.manager.known_networks())})

    def ota(self, f):
        url = f.text("url").strip()
        if len(url) > 256:
            raise HTTPError(400, "url must be at most 256 characters", "url")
        try:
            self.manager.ota_update(url)
        except ValueError as e:
            raise HTTPError(400, str(e), "url")
        except OSError as e:
            raise HTTPError(409, "update not started: %s" % e, "url")
        return _json({"updating": url}, 202)


# path -> (method, Portal method name)
_ROUTES = {
    "/": ("GET", "page"),
    "/index.html": ("GET", "page"),
    "/api/session": ("GET", "session"),
    "/api/scan": ("GET", "scan"),
    "/api/status": ("GET", "status"),
    "/api/captive": ("GET", "captive"),
    "/data": ("GET", "data"),
    "/api/networks": ("GET", "known"),
    "/api/connect": ("POST", "connect"),
    "/api/finish": ("POST", "finish"),
    "/api/rescan": ("POST", "rescan"),
    "/api/forget": ("POST", "forget"),
    "/api/networks/order": ("POST", "order"),
    "/api/ota": ("POST", "ota"),
}


def _codings(header):
    out = []
    for part in header.lower().split(","):
        bits = part.split(";")
        name = bits[0].strip()
        q = [b.strip() for b in bits[1:] if b.strip().startswith("q=")]
        if q and q[0][2:].strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        out.append(name)
    return out


def _gunzip(gz):
    import io

    import deflate

    with deflate.DeflateIO(io.BytesIO(gz), deflate.GZIP) as d:
        return d.read()


def _check_bind(host, port):
    # The server binds inside a task; a port already taken or an address not ours should
    # fail here, where the caller of start() sees it, not later in the background.
    import socket

    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(socket.getaddrinfo(host, port)[0][-1])
    except OSError as e:
        raise OSError("portal cannot listen on %s:%d: %s" % (host, port, e))
    finally:
        s.close()


def _token():
    import os

    return "".join("%02x" % b for b in os.urandom(16))


def _same(a, b):
    # compares in time independent of where the strings differ
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= ord(a[i]) ^ ord(b[i])
    return diff == 0
