"""wifimgr.ota.managed: what the Manager runs of OTA, imported only when it runs: an update
started from the portal or Manager.ota_update() (`start()`), on the Manager's loop, and the
health check of a freshly updated image at boot (`guard()`). How the Manager shows their
progress is wifimgr.ota.merged_status()."""

import asyncio

from micropython import const

from wifimgr import _log as log
from wifimgr.config import safe_url

OTA_GUARD_S = const(120)  # default ota_guard_s: how long a new image has to rejoin WiFi
OTA_RESTART_DELAY_MS = const(3000)  # from "installed" to the restart, for the portal to show it


def start(ota, url, sha256, cfg):
    """Starts the update from `url` in the background (Manager.ota_update() checked the URL
    and that none runs) and returns its state, {"state": "running", "url", "error"}, which
    changes to "done", "failed" or "up_to_date"; OSError if this firmware cannot update over
    the air. The server is verified with the configuration `cfg`'s ota_ca / ota_pin."""
    if ota.unavailable():  # ota.status() says why; nothing is started
        raise OSError("ota_update: %s" % ota.unavailable())
    job = {"state": "running", "url": safe_url(url), "error": None}
    asyncio.create_task(_run(job, ota, url, sha256, cfg))
    return job


async def _run(job, ota, url, sha256, cfg):
    shown = job["url"]  # what the status and the log say: no credentials
    trust = {"ca": cfg.get("ota_ca"), "pin": cfg.get("ota_pin")}
    try:
        # Other tasks (the portal showing the progress) run while it downloads.
        if url.split("?")[0].endswith(".json"):
            installed = await ota.aupdate_from_manifest(url, reboot=False, sha256=sha256, **trust)
        else:
            installed = await ota.aupdate(url, sha256=sha256, reboot=False, **trust)
    except Exception as e:
        log.error("OTA from %s failed: %r", shown, e)
        job.update(state="failed", error=str(e) or repr(e))
        return
    if installed is None:  # the manifest offers nothing newer than this firmware
        job["state"] = "up_to_date"
        return
    job["state"] = "done"
    log.info("OTA from %s installed; restarting in %d ms", shown, OTA_RESTART_DELAY_MS)
    await asyncio.sleep_ms(OTA_RESTART_DELAY_MS)  # the portal shows "installed" meanwhile
    ota.reset()


def guard(ota, m, clock):
    """The task that keeps a freshly updated image only once Manager `m` is back on WiFi and
    the application run by wifimgr.run(app) is healthy (app_ok(), or app_grace_s without a
    crash): wifimgr.ota marks it valid, or reboots into the previous image at the deadline.
    `clock`: the Manager's (None on a device)."""
    cfg = m.config

    def healthy():
        app = m.app
        return m.link.status()["state"] == "connected" and (app["healthy"] or not app["counting"])

    async def run():
        try:
            r = await ota.guard(
                healthy,
                deadline_ms=cfg.get("ota_guard_s", OTA_GUARD_S) * 1000,
                health_url=cfg.get("ota_health_url"),
                clock=clock,
                ca=cfg.get("ota_ca"),
                pin=cfg.get("ota_pin"),
            )
            if r not in ("not_pending", "unavailable"):  # unavailable: in ota.status()
                log.info("OTA health check: the new firmware is %s", r)
        except Exception as e:
            log.error("OTA health check failed: %r", e)

    return asyncio.create_task(run())
