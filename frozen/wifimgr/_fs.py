"""Files that survive a power cut: the configuration (wifimgr.config) and the credential store
file (wifimgr.store) are written and read through these.

`write_atomic()` writes `<path>.tmp` and reads it back, keeps the current file as `<path>.bak`,
then renames the new one into place; `read_atomic()` tries `<path>`, then `<path>.bak`. A write
torn at any byte leaves the old or the new version readable.
"""

import os

from micropython import const

_STAT_DIR = const(0x4000)


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def is_dir(path):
    try:
        return bool(os.stat(path)[0] & _STAT_DIR)
    except OSError:
        return False


def _write(path, data):
    # Replaced by the torn-write test with a writer that stops after n bytes.
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        fsync = getattr(os, "fsync", None)
        if fsync is not None:
            fsync(f.fileno())


def step(name):
    # Hook for the power-loss test: called between the steps of write_atomic().
    pass


def read_bytes(path):
    """The file's bytes, or None if it does not exist; OSError naming it if it cannot be read."""
    if is_dir(path):
        raise OSError("%s: is a directory, not a file" % path)
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        if e.args and e.args[0] == 2:  # ENOENT
            return None
        raise OSError("%s: cannot read: %s" % (path, e))


def write_atomic(path, data):
    """Writes `data` (bytes) to `path` so that a crash at any point leaves either the old file
    (at `path`, else `path`.bak) or the new one. The previous version is kept as `path`.bak."""
    if is_dir(path):
        raise OSError("%s: is a directory, not a file" % path)
    tmp = path + ".tmp"
    bak = path + ".bak"
    _write(tmp, data)
    step("written")
    if read_bytes(tmp) != data:
        raise OSError("%s: read back differs from what was written" % tmp)
    if exists(path):
        if exists(bak):
            os.remove(bak)
        step("bak_removed")
        os.rename(path, bak)
        step("old_moved")
    os.rename(tmp, path)
    step("renamed")


def read_atomic(path, parse):
    """Returns (value, used_path, error) from `path`, or from `path`.bak when `path` is missing
    or `parse` rejects it. value is None when neither gives one; error says why `path` was not
    used (None if it was, or if neither file exists)."""
    error = None
    for p in (path, path + ".bak"):
        try:
            data = read_bytes(p)
            if data is None:
                continue
            value = parse(data, p)
        except (OSError, ValueError) as e:
            if error is None:
                error = str(e)
            continue
        return value, p, error
    return None, None, error
