"""wifimgr.ota.journal: the filesystem files of a manifest update follow the firmware.

The previous version of each file is kept as <path>.bak and a journal (/ota_files.json) names
the files and the slot they belong to. Whichever firmware boots next settles it
(settle_files(), run by the guard and before the next manifest update): running that slot and
valid, the .bak files go; running the other slot (the update was rolled back or never switched
over), the previous files come back.
"""

import json
import os

from wifimgr._fs import exists

from . import ON_HOST, Partition, pending_verify

_JOURNAL = "/ota_files.json"


def root(fs_root):
    # Manifest paths are the device's filesystem: "/" on a board, the current directory on the
    # unix port (never the host's root).
    if fs_root is None:
        return "." if ON_HOST else ""
    return fs_root


def remove(name):
    try:
        os.remove(name)
    except OSError:
        pass


def make_dirs(fs_root, path):
    # The directories above a manifest file that this device does not have yet.
    d = fs_root
    for part in path.split("/")[1:-1]:
        d += "/" + part
        if not exists(d):
            os.mkdir(d)


def install(fs_root, staged, slot):
    """Puts the staged files ((temporary name, path) pairs) in place under a journal that
    names `slot` as the firmware they belong to."""
    entries = [[path, exists(path)] for _tmp, path in staged]
    tmp = fs_root + _JOURNAL + ".new"
    with open(tmp, "w") as f:
        json.dump({"slot": slot, "files": entries}, f)
    os.rename(tmp, fs_root + _JOURNAL)
    for i, (new, path) in enumerate(staged):
        if entries[i][1]:
            remove(path + ".bak")
            os.rename(path, path + ".bak")
        os.rename(new, path)  # each file atomically


def settle_files(fs_root=None):
    """Keeps or restores the files of the last manifest update to match the firmware that
    runs; returns "kept", "restored", "pending" or None (nothing to settle)."""
    fs_root = root(fs_root)
    try:
        with open(fs_root + _JOURNAL) as f:
            journal = json.load(f)
    except (OSError, ValueError):
        remove(fs_root + _JOURNAL)
        return None
    running = Partition(Partition.RUNNING).info()[4]
    if running == journal["slot"] and pending_verify():
        return "pending"
    keep = running == journal["slot"]
    for path, had_old in journal["files"]:
        remove(path + ".new")
        if keep:
            remove(path + ".bak")
        elif had_old:
            if exists(path + ".bak"):
                remove(path)
                os.rename(path + ".bak", path)
        else:
            remove(path)
    remove(fs_root + _JOURNAL)
    return "kept" if keep else "restored"
