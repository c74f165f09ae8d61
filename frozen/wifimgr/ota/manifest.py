"""wifimgr.ota.manifest: updates described by a release manifest (JSON, at most 16 KiB,
format 1): ci/release_manifest.py's ota.json with "boards", or a board's own manifest.json from
make firmware. It picks this board's image, skips a version that is not newer, downloads the
image (wifimgr.ota.download) and the manifest's "filesystem" files, each checked by its
SHA-256, and installs the files under the journal (wifimgr.ota.journal).
"""

import binascii
import hashlib
import json

from micropython import const

from wifimgr import __version__
from wifimgr.config import safe_url
from wifimgr.platform import build, reset

from . import TIMEOUT_MS, OTAError, begin, fail, refuse_if_unavailable
from .download import download
from .http import Trust, drive, get, join_url
from .image import BUF_SIZE
from .journal import install, make_dirs, remove, root, settle_files

MANIFEST_MAX = const(16384)
MANIFEST_FORMAT = const(1)


def parse_version(v):
    """ "1.2.3" (optionally "v1.2.3-rc1") as a comparable tuple; a suffix sorts before none."""
    v = v.lstrip("v")
    main, _, suffix = v.partition("-")
    try:
        nums = [int(x) for x in main.split(".")]
    except ValueError:
        raise OTAError("manifest", "version %r is not numbers separated by dots" % v)
    while len(nums) < 3:
        nums.append(0)  # "1.2" is "1.2.0"
    return tuple(nums) + ((0, suffix) if suffix else (1, ""))


def _boards(manifest):
    # ci/release_manifest.py's ota.json has "boards"; firmware/dist.py's per-board
    # manifest.json has one board whose app image sits next to it.
    if "boards" in manifest:
        boards = manifest["boards"]
        if isinstance(boards, dict) and boards:
            return boards
    elif "board" in manifest and isinstance(manifest.get("files"), list):
        for f in manifest["files"]:
            if isinstance(f, dict) and f.get("role") == "app":
                entry = {
                    "url": f.get("name"),
                    "sha256": f.get("sha256"),
                    "length": f.get("length"),
                }
                for key in ("chip", "chip_id", "flash_size"):
                    if key in manifest:
                        entry[key] = manifest[key]
                return {manifest["board"]: entry}
    raise OTAError("manifest", 'no "boards" (nor a per-board app image) in the manifest')


def select_board(manifest, board=None):
    """(name, entry) of the manifest's image for this device: `board`, else this firmware's
    build name (platform.build()), never the flash chip's size."""
    boards = _boards(manifest)
    name = build() if board is None else board
    if name not in boards:
        raise OTAError("board", "manifest has no %s; it has %s" % (name, ", ".join(boards)))
    return name, boards[name]


def _safe_path(path):
    if not isinstance(path, str) or not path.startswith("/") or "/../" in path + "/":
        raise OTAError("manifest", "file path %r is not absolute or leaves the filesystem" % path)
    return path


async def _fetch(url, timeout_ms, aio, trust, sha256, limit=MANIFEST_MAX):
    # A small document (the manifest) in RAM: as large as it is, at most `limit` bytes, with
    # the SHA-256 `sha256` when given.
    http = await get(url, timeout_ms, aio, trust, sha256 is not None)
    try:
        out = bytearray()
        chunk = memoryview(bytearray(512))
        while True:
            k = await http.readinto(chunk)
            if not k:
                break
            if len(out) + k > limit:
                raise OTAError("manifest", "%s is larger than %d bytes" % (safe_url(url), limit))
            out.extend(chunk[:k])
    finally:
        http.close()
    if sha256 is not None:
        got = binascii.hexlify(hashlib.sha256(out).digest()).decode()
        if got != sha256.lower():
            raise OTAError("sha256", "manifest SHA-256 is %s, expected %s" % (got, sha256))
    return bytes(out)


async def _fetch_file(entry, base, fs_root, timeout_ms, aio, trust):
    # One filesystem file to <path>.new, streamed and hashed; returns the temporary name.
    path = fs_root + _safe_path(entry.get("path"))
    url = join_url(base, entry["url"])
    tmp = path + ".new"
    http = await get(url, timeout_ms, aio, trust, True)  # the manifest's digest vouches
    h = hashlib.sha256()
    done = 0
    buf = bytearray(BUF_SIZE)
    mv = memoryview(buf)
    try:
        try:
            make_dirs(fs_root, entry["path"])
            f = open(tmp, "wb")
        except OSError as e:
            raise OTAError("file", "cannot write %s: %s" % (tmp, e))
        with f:
            while True:
                n = await http.readinto(mv)
                if not n:
                    break
                h.update(mv[:n])
                f.write(mv[:n])
                done += n
    finally:
        http.close()
    if "length" in entry and done != entry["length"]:
        raise OTAError(
            "length", "%s: received %d bytes, expected %d" % (path, done, entry["length"])
        )
    got = binascii.hexlify(h.digest()).decode()
    if got != entry.get("sha256", "").lower():
        raise OTAError("sha256", "%s: SHA-256 %s, expected %s" % (path, got, entry.get("sha256")))
    return tmp


async def _update_from_manifest(
    url, reboot, progress, board, timeout_ms, aio, force, fs_root, sha256, ca, pin
):
    refuse_if_unavailable()
    begin("checking", url=url)
    fs_root = root(fs_root)
    settle_files(fs_root)
    try:
        trust = Trust(ca, pin)
        try:
            manifest = json.loads(await _fetch(url, timeout_ms, aio, trust, sha256))
        except ValueError:
            raise OTAError("manifest", "%s is not JSON" % safe_url(url))
        if not isinstance(manifest, dict) or "version" not in manifest:
            raise OTAError("manifest", '%s has no "version"' % safe_url(url))
        if manifest.get("format", 1) > MANIFEST_FORMAT:
            raise OTAError(
                "manifest", "format %s is newer than this firmware reads" % manifest["format"]
            )
        new, ours = manifest["version"], __version__
        if not force and parse_version(new) <= parse_version(ours):
            begin("up_to_date", url=url, version=ours, offered=new)
            return None
        name, entry = select_board(manifest, board)
        for key in ("url", "sha256", "length"):
            if key not in entry:
                raise OTAError("manifest", "entry for %s has no %r" % (name, key))
        files = manifest.get("filesystem") or []
        for f in files:
            _safe_path(f.get("path"))
            if "url" not in f or "sha256" not in f:
                raise OTAError("manifest", 'file %s needs "url" and "sha256"' % f.get("path"))
    except OTAError as e:
        fail(url, e)
        raise
    image_url = join_url(url, entry["url"])
    target = await _download_checked(image_url, entry, progress, timeout_ms, aio, trust)
    staged = []
    try:
        for f in files:
            tmp = await _fetch_file(f, url, fs_root, timeout_ms, aio, trust)
            staged.append((tmp, fs_root + f["path"]))
    except (OTAError, OSError) as e:
        for tmp, _ in staged:
            remove(tmp)
        remove(fs_root + files[len(staged)]["path"] + ".new")
        err = e if isinstance(e, OTAError) else OTAError("file", str(e))
        fail(url, err)
        raise err
    try:
        install(fs_root, staged, target.info()[4])
        target.set_boot()
    except OSError as e:
        err = OTAError("flash", "installing the update failed: %s" % e)
        fail(url, err)
        raise err
    begin("done", url=url, version=new, board=name, boot=target.info()[4], files=len(staged))
    if reboot:
        reset()
    return new


async def _download_checked(url, entry, progress, timeout_ms, aio, trust):
    # The manifest, verified or vouched for, vouches for the image by its digest.
    try:
        return await download(
            url, entry["sha256"], entry["length"], progress, timeout_ms, aio, trust, True
        )
    except OTAError as e:
        fail(url, e)
        raise


def update_from_manifest(
    url,
    reboot=True,
    progress=None,
    board=None,
    timeout_ms=TIMEOUT_MS,
    force=False,
    fs_root=None,
    sha256=None,
    ca=None,
    pin=None,
):
    """Updates to the manifest's image for this board when its version is newer than ours
    (or always, with force), then writes the manifest's filesystem files under fs_root. The
    manifest comes from an https:// server verified with ca and/or pin, or has the SHA-256
    sha256; its digests then vouch for the image and files, wherever they come from.

    Returns the new version, or None when there was nothing newer; raises OTAError."""
    return drive(
        _update_from_manifest(
            url, reboot, progress, board, timeout_ms, False, force, fs_root, sha256, ca, pin
        )
    )


async def aupdate_from_manifest(
    url,
    reboot=True,
    progress=None,
    board=None,
    timeout_ms=TIMEOUT_MS,
    force=False,
    fs_root=None,
    sha256=None,
    ca=None,
    pin=None,
):
    return await _update_from_manifest(
        url, reboot, progress, board, timeout_ms, True, force, fs_root, sha256, ca, pin
    )
