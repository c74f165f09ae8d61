"""The one-shot API, for a boot.py or main.py that joins WiFi and goes on:
wifimgr.setup_network(), has_ssid(), connect(), setup(), connect_or_setup(), clear(). Each runs
once, so its code is not kept: `wifimgr.<name>` (which documents it) runs it with this module
loaded for the call and dropped after (wifimgr.call_dropped())."""

import wifimgr
from wifimgr import DEFAULT_CONFIG


def _run_until(m, predicate, timeout_ms=None, serve="never", http=None, dns=None, fresh=False):
    # Runs the loop until predicate(status); `fresh`: a new round first if the last one is over.
    import asyncio

    async def main():
        m.start(http=http, dns=dns, serve=serve)
        if fresh and m.status(visitor=False)["state"] == "waiting":
            m.rescan()
            await m.wait_for(lambda s: s["state"] != "waiting", timeout_ms)
        ok = await m.wait_for(predicate, timeout_ms)
        # A freshly updated image is marked valid once connected: give the check its moment
        # before the loop stops.
        if m.status(visitor=False)["state"] == "connected":
            from time import ticks_diff

            t = m.now_ms()
            while m.checking_ota and ticks_diff(m.now_ms(), t) < 2000:
                await asyncio.sleep_ms(50)
        return ok

    return asyncio.run(main())


def _round_over(s):
    return s["state"] in ("connected", "waiting")


def setup_network(config_path=DEFAULT_CONFIG, *, timeout_ms=None, clock=None):
    m = wifimgr._get(config_path, clock)
    m.set_override(None)
    _run_until(m, _round_over, timeout_ms, fresh=True)
    return m.status(visitor=False)["state"] == "connected"


def has_ssid(config_path=DEFAULT_CONFIG, *, clock=None):
    return bool(wifimgr._get(config_path, clock).known_networks())


def connect(config_path=DEFAULT_CONFIG, *, timeout_ms=None, clock=None):
    m = wifimgr._get(config_path, clock)
    m.set_override({"ap_policy": "never"})
    _run_until(m, _round_over, timeout_ms, fresh=True)
    return m.sta if m.status(visitor=False)["state"] == "connected" else None


def setup(
    name=None,
    config_path=DEFAULT_CONFIG,
    *,
    http=("0.0.0.0", 80),
    dns=("0.0.0.0", 53),
    timeout_ms=None,
    clock=None,
):
    m = wifimgr._get(config_path, clock)
    if name is not None:
        m.set_name(name)
    m.set_override({"ap_policy": "fallback"})

    def done(s):
        if s["state"] == "connected" and not s["ap_active"]:
            return True
        # Idle timeout: the access point closed without credentials.
        return m.idle_closed and not s["ap_active"]

    _run_until(m, done, timeout_ms, "ap", http, dns, fresh=True)
    return m.sta if m.status(visitor=False)["state"] == "connected" else None


def connect_or_setup(name=None, callback=None, config_path=DEFAULT_CONFIG, **options):
    m = wifimgr._get(config_path, options.get("clock"))
    if name is not None:
        m.set_name(name)
    if callback is not None and callback not in wifimgr._events.get("connected", ()):
        wifimgr.on("connected", callback)
    sta = None
    if has_ssid(config_path):
        sta = connect(config_path, timeout_ms=options.get("timeout_ms"))
    if sta is None:
        sta = setup(name, config_path, **options)
    return sta


def clear(config_path=DEFAULT_CONFIG):
    m = wifimgr._get(config_path)
    m.config.clear_networks()
    m.config.delete("last_good")
    m.apply()
