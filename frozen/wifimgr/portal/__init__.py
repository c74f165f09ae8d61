# The provisioning portal: the page, its JSON API and captive-portal detection, served by
# portal.http on asyncio. It talks to the device only through the Manager API (wifimgr.manager):
# status(), scan_results(), rescan(), try_credentials(), finish_provisioning(), known_networks(),
# forget(), reorder(), ota_update(), leave_safe_mode(), is_setup_key(), data, device_name,
# hostname, provisioned, setup_key.
#
# What is loaded when (issue 14: from an .mpy, as mip installs the package, a module's bytecode
# is on the heap while it is loaded). While the portal serves, this module and the server
# (portal.http): the listener, and the answer to the captive-portal probes and to every name
# that is not the device's, the redirect to the portal. The first request for one of the
# device's own names loads the JSON API (portal.api, the visit); it stays, with its sessions,
# until no request for it came for api.SESSION_IDLE_MS (a session lasts that long unused), and
# is dropped then (wifimgr.drop), or when the portal stops. What a request needs beyond that is
# loaded for it and dropped after it (wifimgr.call_dropped): the page (portal.page), a POST's
# body (portal.form), the owner's rare routes (portal.admin: unlock, the known networks,
# forget, reorder, firmware update, leaving safe mode).
#
# Who may do what (README, "Who can do what"): only requests for the device itself are served
# (Host one of its own names; anything else is sent to the portal, never to the API), and a
# state-changing request must come from the device's own page (Origin or Referer, when the
# browser sends one) within a session: the HttpOnly, SameSite=Strict cookie GET /api/session
# sets, and the token it returns in the X-Token header. All of that is checked from the request
# head, before its body is read (portal.api). Changing a provisioned device (joining another
# network, forgetting or reordering networks, closing the access point) and every firmware
# update also need a session unlocked with the setup key (POST /api/unlock), the device's proof
# of possession; whoever first provisions an unprovisioned device is given it once, on the
# success page. Passwords and the setup key go to the manager and nowhere else: never into a
# response (but that one), a log or an error.

import time

from micropython import const

from wifimgr.platform import AP_DEFAULT_IP

from .http import Response, Server

_MAX_PROBES = const(12)

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


class Portal:
    """The captive portal: `Portal(manager, host, port)`, then `start()` inside a running
    asyncio loop (returns a task; await it to know the socket is bound) and `stop()`.

    The idle timeout belongs to the manager (`portal_idle_timeout_s`): every API call the page
    makes counts as activity there.
    """

    def __init__(self, manager, host="0.0.0.0", port=80):
        self.manager = manager
        self.host = host
        self.port = port
        self.server = Server(host, port, self.check_head)
        self.probes = []
        self.visit = None  # portal.api.Visit while the device's own pages are visited
        self._keeper = None  # the task that drops it (Visit.keep)
        self.started = time.ticks_ms()

    # --- life ------------------------------------------------------------------------------

    def start(self):
        import asyncio
        import socket

        import wifimgr

        try:
            from . import _page  # noqa: F401  (portal.page serves it; it must be there now)
        except ImportError:
            raise ImportError("wifimgr.portal: the page is not built (run make, or mkpage.py)")
        wifimgr.drop("portal._page")  # loaded again for each page request, as portal.page is
        # The server binds inside a task; a port already taken or an address not ours should
        # fail here, where the caller of start() sees it, not later in the background.
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(socket.getaddrinfo(self.host, self.port)[0][-1])
        except OSError as e:
            raise OSError("portal cannot listen on %s:%d: %s" % (self.host, self.port, e))
        finally:
            s.close()
        return asyncio.create_task(self.server.start())

    def stop(self):
        self.server.stop()
        if self._keeper is not None:
            self._keeper.cancel()
            self.drop_visit()

    def url(self):
        """The portal's own address, where redirects send a browser."""
        port = "" if self.port == 80 else ":%d" % self.port
        host = self.host
        if host in ("0.0.0.0", ""):
            host = self.manager.status().get("ap_ip") or AP_DEFAULT_IP
        return "http://%s%s/" % (host, port)

    # --- dispatch --------------------------------------------------------------------------

    def check_head(self, req):
        """From the head alone (http.Server): the redirect for a probe or a name not ours; the
        device's own names go to the visit (its routes, origin, session and setup key checks,
        and the handler)."""
        kind = PROBES.get(req.path)
        host = req.header("host")  # none (HTTP/1.0): from no browser, taken as ours
        if kind is None and host and not self.is_own(host):
            kind = "other"  # another site's name: the captive DNS or a rebinding sent it here
        if kind is not None:
            return self._probe(kind, req)
        return self._visit().check_head(req)

    def is_own(self, host):
        """True when `host` (a Host header's value, or the host[:port] of an Origin) is one of
        the device's own names."""
        host = host.strip().lower()
        if host.startswith("["):  # [v6]:port
            host = host[: host.find("]") + 1]
        elif ":" in host:
            host = host[: host.find(":")]
        if not host:
            return False
        st = self.manager.status()
        name = self.manager.hostname
        own = [st.get("ap_ip"), st.get("ip")]
        if self.host not in ("0.0.0.0", ""):
            own.append(self.host)
        if self.host.startswith("127."):
            own.append("localhost")  # served on loopback (make sim): the machine's own name
        if name:
            own.append(name.lower())
            own.append(name.lower() + ".local")
        return host in own

    def redirect(self):
        """The answer that sends a browser to the portal's page."""
        url = self.url()
        body = '<!doctype html><title>WiFi setup</title><a href="%s">WiFi setup</a>' % url
        return Response(
            302,
            body,
            "text/html; charset=utf-8",
            [("Location", url), ("Cache-Control", "no-store")],
        )

    def _probe(self, kind, req):
        host = req.header("host")[:64]
        path = req.path[:64]
        now = time.ticks_diff(time.ticks_ms(), self.started) // 1000
        for p in self.probes:
            if p["os"] == kind and p["host"] == host and p["path"] == path:
                p["count"] += 1
                p["last_s"] = now
                break
        else:
            if len(self.probes) >= _MAX_PROBES:
                self.probes.pop(0)
            self.probes.append(
                {"os": kind, "host": host, "path": path, "count": 1, "first_s": now, "last_s": now}
            )
        return self.redirect()

    # --- the visit -------------------------------------------------------------------------

    def _visit(self):
        # The page and its API, loaded by the first request for them (portal.api).
        if self.visit is None:
            import asyncio

            from .api import Visit

            visit = Visit(self)
            self._keeper = asyncio.create_task(visit.keep())
            self.visit = visit  # only with the task that ends it
        return self.visit

    def drop_visit(self):
        """Drops the page and its API with their sessions: the visit is over."""
        import wifimgr

        self.visit = self._keeper = None
        wifimgr.drop("portal.api")
