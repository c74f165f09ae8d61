"""Provisioning files: a `wifi.json` dropped on the filesystem (mipy-esp style,
{"SSID": "PASSWORD", ...}, most preferred first) becomes known networks, their passwords in the
credential store; the manager imports it at start (`at_start()`, with what else it does to
the configuration and the store once, this module loaded for it and dropped after).
"""

import json
import os

from wifimgr import _fs
from wifimgr import _log as log
from wifimgr import config as _config
from wifimgr.store import SETUP_KEY, Store


def _string_end(text, i):
    # text[i] opens a JSON string: the index just after the quote that closes it.
    i += 1
    while text[i] != '"':
        i += 2 if text[i] == "\\" else 1
    return i + 1


def keys_in_order(text):
    """The keys of the JSON object `text` in the order they are written (MicroPython's dicts do
    not keep it), each once; `text` must be valid JSON whose value is an object. Strings are
    read whole, so a key written with escapes or a value holding braces or quotes is no other
    key."""
    keys = []
    depth = 0
    expect_key = False
    i = 0
    while i < len(text):
        c = text[i]
        if c == '"':
            end = _string_end(text, i)
            if expect_key:
                key = json.loads(text[i:end])
                if key not in keys:
                    keys.append(key)
                expect_key = False
            i = end
            continue
        if c in "{[":
            depth += 1
            expect_key = depth == 1
        elif c in "}]":
            depth -= 1
        elif c == "," and depth == 1:
            expect_key = True
        i += 1
    return keys


def import_wifi_json(cfg, path):
    """Imports the provisioning file at `path` into `cfg` (a Config with a store), in the
    file's order; deletes the file only once a fresh read of the configuration and of the
    store gives back every network and password. Returns the SSIDs imported; raises
    ValueError/OSError naming the file and the entry when it cannot be used (the file stays)."""
    data = _fs.read_bytes(path)
    if data is None:
        return []
    try:
        text = data.decode()
        nets = json.loads(text)
    except (UnicodeError, ValueError):
        raise ValueError("%s: is not valid UTF-8 JSON" % path)
    if not isinstance(nets, dict):
        raise ValueError('%s: must be an object {"SSID": "PASSWORD", ...}' % path)
    items = [(ssid, nets[ssid]) for ssid in keys_in_order(text)]
    for ssid, password in items:
        _config.check_ssid(ssid, "%s: %r" % (path, ssid))
        _config.check_password(password, "%s: password of %r" % (path, ssid))
    known = cfg.ssids()
    for ssid, password in items:
        cfg.add_network(ssid, password, first=None, save=False)
    cfg.save()
    # Verify from what is on disk (or in NVS) now, not from memory.
    store = Store(cfg.store.backend, cfg.store.uid)
    check = _config.Config(cfg.path, store)
    for ssid, password in items:
        if ssid not in check.ssids() or check.password(ssid) != password:
            raise OSError("%s: %r did not read back after import; file kept" % (path, ssid))
    os.remove(path)
    log.info("imported %d network(s) from %s (%d already known)", len(items), path, len(known))
    return [ssid for ssid, _ in items]


def at_start(cfg, store, errors):
    """What the Manager does once with the configuration `cfg` and the store it read; what
    fails is added to `errors` (its status()["errors"]): the passwords of a schema 2 file are
    moved to the store now, not at some later save; a wifi.json beside the configuration is
    imported; the setup key is made at first boot and printed at every boot (the serial
    console is one of the places its owner reads it; the label is the other; not through the
    logger: it must show at every log level, and only here)."""
    if cfg.error is None and cfg.has_plaintext():
        try:
            cfg.save()
        except Exception as e:
            errors.append("%s: passwords not moved to the store: %s" % (cfg.path, e))
    path = cfg.path[: cfg.path.rfind("/") + 1] + "wifi.json"
    if _fs.exists(path):
        try:
            if import_wifi_json(cfg, path):
                log.info("provisioned from %s", path)
        except (OSError, ValueError) as e:
            msg = "wifi.json not imported: %s" % e
            log.error(msg)
            errors.append(msg)
    try:
        key = store.setup_key()
    except OSError as e:
        key = store.get(SETUP_KEY)
        errors.append("setup key not saved (it holds for this boot only): %s" % e)
    print("wifimgr: setup key %s" % key)
