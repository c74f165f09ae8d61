# The owner's rare routes of the portal: unlocking with the setup key, the known networks
# (listed, forgotten, reordered), a firmware update, leaving safe mode. Each is a function of
# (visit, fields, session), or (visit, request) for a GET, that portal.api runs through
# wifimgr.call_dropped: this module is loaded for the request and dropped after it. The checks
# of the request's head (origin, session, token, setup key) were made before (portal.api).

import time

from micropython import const

from wifimgr.config import safe_url

from .api import answer
from .http import HTTPError

_UNLOCK_PAUSE_MS = const(1000)  # after a wrong setup key, that session's unlocking waits
_RESTART_MS = const(3000)  # from leaving safe mode to the restart, for the page to say so


def unlock(visit, f, sess):
    # A guess a second per session, MAX_SESSIONS sessions: the key's 53 bits hold for
    # longer than any device lives.
    now = time.ticks_ms()
    if sess.unlock_after is not None and time.ticks_diff(sess.unlock_after, now) > 0:
        raise HTTPError(429, "wrong setup key just tried: wait a second", "key")
    if not visit.manager.is_setup_key(f.text("key").strip().lower()):
        sess.unlock_after = time.ticks_add(now, _UNLOCK_PAUSE_MS)
        raise HTTPError(403, "wrong setup key", "key")
    sess.unlock_after = None
    sess.unlocked = True
    return answer({"unlocked": True})


def known(visit, req):
    return answer({"networks": list(visit.manager.known_networks())})


def forget(visit, f, sess):
    ssid = f.text("ssid")
    if not visit.manager.forget(ssid):
        raise HTTPError(404, "no known network with that name", "ssid")
    return answer({"forgotten": ssid})


def order(visit, f, sess):
    order = f.get("order")
    if order is None:
        order = f.get("ssid", [])
    if isinstance(order, str):
        order = [order]
    if not isinstance(order, list) or not all(isinstance(s, str) for s in order):
        raise HTTPError(400, "order must be a list of network names", "order")
    for s in order:
        f.check(s, "order")
    try:
        visit.manager.reorder(order)
    except ValueError as e:
        raise HTTPError(400, "order: %s" % e, "order")
    return known(visit, None)


def safe_mode(visit, f, sess):
    visit.manager.leave_safe_mode(restart_ms=_RESTART_MS)
    return answer({"restarting_in_ms": _RESTART_MS}, 202)


def ota(visit, f, sess):
    url = f.text("url").strip()
    sha256 = f.text("sha256", required=False).strip() or None  # what lets http:// be used
    try:
        visit.manager.ota_update(url, sha256)
    except ValueError as e:
        raise HTTPError(400, str(e), "url")
    except OSError as e:
        raise HTTPError(409, "update not started: %s" % e, "url")
    return answer({"updating": safe_url(url)}, 202)
