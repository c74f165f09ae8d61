"""wifimgr.ota.rollback: a freshly updated image is kept only if it gets back onto WiFi.

The bootloader (rollback enabled) starts a new image as PENDING_VERIFY; unless the running
firmware marks it valid, the next boot goes back to the previous image. guard() runs at every
boot (wifimgr.start() on a board) and returns at once when nothing is pending; the HTTP client
is imported only for a health URL of a pending image.
"""

import time

from wifimgr.platform import reset

from . import OTAError, Partition, begin, no_flash, pending_verify, unavailable
from .journal import settle_files


async def _reachable(url, timeout_ms, trust):
    # Nothing is installed from a health URL: any answer 200 counts, over http:// too.
    from .http import get

    try:
        http = await get(url, timeout_ms, True, trust, True)
        http.close()
        return True
    except OTAError:
        return False


def _trust(ca, pin):
    from .http import Trust

    try:
        return Trust(ca, pin)
    except OTAError:  # a broken ota_ca: the health URL cannot be reached, the image goes back
        return None


async def guard(
    is_healthy,
    deadline_ms=120000,
    health_url=None,
    poll_ms=500,
    fs_root=None,
    clock=None,
    ca=None,
    pin=None,
):
    """Keeps a freshly updated image only if it proves healthy within deadline_ms.

    is_healthy() says the device is back on WiFi; with health_url, that URL must also answer
    200. Then the image is marked valid (returns "valid"); at the deadline the device reboots
    into the previous image. On a boot that is not pending verification it returns at once
    ("not_pending"), so a WiFi outage never causes a reboot loop; on firmware without OTA
    slots it returns "unavailable". It first settles the
    filesystem files of the last manifest update under fs_root (settle_files()). `clock`
    (with now_ms(), e.g. the simulator's) measures the deadline and the polls instead of
    time.ticks_ms. An https:// health_url is verified with ca and/or pin when given."""
    import asyncio

    if no_flash():
        return "not_pending"
    if unavailable():
        return "unavailable"
    settle_files(fs_root)
    if not pending_verify():
        return "not_pending"
    trust = _trust(ca, pin) if health_url is not None else None
    begin("verifying_health", deadline_ms=deadline_ms, health_url=health_url)

    now = clock.now_ms if clock is not None else time.ticks_ms

    def elapsed():
        return time.ticks_diff(now(), start)

    start = now()
    while elapsed() < deadline_ms:
        if is_healthy() and (
            health_url is None or trust and await _reachable(health_url, 5000, trust)
        ):
            Partition.mark_app_valid_cancel_rollback()
            settle_files(fs_root)
            begin("valid", after_ms=elapsed())
            return "valid"
        polled = now()
        while time.ticks_diff(now(), polled) < poll_ms:  # a virtual clock moves in its own time
            await asyncio.sleep_ms(0 if hasattr(clock, "advance") else poll_ms)
    begin("rolling_back", reason="not healthy within %d ms" % deadline_ms)
    reset()
