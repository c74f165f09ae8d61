"""wifimgr.ota.download: one app image from a URL into the app slot that is not running.

The image streams through one BUF_SIZE buffer straight into the slot's blocks while SHA-256
runs over it; nothing of the running slot is written. The header is checked as soon as it has
arrived, so a wrong image stops early; before set_boot() the length, the SHA-256 and the whole
image read back from flash (wifimgr.ota.image) must hold. The progress (bytes, percent, rate)
is current after every block written, in wifimgr.ota.status().
"""

import binascii
import hashlib
import time

from micropython import const

from wifimgr.platform import chip, reset

from . import TIMEOUT_MS, OTAError, Partition, begin, current, fail, refuse_if_unavailable
from .http import Trust, drive, get
from .image import BUF_SIZE, CHIP_IDS, check_header, check_image

_PROGRESS_STEP = const(65536)  # progress() calls of a download of unknown length: every 64 KiB


async def download(url, sha256, length, progress, timeout_ms, aio, trust, vouched):
    """Streams url into the next update partition and verifies it; returns that partition."""
    running = Partition(Partition.RUNNING)
    target = running.get_next_update()
    if target.info()[2] == running.info()[2]:
        raise OTAError("partition", "the next update partition is the running one")
    if Partition(Partition.BOOT).info()[2] == target.info()[2]:
        raise OTAError(
            "pending",
            "%s already holds an update that boots next: reboot first" % target.info()[4],
        )
    capacity = target.info()[3]
    if sha256 is not None:
        sha256 = sha256.lower()
        if len(sha256) != 64:
            raise OTAError("sha256", "expected digest %r is not 64 hex digits" % sha256)
    begin("connecting", url=url, bytes=0, total=length, percent=0, rate=0)
    http = await get(url, timeout_ms, aio, trust, vouched)
    try:
        total = http.length if http.length >= 0 else length
        if length is not None and http.length >= 0 and http.length != length:
            raise OTAError("length", "server sends %d bytes, expected %d" % (http.length, length))
        if total is not None and total > capacity:
            raise OTAError(
                "length", "image of %d bytes does not fit the %d-byte slot" % (total, capacity)
            )
        chip_id = CHIP_IDS.get(chip(), -1)
        buf = bytearray(BUF_SIZE)
        mv = memoryview(buf)
        h = hashlib.sha256()
        done = fill = block = 0
        checked = False
        start = time.ticks_ms()
        reported = -1  # the percent (or 64 KiB step) progress() was last called with
        begin("downloading", url=http.url, bytes=0, total=total, percent=0, rate=0)
        while True:
            n = await http.readinto(mv[fill:])
            if n:
                fill += n
                done += n
                if done > capacity:
                    raise OTAError("length", "more than the slot's %d bytes arrived" % capacity)
                if not checked and fill >= 80:
                    check_header(buf, chip_id)  # a wrong image stops before the download
                    checked = True
                if fill < BUF_SIZE:
                    continue
            if fill:
                h.update(mv[:fill])
                for i in range(fill, BUF_SIZE):
                    buf[i] = 0xFF  # the tail as a whole erased-looking sector (encryption-safe)
                target.writeblocks(block, buf)
                block += 1
                fill = 0
            # After every block: what status() shows moves as the flash fills, not in jumps.
            ms = max(time.ticks_diff(time.ticks_ms(), start), 1)
            current["bytes"] = done
            current["percent"] = done * 100 // total if total else None
            current["rate"] = done * 1000 // ms
            step = current["percent"] if total else done // _PROGRESS_STEP
            if step != reported or not n:
                reported = step
                if progress:
                    progress(current)
                if aio:
                    import asyncio

                    await asyncio.sleep_ms(0)
            if not n:
                break
    finally:
        http.close()
    begin("verifying", url=url, bytes=done, total=total, percent=100, rate=current["rate"])
    if length is not None and done != length:
        raise OTAError("length", "received %d bytes, expected %d" % (done, length))
    if done < 80:
        raise OTAError("truncated", "only %d bytes arrived" % done)
    if sha256 is not None:
        got = binascii.hexlify(h.digest()).decode()
        if got != sha256:
            raise OTAError("sha256", "image SHA-256 is %s, expected %s" % (got, sha256))
    current["image_version"] = check_image(target, done, buf)
    return target


async def _update(url, sha256, length, reboot, progress, timeout_ms, aio, ca, pin):
    refuse_if_unavailable()
    try:
        trust = Trust(ca, pin)
        target = await download(
            url, sha256, length, progress, timeout_ms, aio, trust, sha256 is not None
        )
        target.set_boot()
    except OTAError as e:
        fail(url, e)
        raise
    except OSError as e:
        e = OTAError("flash", "writing the update partition failed: %s" % e)
        fail(url, e)
        raise e
    current["state"] = "done"
    current["boot"] = target.info()[4]
    if reboot:
        reset()
    return target.info()[4]


def update(
    url,
    sha256=None,
    length=None,
    reboot=True,
    progress=None,
    timeout_ms=TIMEOUT_MS,
    ca=None,
    pin=None,
):
    """Downloads the app image at url into the other slot, verifies it and makes it bootable.
    An https:// server is verified with ca and/or pin; without them (and for http://) the
    image's sha256 must be given. progress(status) is called as the percentage grows.

    Returns the label of the slot that boots next (when reboot is False); raises OTAError."""
    return drive(_update(url, sha256, length, reboot, progress, timeout_ms, False, ca, pin))


async def aupdate(
    url,
    sha256=None,
    length=None,
    reboot=True,
    progress=None,
    timeout_ms=TIMEOUT_MS,
    ca=None,
    pin=None,
):
    """update() for asyncio: other tasks run while it downloads; a stall still ends it after
    timeout_ms."""
    return await _update(url, sha256, length, reboot, progress, timeout_ms, True, ca, pin)
