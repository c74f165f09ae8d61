"""An HTTP client on wifimgr: fetches a JSON document every few seconds while the WiFi is up
and shows it in wifimgr.data (the portal's status page, and /data).

Install (stock MicroPython): `mpremote mip install github:<owner>/<repo>@mip requests`, or add
require("requests") to your firmware's manifest. Copy this file to the device as main.py.
Settings are your own keys in /wifimgr.json: `http_url` (required), `http_every_s` (10).

The `connected` event starts the polling task and `disconnected` stops it, so no request is
made (and none waits for a timeout) while the device is off the network.
"""

import asyncio
import time

import requests
import wifimgr
from wifimgr import config

_task = None


async def poll(up_ms):
    url, every = config.get("http_url"), config.get("http_every_s", 10)
    first = True
    while True:
        t = time.ticks_ms()
        try:
            r = requests.get(url, timeout=5)  # blocks the loop for the request (requests)
            try:
                wifimgr.data["fetched"] = r.json() if r.status_code == 200 else None
                wifimgr.data["http_status"] = r.status_code
            finally:
                r.close()
            after = " %d ms after WiFi" % time.ticks_diff(t, up_ms) if first else ""
            print("http: GET %s: %d in %d ms%s" % (url, r.status_code,
                  time.ticks_diff(time.ticks_ms(), t), after))  # fmt: skip
            first = False
        except (OSError, ValueError) as e:  # no answer, or not JSON: tried again next round
            print("http: GET %s: %r" % (url, e))
        await asyncio.sleep(every)


def on_connected(status):
    global _task
    if _task is None:
        _task = asyncio.create_task(poll(time.ticks_ms()))


def on_disconnected(status):
    global _task
    if _task is not None:
        _task.cancel()
        _task = None


def main(**start):
    """wifimgr.start(**start) with the client on its events, then the loop, forever."""
    wifimgr.on("connected", on_connected)
    wifimgr.on("disconnected", on_disconnected)
    wifimgr.start(**start)
    wifimgr.run()


if __name__ == "__main__":
    main()
