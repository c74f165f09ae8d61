"""The manager: configuration, credential store and state machine together, as the portal and
the public API see them.

`Manager(config_path)` reads the configuration and the store (imports a dropped `wifi.json`),
configures the state machine (`wifimgr.link`) from them and turns its status changes into
events, stored credentials and the portal's view. `start(http=..., dns=..., serve=...)` runs it
on asyncio: the state machine, and the portal and captive DNS while the access point is up
(`serve="ap"`), all the time (`"always"`) or never (`"never"`).
"""

import asyncio
import sys
from time import ticks_add, ticks_diff, ticks_ms

from micropython import const

from wifimgr import (
    __version__,
    backend,
    call_dropped,
    dns_class,
    link_class,
    subscribe,
)
from wifimgr import _log as log
from wifimgr import config as _config
from wifimgr.platform import AP_DEFAULT_IP
from wifimgr.store import SETUP_KEY, Store, same

SERVE = ("ap", "always", "never")
_TICK_MS = const(500)
_FOLLOW_MS = const(20)  # how often the manager looks for changes the link noted
_RETRY_MIN_MS = const(2000)  # a server that failed to start: first retry, doubling up to
_RETRY_MAX_MS = const(60000)


def _ssid_text(ssid):
    # Scan results carry bytes; an SSID that is not UTF-8 is shown with \x escapes.
    try:
        return ssid.decode()
    except UnicodeError:
        return "".join(chr(b) if 32 <= b < 127 and b != 92 else "\\x%02x" % b for b in ssid)


# The state machine: None picks _wifimgr.Link when the firmware has it, else the Python twin;
# "twin" picks the twin anyway (the tests run the manager on both where the build has both).
link_backend = None


def _link_class():
    # wifimgr.link_class(): _wifimgr.Link when the firmware has it. On an ESP32 it drives the
    # chip's radio, the one network.WLAN shows; on unix it drives the simulated radio of
    # wifimgr.sim's WLAN, which shows what it does (port/radio_sim_mp.c).
    if link_backend == "twin":
        from wifimgr.link import Link

        return Link
    return link_class()


class Manager:
    """Manager(config_path="/wifimgr.json", *, sta=None, ap=None, clock=None, store=None,
    uid=None, data=None, events=None).

    `sta`/`ap` default to `network.WLAN(STA_IF/AP_IF)`; `clock` is for the simulator (a
    wifimgr.sim clock); `store` defaults to the NVS/file store of this device.
    """

    def __init__(
        self,
        config_path=_config.DEFAULT_PATH,
        *,
        sta=None,
        ap=None,
        clock=None,
        store=None,
        uid=None,
        data=None,
        events=None,
    ):
        import network

        self._sta = sta if sta is not None else network.WLAN(network.STA_IF)
        self._ap = ap if ap is not None else network.WLAN(network.AP_IF)
        if uid is None:
            uid = _config.unique_id()
        self.errors = []
        self.store = store if store is not None else Store.for_config(config_path, uid)
        if self.store.error:
            self.errors.append(self.store.error)
        self.config = _config.Config(config_path, self.store, uid)
        if self.config.error:
            self.errors.append(self.config.error)
        _config.use(self.config)
        # Passwords of a schema 2 file moved, a wifi.json imported, the setup key printed.
        call_dropped("provision", "at_start", self.config, self.store, self.errors)
        self.data = data if data is not None else {}
        # The application's crashes and boot count (wifimgr.safemode), beside the configuration.
        directory = config_path[: config_path.rfind("/") + 1]  # "" for a bare name
        self.app = call_dropped("safemode", "guard", directory)
        self._events = events if events is not None else {}
        cls = _link_class()
        self._link = (
            cls(self._sta, self._ap, clock) if clock is not None else cls(self._sta, self._ap)
        )
        self._clock = clock  # None: the device's ticks_ms()
        self._virtual = hasattr(clock, "advance")
        self._override = None
        self._order = None  # the SSIDs the state machine has, in its order
        self._deferred = False
        self._prev = None
        self._trial = None  # (ssid, password, hidden) of the credentials being tried
        self._asked = None  # (ssid, the link's trial before): until the link reports this one
        self._hook = None
        self._ota = None
        self._webrepl = None
        self._started = False
        self._serve = "never"
        self._http = self._dns = None
        self._portal = self._dns_server = None
        self._no_portal = False
        self._server_msgs = {}  # server name -> its message in self.errors
        self._retry_at, self._retry_ms = None, _RETRY_MIN_MS
        self._task = None
        self._guard_task = None
        self._idle_closed = False
        self._seen = self.now_ms()
        # The link's changes, handled by the _follow task: the C Link reports them from
        # MicroPython's scheduler, in the middle of whatever Python runs, so its callback only
        # queues them. The task looks every _FOLLOW_MS rather than wait on a ThreadSafeFlag:
        # on the unix port (MICROPY_PY_SELECT_POSIX_OPTIMISATIONS) v1.28's poller corrupts a
        # non-fd entry once the portal's sockets grow its array (extmod/modselect.c,
        # poll_set_add_fd() rebases a NULL pollfd too) and MicroPython crashes.
        self._changes = []
        self._follower = None
        self._link.on_change(self._note)
        self.apply()

    # --- what the portal uses ----------------------------------------------------------------

    @property
    def device_name(self):
        return self.config.device_name

    @property
    def hostname(self):
        return self.config.hostname

    @property
    def provisioned(self):
        """True once the device knows a network: its settings then need the setup key."""
        return bool(self.config.ssids())

    def is_setup_key(self, given):
        """True if `given` is this device's setup key (compared in constant time)."""
        key = self.store.get(SETUP_KEY)
        return bool(key) and same(given, key)

    @property
    def setup_key(self):
        return self.store.get(SETUP_KEY)

    def status(self, visitor=True):
        """The link status plus the device's identity, the trial's outcome, OTA progress and
        the application's last crash. `visitor`: asked for by a portal visitor (the portal's
        idle timeout starts again), not by the application."""
        if visitor:
            self._touch()
        return self._status()

    def scan_results(self):
        """What the last scan saw: [{"ssid", "bssid", "rssi", "channel", "secure", "hidden"}]."""
        self._touch()
        out = []
        for ssid, bssid, channel, rssi, authmode, hidden in self._link.scan_results():
            out.append(
                {
                    "ssid": _ssid_text(ssid),
                    "bssid": None if bssid is None else ":".join("%02x" % b for b in bssid),
                    "rssi": rssi,
                    "channel": channel,
                    "secure": authmode != 0,
                    "hidden": bool(hidden),
                }
            )
        return out

    def rescan(self):
        self._touch()
        self._link.rescan()

    def try_credentials(self, ssid, password, hidden=False):
        """Tries the network with the access point left up; returns at once. On success the
        credentials are stored and the network becomes the most preferred known one."""
        self._touch()
        ssid = _config.check_ssid(ssid)
        password = _config.check_password(password)
        if not isinstance(hidden, bool):
            raise ValueError("hidden: must be True or False")
        before = self._link.status()["trial"]
        self._link.try_credentials(ssid, password, hidden)
        self._trial = (ssid, password, hidden)
        self._asked = (ssid, before)
        self._hook = None

    async def trial_outcome(self, ssid, timeout_ms):
        """The outcome of the trial of `ssid` that try_credentials() began: status()["trial"]
        once it is no longer "trying" (on "connected" the credentials are stored and the
        connected callbacks ran); None if `timeout_ms` passed first."""

        def over(s):
            t = s["trial"]
            return t is not None and t["ssid"] == ssid and t["state"] != "trying"

        return self._status()["trial"] if await self.wait_for(over, timeout_ms) else None

    def finish_provisioning(self):
        self._touch()
        self._link.finish_provisioning()

    def known_networks(self):
        return self.config.ssids()

    def forget(self, ssid):
        """Forgets a known network and its password (leaving it if the station is on it);
        False if it was not known."""
        self._touch()
        s = self._link.status()
        if not self.config.remove_network(ssid):
            return False
        if self._started and self._busy(s) and s["ssid"] == ssid:
            # Forgetting the network the station is on leaves it, as a phone does.
            self._link.stop()
            self.apply()
            self._link.start()
        else:
            self.apply()
        return True

    def reorder(self, ssids):
        """Sets the order of preference (used from the next round: the station does not leave
        a working network for it); ValueError unless `ssids` is a permutation of
        known_networks()."""
        self._touch()
        self.config.reorder(ssids)
        self.apply()

    def ota_update(self, url=None, sha256=None):
        """Starts an update from `url` (default: the configured ota_url) in the background:
        a release manifest when the URL's path ends in .json, else one app image. The server
        is verified with the configured ota_ca / ota_pin; `sha256` (of the image, or of the
        manifest) is what lets an http:// URL be used. Progress is in status()["ota"]; the
        device restarts into the new image when it is installed.
        ValueError for a bad URL; OSError if one is running, there is no OTA module or
        the firmware cannot update over the air (ota.unavailable())."""
        self._touch()
        url = url or self.config.get("ota_url")
        if not url:
            raise ValueError("ota_update: no url given and no ota_url configured")
        _config.check_url(url, "url")
        if self._ota is not None and self._ota["state"] == "running":
            raise OSError("ota_update: an update is already running")
        ota = self._module("ota")
        if ota is None:
            shown = _config.safe_url(url)
            self._ota = {"state": "failed", "url": shown, "error": "no OTA module installed"}
            raise OSError("ota_update: this firmware has no wifimgr.ota module")
        from wifimgr.ota.managed import start

        self._ota = start(ota, url, sha256, self.config)

    # --- what the public API adds -------------------------------------------------------------

    def on(self, event, callback):
        subscribe(self._events, event, callback)

    def apply(self):
        """Configures the state machine from the configuration (after any change to it).

        A new order of networks waits while a known network is being joined or is joined: the
        state machine names that connection by its place in the list, so the list changes
        when the station is next between networks (a new round starts on the new list)."""
        cfg = self.config
        try:
            cands = call_dropped("policy", "candidates", cfg)
            pol = call_dropped("policy", "link_policy", cfg, self._override)
            order = [c["ssid"] for c in cands]
            if order != self._order and self._busy(self._link.status()):
                self._deferred = True
                return
            self._link.configure(cands, pol)
            self._order = order
            ap = pol["ap_config"]
        except ValueError as e:
            msg = "configuration not usable by the state machine: %s" % e
            log.error(msg)
            self.errors.append(msg)
            ap = call_dropped("policy", "ap_config", cfg)
            self._link.configure([], {"ap_policy": "fallback", "ap_config": ap})
            self._order = []
        self._ap_ssid = ap["ssid"]  # what status() and the log name the access point
        self._deferred = False

    def _busy(self, s):
        # True while the station's connection is one of the known networks (not a trial).
        if s["state"] not in ("connecting", "getting_ip", "connected"):
            return False
        t = s["trial"]
        return not (t and t["state"] in ("trying", "connected") and t["ssid"] == s["ssid"])

    def start(self, *, http=None, dns=None, serve="ap", ota_guard=None):
        """Starts the state machine, and the portal and DNS as `serve` says; returns at once.
        Works inside a running asyncio loop or before one is run. `ota_guard` (default: on an
        ESP32) runs wifimgr.ota's health check: a new image is kept once WiFi is back."""
        if serve not in SERVE:
            raise ValueError("serve must be one of %s, not %r" % (", ".join(SERVE), serve))
        if self._started and (serve, http, dns) != (self._serve, self._http, self._dns):
            self._stop_servers()
        self._serve, self._http, self._dns = serve, http, dns
        self._no_portal = False
        if self._started:
            if serve == "always" or (serve == "ap" and self._link.status()["ap_active"]):
                self._start_servers()
            return
        self._started = True
        call_dropped("policy", "set_hostname", self.hostname, self._sta)
        last = self.config.get("last_good")
        if last:
            try:
                self._link.remember(last[0], last[1], last[2])
            except ValueError as e:
                log.warning("last_good not used: %s", e)
        self._follower = asyncio.create_task(self._follow())
        self._link.start()
        if serve == "always":
            self._start_servers()
        self._task = asyncio.create_task(self._tick())
        if ota_guard is None:
            ota_guard = "esp32" in sys.modules or sys.platform == "esp32"
        if ota_guard:
            # A freshly updated image is kept only once the device is back on WiFi.
            ota = self._module("ota")
            if ota is not None:
                from wifimgr.ota.managed import guard

                self._guard_task = guard(ota, self, self._clock)

    def stop(self):
        """Stops the servers and the state machine (the station disconnects, the AP closes)."""
        self._stop_servers()
        for name in ("_task", "_follower"):
            task = getattr(self, name)
            if task is not None:
                setattr(self, name, None)
                task.cancel()
        self._link.stop()
        self._handle_changes()  # the last ones (idle, AP down), here: nothing follows them now
        self._started = False

    def set_override(self, override):
        """Policy keys that win over the configuration (None: the configuration alone)."""
        self._override = override
        self._idle_closed = False
        self.apply()

    def set_name(self, name):
        """The device's name for this run (not saved): access point name and hostname."""
        self.config.set("device_name", _config.check_ssid(name, "name"), save=False)
        self.apply()

    @property
    def started(self):
        """True between start() and stop()."""
        return self._started

    @property
    def idle_closed(self):
        """True once the portal idle timeout closed the access point (until the next
        set_override())."""
        return self._idle_closed

    @property
    def checking_ota(self):
        """True while the OTA health check of a freshly updated image runs."""
        g = self._guard_task
        return g is not None and not g.done()

    def leave_safe_mode(self, restart_ms=None):
        """Leaves safe mode: the boot count is set to 0, so the next boot starts the
        application; with `restart_ms`, the device restarts that long after (on the loop)."""
        call_dropped("safemode", "leave", self.app, restart_ms)

    async def wait_for(self, predicate, timeout_ms=None):
        """Waits until predicate(status) is true, with every change of the link handled (events
        sent, credentials stored); False if `timeout_ms` passed first."""
        start = self.now_ms()
        while self._changes or not predicate(self._status()):
            if timeout_ms is not None and ticks_diff(self.now_ms(), start) >= timeout_ms:
                return False
            await asyncio.sleep_ms(0 if self._virtual else 50)
        return True

    @property
    def sta(self):
        return self._sta

    @property
    def link(self):
        return self._link

    # --- inside ------------------------------------------------------------------------------

    def now_ms(self):
        """Milliseconds on the manager's clock (ticks_ms() on a device): compare with
        time.ticks_diff()."""
        c = self._clock
        return c.now_ms() if c is not None else ticks_ms()

    def _touch(self):
        self._seen = self.now_ms()

    def _status(self):
        s = self._link.status()
        up = s["ap_active"]
        s["ap_ssid"] = self._ap_ssid if up else None
        s["ap_ip"] = s["ap_security"] = None
        if up:
            try:
                s["ap_ip"] = self._ap.ifconfig()[0]
            except OSError:
                s["ap_ip"] = AP_DEFAULT_IP
            try:  # what the radio runs (network_wlan.c: config("security")), 0 when open
                s["ap_security"] = self._ap.config("security")
            except (OSError, ValueError):
                pass
        s["hostname"] = self.hostname
        s["device_name"] = self.device_name
        s["provisioned"] = self.provisioned
        s["version"] = __version__
        s["backend"] = backend
        trial = s["trial"]
        if self._asked is not None:
            # try_credentials() returns before the link takes the request: until it reports
            # this trial, its status shows the previous one (a wrong password just corrected).
            trial = {"ssid": self._asked[0], "state": "trying", "reason": None, "ip": None}
        if trial is not None:
            trial = dict(trial)
            p = self._prev and self._prev["trial"]  # what _changed has seen of it
            handled = p and p["state"] == "connected" and p["ssid"] == trial["ssid"]
            if trial["state"] == "connected" and not handled:
                # Joined, but not stored and hooked yet (_follow runs next): still trying.
                trial["state"], trial["ip"] = "trying", None
            done = trial["state"] == "connected"
            trial["url"] = "http://%s.local/" % self.hostname if done else None
            trial["hook"] = self._hook if done else None
            s["trial"] = trial
        ota = sys.modules.get("wifimgr.ota")  # loaded once an update or the guard ran
        s["ota"] = ota.merged_status(self._ota) if ota else self._ota and dict(self._ota)
        s["webrepl"] = self._webrepl
        s["servers"] = self._servers_status(up)
        s["errors"] = list(self.errors)
        # Why the radio refused the access point (the C Link's; the twin's ap.config() raises).
        s["ap_error"] = ap_error = s.get("ap_error")
        if ap_error:
            s["errors"].append("access point not started: %s" % ap_error)
        if s.get("error"):  # the twin's task failed a turn since it last connected
            s["errors"].append("link: %s" % s["error"])
        app = self.app
        last = app["crashes"][-1:]  # the newest, and whether it happened since this boot
        s["app_error"] = dict(last[0], this_boot=app["new"] > 0) if last else None
        s["safe_mode"] = app["safe"]
        return s

    def _emit(self, event, arg):
        result = None
        for cb in self._events.get(event, ()):
            try:
                r = cb(arg)
                if r is not None:
                    result = r
            except Exception as e:  # a user callback must not stop the manager
                call_dropped("safemode", "record", self.app, "callback " + event, e)
        return result

    def _note(self, s):
        # The link's callback: may run as a soft interrupt, so it only queues.
        self._changes.append(s)

    async def _follow(self):
        while True:
            await asyncio.sleep_ms(0 if self._virtual else _FOLLOW_MS)
            try:
                self._handle_changes()
            except Exception as e:  # keep following; say what went wrong
                log.error("manager: %r", e)

    def _handle_changes(self):
        while self._changes:
            self._changed(self._changes.pop(0))

    def _changed(self, s):
        prev = self._prev or {"state": "idle", "ssid": None, "ap_active": False, "trial": None}
        self._prev = s
        if self._deferred and not self._busy(s):
            self.apply()  # before the link acts on this change (a scan plans on the new list)
        state, was = s["state"], prev["state"]
        if state in ("connecting", "getting_ip") and (was != state or prev["ssid"] != s["ssid"]):
            if s["ssid"] and state == "connecting":
                # Before association: with DHCP stopped the address comes with it.
                call_dropped("policy", "apply_static_ip", self.config, self._sta, s["ssid"])
        trial, ptrial = s["trial"], prev["trial"]
        asked = self._asked
        if asked and trial and trial["ssid"] == asked[0]:
            if trial["state"] == "trying" or trial != asked[1]:
                self._asked = None  # the link took the request: its trial is this one
        if trial is not None and (ptrial is None or ptrial["state"] != trial["state"]):
            log.info("portal: %s on %s%s", trial["state"], trial["ssid"],
                     " (%s)" % trial["reason"] if trial["reason"] else "")  # fmt: skip
        provisioned = None
        if trial is not None and trial["state"] == "connected":
            if ptrial is None or ptrial["state"] != "connected" or ptrial["ssid"] != trial["ssid"]:
                provisioned = self._store_trial(trial["ssid"])
        if log.level <= log.INFO:  # what a serial console shows at wifimgr.log_level(20)
            call_dropped("_console", "state_lines", s, prev, self._ap_ssid)
        if s.get("ap_error") and s.get("ap_error") != prev.get("ap_error"):
            log.error("access point not started: %s", s["ap_error"])
        if state == "connected" and was != "connected":
            self._remember(s)
            hook = self._emit("connected", self._status())
            self._hook = None if hook is None else str(hook)
            self._start_webrepl(s)
        elif was == "connected" and state != "connected":
            self._emit("disconnected", self._status())
        if provisioned:
            self._emit("provisioned", provisioned)
        if s["ap_active"] and not prev["ap_active"]:
            self._touch()
            if self._serve == "ap":
                self._start_servers()
            self._emit("ap_started", self._status())
            self._start_webrepl(s)
        elif prev["ap_active"] and not s["ap_active"]:
            if self._serve == "ap":
                self._stop_servers()
            self._emit("ap_stopped", self._status())

    def _store_trial(self, ssid):
        if self._trial is None or self._trial[0] != ssid:
            return None
        _, password, hidden = self._trial
        self._trial = None
        try:
            if hidden:
                self.config.add_network(ssid, password, hidden=True)
            else:
                self.config.add_network(ssid, password)
        except Exception as e:  # the link keeps the connection; the user is told
            msg = "provisioning: %r joined but could not be stored: %s" % (ssid, e)
            log.error(msg)
            self.errors.append(msg)
        self.apply()
        return ssid

    def _remember(self, s):
        last = s.get("last_good")
        if not last or last[0] not in self.config.ssids():
            return
        last = [last[0], last[1], last[2]]
        if self.config.get("last_good") != last:
            try:
                self.config.set("last_good", last)
            except (OSError, ValueError) as e:
                log.warning("last_good not saved: %s", e)

    def _start_webrepl(self, s):
        if self._webrepl != "started":
            r = call_dropped("policy", "webrepl", self.config, s)
            if r is not None:
                self._webrepl = r

    def _servers_ip(self):
        # What the captive DNS answers: the HTTP server's own address when it is bound to one
        # (make sim: 127.0.0.1), else the access point's.
        host = self._http[0] if self._http else "0.0.0.0"
        if host != "0.0.0.0":
            return host
        try:
            ip = self._ap.ifconfig()[0]
            return ip if ip != "0.0.0.0" else AP_DEFAULT_IP
        except OSError:
            return AP_DEFAULT_IP

    def _start_servers(self):
        # A server that cannot start (a port in use, MemoryError on a small heap, a package
        # without its page) is named in status()["errors"] and on the log, and started again
        # with backoff while it is wanted (_tick_once); status()["servers"] says it is missing.
        failed = []
        if self._http and self._portal is None and not self._no_portal:
            try:
                mod = self._module("portal")
                if mod is None:
                    # A package installed without the portal: the device still joins networks.
                    self._no_portal = True
                    msg = "HTTP on %s:%d not served: no portal installed" % tuple(self._http)
                    self._server_error("portal", msg, log.warning)
                else:
                    portal = mod.Portal(self, self._http[0], self._http[1])
                    r = portal.start()
                    if r is not None and hasattr(r, "send"):
                        asyncio.create_task(r)
                    self._portal = portal
                    self._server_error("portal", None)
            except Exception as e:  # MemoryError too: a phone must not meet a silent AP
                failed.append(("portal", "portal on %s:%d" % tuple(self._http), e))
        if self._dns and self._dns_server is None:
            try:
                server = dns_class()(self._servers_ip(), self._dns[1], bind=self._dns[0])
                server.start()
                self._dns_server = server
                self._server_error("dns", None)
            except Exception as e:
                failed.append(("dns", "DNS on %s:%d" % tuple(self._dns), e))
        if not failed:
            self._retry_at, self._retry_ms = None, _RETRY_MIN_MS
            return
        # The next try first: saying what failed may itself run short of memory.
        retry_ms = self._retry_ms
        self._retry_at = ticks_add(self.now_ms(), retry_ms)
        self._retry_ms = min(retry_ms * 2, _RETRY_MAX_MS)
        for name, what, e in failed:
            msg = "%s did not start: %s: %s" % (what, type(e).__name__, e)
            self._server_error(name, msg, log.error, " (trying again in %d ms)" % retry_ms)

    def _server_error(self, name, msg, report=log.error, more=""):
        # One current message per server in self.errors: the last failure, none once it runs.
        old = self._server_msgs.pop(name, None)
        if old in self.errors:
            self.errors.remove(old)
        if msg is not None:
            self._server_msgs[name] = msg
            self.errors.append(msg)
            report(msg + more)  # lost if the heap is that short: status()["errors"] has it

    def _servers_status(self, ap_active):
        # Per server: "serving", "missing" (wanted now but not running: errors says why) or
        # "off" (not wanted now, or not configured).
        wanted = self._started and (self._serve == "always" or (self._serve == "ap" and ap_active))
        out = {}
        for name, conf, server in (("portal", self._http, self._portal),
                                   ("dns", self._dns, self._dns_server)):  # fmt: skip
            if server is not None:
                out[name] = "serving"
            else:
                out[name] = "missing" if wanted and conf else "off"
        return out

    def _stop_servers(self):
        self._retry_at, self._retry_ms = None, _RETRY_MIN_MS
        for name in ("_portal", "_dns_server"):
            server = getattr(self, name)
            if server is not None:
                setattr(self, name, None)
                try:
                    server.stop()
                except Exception as e:
                    log.error("stopping %s: %r", name[1:], e)

    async def _tick(self):
        # The portal idle timeout: the access point closes when nobody used the portal for
        # portal_idle_timeout_s; the station keeps trying the known networks.
        while True:
            await asyncio.sleep_ms(0 if self._virtual else _TICK_MS)
            if self._virtual:
                await asyncio.sleep_ms(0)
            try:
                self._tick_once()
            except Exception as e:  # keep ticking; say what went wrong
                log.error("manager tick: %r", e)

    def _tick_once(self):
        timeout = self.config.get("portal_idle_timeout_s") or 0
        s = self._link.status()
        if self._retry_at is not None and ticks_diff(self.now_ms(), self._retry_at) >= 0:
            self._start_servers()  # a server that failed to start, again after its backoff
        if s["state"] == "connected":
            self._remember(s)  # the link reports last_good just after "connected"
        g = self.app["grace"]  # the application's grace time: ran it without a crash?
        if g and not self.app["healthy"] and not self.app["new"]:
            if ticks_diff(self.now_ms(), g[0]) >= g[1]:
                call_dropped("safemode", "ok", self.app, True)
        if timeout and s["ap_active"] and ticks_diff(self.now_ms(), self._seen) >= timeout * 1000:
            log.info("portal idle for %d s: closing the access point", timeout)
            self._override = {"ap_policy": "never"}
            self._idle_closed = True
            self._link.stop()
            self.apply()
            self._link.start()

    def _module(self, name):
        # wifimgr.<name> (portal, ota), or None when this installation does not have it.
        try:
            __import__("wifimgr." + name)
        except ImportError as e:
            if name not in str(e):
                raise  # the module is there but something it imports is not
            return None
        return sys.modules["wifimgr." + name]
