# The provisioning portal: the page, its JSON API and captive-portal detection, served by
# portal.http on asyncio. It talks to the device only through the Manager API (wifimgr.manager):
# status(), scan_results(), rescan(), try_credentials(), finish_provisioning(), known_networks(),
# forget(), reorder(), ota_update(), leave_safe_mode(), is_setup_key(), data, device_name,
# hostname, provisioned, setup_key.
#
# Who may do what (README, "Who can do what"): only requests for the device itself are served
# (Host one of its own names; anything else is sent to the portal, never to the API), and a
# state-changing request must come from the device's own page (Origin or Referer, when the
# browser sends one) within a session: the HttpOnly, SameSite=Strict cookie GET /api/session
# sets, and the token it returns in the X-Token header. All of that is checked from the request
# head, before its body is read. Changing a provisioned device (joining another network,
# forgetting or reordering networks, closing the access point) and every firmware update also
# need a session unlocked with the setup key (POST /api/unlock), the device's proof of
# possession; whoever first provisions an unprovisioned device is given it once, on the success
# page. Passwords and the setup key go to the manager and nowhere else: never into a response
# (but that one), a log or an error.

import json
import time

from micropython import const

from wifimgr import linkspec
from wifimgr.config import safe_url
from wifimgr.platform import AP_DEFAULT_IP
from wifimgr.store import same as _same

from .http import HTTPError, Response, Server

MAX_PROBES = const(12)
MAX_SESSIONS = const(8)
MAX_TEXT_BYTES = const(256)  # of any one string field
UNLOCK_PAUSE_MS = const(1000)  # after a wrong setup key, that session's unlocking waits
_COOKIE = "wm_sid"
_RESTART_MS = const(3000)  # from leaving safe mode to the restart, for the page to say so
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
    # The page, gzipped by the build (tools/portal/mkpage.py): _page.GZIP, frozen bytes that
    # stay in flash, or (as mip installs it) the file _page.FILE beside the module, streamed
    # from the filesystem so that it never sits on the heap. (gz: bytes or a function that
    # opens them, its length, the ETag, the size unzipped, the window it was made with)
    try:
        from . import _page
    except ImportError:
        raise ImportError("wifimgr.portal: the page is not built (run make, or mkpage.py)")
    if _page.FILE is None:
        return _page.GZIP, len(_page.GZIP), _page.ETAG, _page.SIZE, _page.WBITS
    import os

    path = _page.__file__.rsplit("/", 1)[0] + "/" + _page.FILE
    return lambda: open(path, "rb"), os.stat(path)[6], _page.ETAG, _page.SIZE, _page.WBITS


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
    """Percent-decodes form-encoded bytes into str; HTTPError naming `field` unless strict
    UTF-8."""
    try:
        return linkspec.check_utf8(unquote_bytes(raw, field), field)
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
        return _text(value, name)

    def flag(self, name):
        value = self.doc.get(name, False)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "on", "yes"):
            return True
        if isinstance(value, str) and value.lower() in ("", "0", "false", "off", "no"):
            return False
        raise HTTPError(400, "%s must be true or false" % name, name)


def _text(value, field):
    # Every string a client sends: valid UTF-8 (no lone surrogate), at most MAX_TEXT_BYTES.
    try:
        return linkspec.check_text(value, field, MAX_TEXT_BYTES)
    except ValueError as e:
        raise HTTPError(400, str(e), field)


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


def _origin_host(url):
    # The host of an Origin or Referer value ("http://host:port/path"); "" when it has none.
    if url.startswith("http://") or url.startswith("https://"):
        return _host_of(url.split("//", 1)[1].split("/", 1)[0])
    return ""


def _cookie(header, name):
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None


class _Session:
    def __init__(self, now):
        self.sid = _token()
        self.token = _token()
        self.unlocked = False
        self.used = now
        self.unlock_after = None  # ticks before which it tries no key (after a wrong one)


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
        self.server = Server(
            self.handle, host, port, max_connections, _json_error, check_head=self.check_head
        )
        self.sessions = []
        self.probes = []
        self._reveal = None  # (session, ssid): who gets the setup key once that trial joins
        self._started = time.ticks_ms()
        self._page = None

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
            host = self.manager.status().get("ap_ip") or AP_DEFAULT_IP
        return "http://%s%s/" % (host, port)

    # --- dispatch --------------------------------------------------------------------------

    def check_head(self, req):
        """From the head alone: the redirect for a probe or a name not ours, or the checks of
        method, origin, session and setup key (HTTPError); None to go on to handle()."""
        path = req.path
        kind = PROBES.get(path)
        if kind is None and not self._is_own(req.header("host")):
            kind = "other"  # another site's name: the captive DNS or a rebinding sent it here
        if kind is not None:
            return self._probe(kind, req)
        route = _ROUTES.get(path)
        if route is None:
            if path.startswith("/api/"):
                raise HTTPError(404, "no API endpoint %s" % path[:64])
            return self._redirect()  # any other page of ours: the portal
        method, name, need = route
        if req.method != method and not (req.method == "HEAD" and method == "GET"):
            raise HTTPError(405, "%s takes %s" % (path, method), None, [("Allow", method)])
        req.route = name
        req.session = self._session_of(req)
        if method == "POST":
            self._check_origin(req)
            sess = req.session
            if sess is None or not _same(req.header("x-token"), sess.token):
                raise HTTPError(403, "missing or wrong session token: reload the page")
        if need == "key" or (need == "provisioned" and self.manager.provisioned):
            if req.session is None or not req.session.unlocked:
                raise HTTPError(403, "this needs the device's setup key: unlock first", "key")
        return None

    def handle(self, req):
        if req.method == "POST":
            return getattr(self, req.route)(Fields(req), req.session)
        return getattr(self, req.route)(req)

    def _own_hosts(self):
        st = self.manager.status()
        own = []
        if self.host not in ("0.0.0.0", ""):
            own.append(self.host)
        if self.host.startswith("127."):
            own.append("localhost")  # served on loopback (make sim): the machine's own name
        for key in ("ap_ip", "ip"):
            if st.get(key):
                own.append(st[key])
        name = self.manager.hostname
        if name:
            own.append(name.lower())
            own.append(name.lower() + ".local")
        if self._url:
            own.append(_origin_host(self._url))
        return own

    def _is_own(self, host):
        # A request without Host (HTTP/1.0) comes from no browser: taken as ours.
        host = _host_of(host)
        return not host or host in self._own_hosts()

    def _check_origin(self, req):
        # What a browser says of the page that sent a state-changing request: ours or refused.
        origin = req.header("origin") or req.header("referer")
        if origin and not (_origin_host(origin) and self._is_own(_origin_host(origin))):
            raise HTTPError(403, "request from another site's page refused")

    def _session_of(self, req):
        sid = _cookie(req.header("cookie"), _COOKIE)
        for sess in self.sessions:
            if sid is not None and _same(sid, sess.sid):
                sess.used = time.ticks_ms()
                return sess
        return None

    def _new_session(self):
        now = time.ticks_ms()
        if len(self.sessions) >= MAX_SESSIONS:
            # the one unused longest goes, sessions unlocked with the key last
            old = None
            for s in self.sessions:
                key = (s.unlocked, time.ticks_diff(s.used, now))
                if old is None or key < (old.unlocked, time.ticks_diff(old.used, now)):
                    old = s
            self.sessions.remove(old)
        sess = _Session(now)
        self.sessions.append(sess)
        return sess

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

    # --- GET -------------------------------------------------------------------------------

    def page(self, req):
        gz, length, etag, size, wbits = self._page
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
            return Response(200, _gunzip(gz, wbits), "text/html; charset=utf-8", headers, size)
        headers.append(("Content-Encoding", "gzip"))
        return Response(200, gz, "text/html; charset=utf-8", headers, length)

    def session(self, req):
        # The page's session: the one its cookie names, else a new one (and its cookie).
        sess = req.session
        headers = [_NO_STORE]
        if sess is None:
            sess = self._new_session()
            cookie = "%s=%s; Path=/; HttpOnly; SameSite=Strict" % (_COOKIE, sess.sid)
            headers.append(("Set-Cookie", cookie))
        doc = {"token": sess.token, "unlocked": sess.unlocked}
        doc["provisioned"] = self.manager.provisioned
        return Response(200, json.dumps(doc), _JSON, headers)

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
        st["unlocked"] = req.session is not None and req.session.unlocked
        crash = st.get("app_error")
        if crash and not st["unlocked"]:
            # What the application's traceback says (its data, paths) is the owner's to read.
            crash = dict(crash)
            crash["traceback"] = None
            st["app_error"] = crash
        r = self._reveal
        t = st["trial"]
        if r is not None and t and t["state"] == "connected" and t["ssid"] == r[1]:
            # The first provisioning succeeded: its session owns the device now and is shown
            # the setup key, once.
            if req.session is r[0]:
                self._reveal = None
                r[0].unlocked = st["unlocked"] = True
                st["setup_key"] = self.manager.setup_key
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

    def connect(self, f, sess):
        ssid = f.text("ssid")
        password = f.text("password", False)
        hidden = f.flag("hidden")
        first = not self.manager.provisioned
        try:
            self.manager.try_credentials(ssid, password, hidden)
        except (ValueError, OSError) as e:
            msg = str(e)
            if password and password in msg:
                msg = "the device refused these credentials"
            field = getattr(e, "key", None)  # the manager's checks say which (ConfigError)
            raise HTTPError(400 if isinstance(e, ValueError) else 409, msg, field)
        self._reveal = (sess, ssid) if first else None
        return _json({"trying": ssid}, 202)

    def unlock(self, f, sess):
        # A guess a second per session, MAX_SESSIONS sessions: the key's 53 bits hold for
        # longer than any device lives.
        now = time.ticks_ms()
        if sess.unlock_after is not None and time.ticks_diff(sess.unlock_after, now) > 0:
            raise HTTPError(429, "wrong setup key just tried: wait a second", "key")
        if not self.manager.is_setup_key(f.text("key").strip().lower()):
            sess.unlock_after = time.ticks_add(now, UNLOCK_PAUSE_MS)
            raise HTTPError(403, "wrong setup key", "key")
        sess.unlock_after = None
        sess.unlocked = True
        return _json({"unlocked": True})

    def finish(self, f, sess):
        self.manager.finish_provisioning()
        return _json({"finished": True})

    def rescan(self, f, sess):
        self.manager.rescan()
        return _json({"scanning": True}, 202)

    def forget(self, f, sess):
        ssid = f.text("ssid")
        if not self.manager.forget(ssid):
            raise HTTPError(404, "no known network with that name", "ssid")
        return _json({"forgotten": ssid})

    def order(self, f, sess):
        order = f.get("order")
        if order is None:
            order = f.get("ssid", [])
        if isinstance(order, str):
            order = [order]
        if not isinstance(order, list) or not all(isinstance(s, str) for s in order):
            raise HTTPError(400, "order must be a list of network names", "order")
        for s in order:
            _text(s, "order")
        try:
            self.manager.reorder(order)
        except ValueError as e:
            raise HTTPError(400, "order: %s" % e, "order")
        return _json({"networks": list(self.manager.known_networks())})

    def safe_mode(self, f, sess):
        self.manager.leave_safe_mode(restart_ms=_RESTART_MS)
        return _json({"restarting_in_ms": _RESTART_MS}, 202)

    def ota(self, f, sess):
        url = f.text("url").strip()
        sha256 = f.text("sha256", required=False).strip() or None  # what lets http:// be used
        try:
            self.manager.ota_update(url, sha256)
        except ValueError as e:
            raise HTTPError(400, str(e), "url")
        except OSError as e:
            raise HTTPError(409, "update not started: %s" % e, "url")
        return _json({"updating": safe_url(url)}, 202)


# path -> (method, Portal method name, what it needs beyond a session for a POST: None,
# "key" (a session unlocked with the setup key) or "provisioned" (that, once provisioned))
_ROUTES = {
    "/": ("GET", "page", None),
    "/index.html": ("GET", "page", None),
    "/api/session": ("GET", "session", None),
    "/api/scan": ("GET", "scan", None),
    "/api/status": ("GET", "status", None),
    "/api/captive": ("GET", "captive", None),
    "/data": ("GET", "data", None),
    "/api/networks": ("GET", "known", "provisioned"),
    "/api/connect": ("POST", "connect", "provisioned"),
    "/api/finish": ("POST", "finish", "provisioned"),
    "/api/rescan": ("POST", "rescan", None),
    "/api/unlock": ("POST", "unlock", None),
    "/api/forget": ("POST", "forget", "key"),
    "/api/networks/order": ("POST", "order", "key"),
    "/api/ota": ("POST", "ota", "key"),
    "/api/safe_mode/leave": ("POST", "safe_mode", "key"),
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


def _gunzip(gz, wbits):
    # The page unzipped as it is sent (http.send streams it), in a window of 2**wbits bytes.
    def open_plain():
        import deflate

        if callable(gz):
            return deflate.DeflateIO(gz(), deflate.GZIP, wbits, True)
        import io

        return deflate.DeflateIO(io.BytesIO(gz), deflate.GZIP, wbits)

    return open_plain


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
