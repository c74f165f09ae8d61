# The visit: the portal's JSON API and its sessions, loaded while the device's own pages are
# visited (wifimgr.portal says when). Every request for one of the device's names comes here
# from its head (check_head: route, method, origin, session, token, setup key), then to its
# handler. The page (portal.page), a POST's body (portal.form) and the owner's rare routes
# (portal.admin) are loaded for their request.

import json
import time

from micropython import const

from wifimgr import call_dropped
from wifimgr.store import same as _same

from .http import HTTPError, Response

SESSION_IDLE_MS = 600000  # 10 min: a session unused, and the visit without a request
_MAX_SESSIONS = const(8)
_COOKIE = "wm_sid"
_JSON = "application/json"
_NO_STORE = ("Cache-Control", "no-store")

# path -> (method, handler, what it needs beyond a session for a POST: None, "key" (a session
# unlocked with the setup key) or "provisioned" (that, once provisioned)). A handler is a
# method of Visit, or "<module>.<function>": a function of portal.<module> (the page, the
# owner's routes), loaded for that request.
_ROUTES = {
    "/": ("GET", "page.page", None),
    "/index.html": ("GET", "page.page", None),
    "/api/session": ("GET", "session", None),
    "/api/scan": ("GET", "scan", None),
    "/api/status": ("GET", "status", None),
    "/api/captive": ("GET", "captive", None),
    "/data": ("GET", "data", None),
    "/api/networks": ("GET", "admin.known", "provisioned"),
    "/api/connect": ("POST", "connect", "provisioned"),
    "/api/finish": ("POST", "finish", "provisioned"),
    "/api/rescan": ("POST", "rescan", None),
    "/api/unlock": ("POST", "admin.unlock", None),
    "/api/forget": ("POST", "admin.forget", "key"),
    "/api/networks/order": ("POST", "admin.order", "key"),
    "/api/ota": ("POST", "admin.ota", "key"),
    "/api/safe_mode/leave": ("POST", "admin.safe_mode", "key"),
}


def answer(obj, status=200):
    """`obj` as a JSON answer, never cached."""
    return Response(status, json.dumps(obj), _JSON, [_NO_STORE])


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


def _origin_host(url):
    # The host[:port] of an Origin or Referer value ("http://host:port/path"); "" when it has
    # none.
    if url.startswith("http://") or url.startswith("https://"):
        return url.split("//", 1)[1].split("/", 1)[0]
    return ""


def _cookie(header, name):
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None


def _token():
    import os

    return "".join("%02x" % b for b in os.urandom(16))


class _Session:
    def __init__(self, now):
        self.sid = _token()
        self.token = _token()
        self.unlocked = False
        self.used = now
        self.unlock_after = None  # ticks before which it tries no key (after a wrong one)


class Visit:
    """The page and the API of `portal` (a wifimgr.portal.Portal) and their sessions."""

    def __init__(self, portal):
        self.portal = portal
        self.manager = portal.manager
        self.sessions = []
        self._reveal = None  # (session, ssid): who gets the setup key once that trial joins
        self.used = time.ticks_ms()  # its last request

    async def keep(self):
        """Runs until no request came for SESSION_IDLE_MS, then ends the visit."""
        import asyncio

        while True:
            left = SESSION_IDLE_MS - time.ticks_diff(time.ticks_ms(), self.used)
            if left <= 0:
                break
            await asyncio.sleep_ms(left)
        self.portal.drop_visit()

    # --- dispatch --------------------------------------------------------------------------

    def check_head(self, req):
        """The checks of method, origin, session and setup key (HTTPError), or the redirect to
        the portal for a page that is not one; else handle(), to answer once the body is in."""
        self.used = time.ticks_ms()
        path = req.path
        route = _ROUTES.get(path)
        if route is None:
            if path.startswith("/api/"):
                raise HTTPError(404, "no API endpoint %s" % path[:64])
            return self.portal.redirect()  # any other page of ours: the portal
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
        return self.handle

    def handle(self, req):
        # A POST's handler gets its fields (portal.form, loaded for the request) and session.
        if req.method == "POST":
            args = (call_dropped("portal.form", "Fields", req), req.session)
        else:
            args = (req,)
        module, _, name = req.route.rpartition(".")
        if module:
            return call_dropped("portal." + module, name, self, *args)
        return getattr(self, name)(*args)

    def _check_origin(self, req):
        # What a browser says of the page that sent a state-changing request: ours or refused.
        origin = req.header("origin") or req.header("referer")
        if origin and not self.portal.is_own(_origin_host(origin)):
            raise HTTPError(403, "request from another site's page refused")

    def _session_of(self, req):
        # The live session the cookie names; one unused for SESSION_IDLE_MS is over.
        sid = _cookie(req.header("cookie"), _COOKIE)
        now = time.ticks_ms()
        for sess in self.sessions:
            if sid is not None and _same(sid, sess.sid):
                if time.ticks_diff(now, sess.used) >= SESSION_IDLE_MS:
                    self.sessions.remove(sess)
                    return None
                sess.used = now
                return sess
        return None

    def _new_session(self):
        now = time.ticks_ms()
        self.sessions = [
            s for s in self.sessions if time.ticks_diff(now, s.used) < SESSION_IDLE_MS
        ]
        if len(self.sessions) >= _MAX_SESSIONS:
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

    # --- GET -------------------------------------------------------------------------------

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
        return answer(
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
        portal = self.portal
        stats = dict(portal.server.stats)
        stats["uptime_s"] = time.ticks_diff(time.ticks_ms(), portal.started) // 1000
        stats["probes"] = portal.probes
        st["portal"] = stats
        return answer(st)

    def captive(self, req):
        # RFC 8908, the Captive Portal API (the URI the AP's DHCP offers as option 114, RFC
        # 8910): captive until the device has joined a network.
        st = self.manager.status()
        doc = {"captive": st.get("state") != "connected", "user-portal-url": self.portal.url()}
        return Response(200, json.dumps(doc), "application/captive+json", [_NO_STORE])

    def data(self, req):
        data = self.manager.data
        return answer({str(k): _jsonable(v) for k, v in data.items()})

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
        return answer({"trying": ssid}, 202)

    def finish(self, f, sess):
        self.manager.finish_provisioning()
        return answer({"finished": True})

    def rescan(self, f, sess):
        self.manager.rescan()
        return answer({"scanning": True}, 202)
