"""wifimgr: gets a MicroPython device onto WiFi and keeps it there.

One shot, at boot:
    wifimgr.setup_network()            -> True/False: join a known network, AP per start_policy
    wifimgr.connect_or_setup("name")   -> the connected WLAN, after the portal if needed
    wifimgr.has_ssid(), connect(), setup(), clear(): the same, step by step

Managed, on asyncio (reconnects forever; portal while the access point is up):
    wifimgr.run("app")                 -> main.py's one line: app.py runs beside WiFi, its
                                          crashes kept, safe mode after repeated crash boots
    wifimgr.start(...); wifimgr.run()
    wifimgr.status(), wifimgr.on(event, callback), wifimgr.data, wifimgr.config.get/set
    wifimgr.app_ok(), wifimgr.leave_safe_mode()
"""

__version__ = "0.1.0"

try:
    import _wifimgr
except ImportError:
    _wifimgr = None

# "native" when the firmware has the C module, "python" on stock MicroPython and the unix port.
backend = "native" if _wifimgr else "python"


def native(name):
    """The C module's class `name` ("DNSServer", "Link") when the firmware has it, else None."""
    return getattr(_wifimgr, name, None)


def call_dropped(module, function, *args, **kw):
    """wifimgr.<module>.<function>(*args, **kw), with the module dropped after (drop()) unless
    it was loaded before the call (something keeps it: wifimgr.link keeps wifimgr.linkspec):
    code that runs now and then (the config document's checks, the one-shot API, the portal's
    rare routes, ...) is not kept between uses."""
    import sys

    name = "wifimgr." + module
    kept = name in sys.modules
    __import__(name)
    try:
        return getattr(sys.modules[name], function)(*args, **kw)
    finally:
        if not kept:
            drop(module)


def drop(module):
    """Forgets wifimgr.<module> ("portal.api": a module of a subpackage), imported before: out of
    sys.modules and its package, so that the heap it holds is freed once nothing refers to it.
    From an .mpy, as mip installs the package, a module's bytecode lives on the heap while it is
    loaded. call_dropped() for one call; the portal for its API, kept while it is visited."""
    import sys

    name = "wifimgr." + module
    del sys.modules[name]
    package, _, leaf = name.rpartition(".")
    delattr(sys.modules[package], leaf)


def link_class():
    """The scan/connect state machine to use: `_wifimgr.Link` when the firmware has it, else
    the Python twin, `wifimgr.link.Link` (imported only then: it costs heap a board with the C
    module does not spend)."""
    cls = native("Link")
    if cls is None:
        from wifimgr.link import Link as cls
    return cls


def dns_class():
    """The captive DNS responder to use: `_wifimgr.DNSServer` when the firmware has it, else
    the Python twin, `wifimgr.dns.DNSServer` (imported only then)."""
    cls = native("DNSServer")
    if cls is None:
        from wifimgr.dns import DNSServer as cls
    return cls


DEFAULT_CONFIG = "/wifimgr.json"
EVENTS = ("connected", "disconnected", "ap_started", "ap_stopped", "provisioned")

# Application data shown by the portal's status page and served as JSON at /data.
data = {}

_events = {}  # event -> [callback], shared with the Manager
_manager = None


def _get(config_path=None, clock=None):
    # The process's manager, made on first use (again if another configuration is asked for).
    global _manager
    if _manager is None or (config_path is not None and config_path != _manager.config.path):
        from wifimgr.manager import Manager

        if _manager is not None:
            _manager.stop()
        _manager = Manager(config_path or DEFAULT_CONFIG, clock=clock, data=data, events=_events)
    return _manager


def get_manager():
    """The running Manager (made from the default configuration if there is none yet)."""
    return _get()


def start(
    config_path=DEFAULT_CONFIG,
    *,
    http=("0.0.0.0", 80),
    dns=("0.0.0.0", 53),
    serve="ap",
    clock=None,
    ota_guard=None,
):
    """Runs the manager on asyncio and returns at once: the state machine keeps the station on
    the known networks; the portal (HTTP on `http`) and the captive DNS (`dns`) run while the
    access point is up (`serve="ap"`), all the time (`"always"`) or never (`"never"`).
    Call it before or inside a running loop; `run()` runs the loop. On an ESP32 (or with
    ota_guard=True) a freshly updated firmware is kept only once it is back on WiFi
    (wifimgr.ota). Improv Wi-Fi answers on the serial console as the configuration's "improv"
    key says (wifimgr.improv). `clock` is for the simulator. Returns the Manager."""
    m = _get(config_path, clock)
    m.set_override(None)
    m.start(http=http, dns=dns, serve=serve, ota_guard=ota_guard)
    if call_dropped("policy", "wants_improv", m.config):  # improv: imported only where it answers
        try:
            from wifimgr import improv
        except ImportError:  # a package installed without it
            improv = None
        if improv is not None:
            improv.start(m)
    return m


def run(app=None):
    """Runs the asyncio loop forever (start() first if it was not called). An unhandled
    exception in a task, an event callback or `app` is kept (status()["app_error"], the
    portal) and WiFi, the portal and OTA go on; KeyboardInterrupt (Ctrl-C, mpremote) and
    SystemExit still end run(), back to the REPL.

    `app`, the application: a module name ("app": imports app.py, then calls its main() if
    it has one), a function or a coroutine; a coroutine function's coroutine is awaited. With
    an `app`, this boot is counted (wifimgr.safemode): after `safe_mode_boots` boots in a row
    that ended before the application was healthy (app_ok(), or `app_grace_s` without a
    crash), the application is not started (safe mode) until leave_safe_mode() or an
    update."""
    import asyncio

    m = _manager if _manager is not None and _manager.started else start()
    loop = asyncio.get_event_loop()
    loop.set_exception_handler(
        lambda _loop, ctx: call_dropped("safemode", "record", m.app, "task", ctx["exception"])
    )
    # With an application: this boot is counted, and it starts unless this boot is in safe mode.
    if app is not None and not call_dropped("safemode", "boot", m.app, m.config, m.now_ms()):

        async def main():
            try:
                a = app
                if isinstance(a, str):
                    a = getattr(__import__(a), "main", None)
                r = a() if callable(a) else a
                if r is not None and hasattr(r, "send"):  # a coroutine
                    await r
            except Exception as e:
                call_dropped("safemode", "record", m.app, "main", e)

        asyncio.create_task(main())
    loop.run_forever()


def app_ok():
    """The application says it is healthy: this boot is not counted as a failed one (see
    run()); an updated firmware is kept once this and WiFi are back."""
    app = _get().app
    if not app["healthy"]:  # (wifimgr.safemode is loaded only when that changes)
        call_dropped("safemode", "ok", app)


def leave_safe_mode(config_path=DEFAULT_CONFIG, *, restart=True):
    """Leaves safe mode (the portal can too): the application starts at the next boot, which
    is now (machine.reset()) unless restart=False."""
    _get(config_path).leave_safe_mode()
    if restart:
        from wifimgr.platform import reset

        reset()


def status():
    """The manager's status dict (state, ssid, ip, rssi, ap_active, trial, app_error, ...)."""
    return _get().status(visitor=False)


def on(event, callback):
    """Calls callback(status) on "connected", "disconnected", "ap_started", "ap_stopped" and
    callback(ssid) on "provisioned". What a "connected" callback returns (not None) is shown
    by the portal after provisioning, e.g. an MQTT topic."""
    subscribe(_events, event, callback)


def subscribe(events, event, callback):
    """Adds callback to events[event] (the facade's table, or a Manager's): the one check of
    the event's name."""
    if event not in EVENTS:
        raise ValueError("event must be one of %s, not %r" % (", ".join(EVENTS), event))
    events.setdefault(event, []).append(callback)


def off(event, callback):
    if callback in _events.get(event, ()):
        _events[event].remove(callback)


def log_level(level):
    """Sets the level of the "wifimgr" logger (logging.INFO etc.; quiet by default)."""
    from wifimgr import _log

    _log.setLevel(level)


# --- one shot: the code is wifimgr._oneshot's, loaded for the call and dropped after ----------


def setup_network(*args, **kw):
    """setup_network(config_path=DEFAULT_CONFIG, *, timeout_ms=None, clock=None): joins the
    most preferred known network it can, opens the access point as the configuration's
    start_policy says, starts WebREPL if asked for; returns True if connected. Returns after
    one round through the known networks."""
    return call_dropped("_oneshot", "setup_network", *args, **kw)


def has_ssid(*args, **kw):
    """has_ssid(config_path=DEFAULT_CONFIG, *, clock=None): True if credentials for at least
    one network are stored."""
    return call_dropped("_oneshot", "has_ssid", *args, **kw)


def connect(*args, **kw):
    """connect(config_path=DEFAULT_CONFIG, *, timeout_ms=None, clock=None): tries the known
    networks once without opening the access point; the connected station WLAN, or None."""
    return call_dropped("_oneshot", "connect", *args, **kw)


def setup(*args, **kw):
    """setup(name=None, config_path=DEFAULT_CONFIG, *, http=("0.0.0.0", 80),
    dns=("0.0.0.0", 53), timeout_ms=None, clock=None): opens the access point (named `name`,
    else the device name) with the portal and waits until the user has given working
    credentials and the access point closed; returns the connected station WLAN, or None if
    `timeout_ms` (or the portal idle timeout) ran out."""
    return call_dropped("_oneshot", "setup", *args, **kw)


def connect_or_setup(*args, **kw):
    """connect_or_setup(name=None, callback=None, config_path=DEFAULT_CONFIG, **options):
    connects to a known network, else runs setup(); returns the connected WLAN (or None on a
    timeout). `name` is the device's access point name and hostname; `callback(status)` runs
    on connect and what it returns is shown by the portal."""
    return call_dropped("_oneshot", "connect_or_setup", *args, **kw)


def clear(*args, **kw):
    """clear(config_path=DEFAULT_CONFIG): forgets every known network and its stored
    password."""
    return call_dropped("_oneshot", "clear", *args, **kw)
