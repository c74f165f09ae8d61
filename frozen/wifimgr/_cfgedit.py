"""What changes the configuration (wifimgr.config.Config's editing methods: save(), add_network(),
remove_network(), reorder(), clear_networks(), the access point and WebREPL passwords): loaded
for an edit and dropped after (wifimgr.call_dropped()), so that from .mpy this code is not on
the heap while nothing changes. The methods document it; these functions work on the Config's
fields."""

import json
import os

from wifimgr import _fs, call_dropped
from wifimgr import _log as log
from wifimgr.config import (
    AP_SECRET,
    MAX_NETWORKS,
    SCHEMA,
    WEBREPL_SECRET,
    ConfigError,
    _err,
    check,
    check_password,
    check_ssid,
    network_secret,
)


def save(cfg):
    check(cfg._doc)
    moved = _secrets_in_file(cfg)
    if moved and cfg.store is None:
        raise ConfigError("%s: cannot save: passwords need a credential store" % cfg.path)
    for name, value, _, _ in moved:
        cfg.store.put(name, value, save=False)
    if moved:
        cfg.store.save()
    cfg._doc["schema"] = SCHEMA
    data = _dumps_without(cfg._doc, moved)
    if cfg._refused and _fs.exists(cfg.path) and not _fs.is_dir(cfg.path):
        bad = cfg.path + ".bad"
        if _fs.exists(bad):
            os.remove(bad)
        os.rename(cfg.path, bad)
        log.error("config: kept the refused %s as %s", cfg.path, bad)
    _fs.write_atomic(cfg.path, data)
    for _, _, holder, key in moved:
        del holder[key]
    if moved and _fs.read_bytes(cfg.path) == data:
        # The migrated file reads back: the previous version held the passwords in
        # plaintext and goes now.
        _fs.step("migrated")
        os.remove(cfg.path + ".bak")
    cfg._refused = False
    cfg.error = None
    cfg.source = cfg.path


def _secrets_in_file(cfg):
    # Plaintext secrets of a schema 2 file: (store name, value, dict, key) to move.
    out = []
    doc = cfg._doc
    for net in doc.get("known_networks", []):
        if "password" in net:
            out.append((network_secret(net["ssid"]), net["password"], net, "password"))
    conf = doc.get("access_point", {}).get("config", {})
    for k in ("password", "key"):
        if k in conf:
            out.append((AP_SECRET, conf[k], conf, k))
    if doc.get("webrepl_password") is not None:
        out.append((WEBREPL_SECRET, doc["webrepl_password"], doc, "webrepl_password"))
    return out


def _set_secret(cfg, name, value):
    if cfg.store is None:
        raise ConfigError("%s: needs a credential store" % name)
    if value:
        cfg.store.put(name, value)
    else:
        cfg.store.delete(name)


def set_ap_password(cfg, password):
    password = check_password(password, "access_point.config.password")
    conf = cfg._doc.get("access_point", {}).get("config", {})
    for k in ("password", "key"):
        conf.pop(k, None)
    _set_secret(cfg, AP_SECRET, password)


def set_webrepl_password(cfg, password):
    if password is not None:
        check({"webrepl_password": password})
    cfg._doc.pop("webrepl_password", None)
    _set_secret(cfg, WEBREPL_SECRET, password)


def add_network(cfg, ssid, password, first, write, options):
    ssid = check_ssid(ssid)
    password = check_password(password)
    nets = list(cfg._doc.get("known_networks", []))
    entry = {"ssid": ssid}
    at = len(nets)
    for i, net in enumerate(nets):
        if net["ssid"] == ssid:
            entry = nets.pop(i)
            at = i
            break
    entry = dict(entry)
    entry.pop("password", None)
    entry.update(options)
    call_dropped("_schema", "check_network", entry, "network %r" % ssid)
    nets.insert(0 if first else len(nets) if first is False else at, entry)
    if len(nets) > MAX_NETWORKS:
        _err("known_networks", "at most %d networks" % MAX_NETWORKS)
    old = cfg._doc.get("known_networks")
    cfg._doc["known_networks"] = nets
    try:
        _set_secret(cfg, network_secret(ssid), password)
    except BaseException:
        if old is None:
            del cfg._doc["known_networks"]
        else:
            cfg._doc["known_networks"] = old
        raise
    if write:
        save(cfg)


def remove_network(cfg, ssid, write):
    nets = cfg._doc.get("known_networks", [])
    for i, net in enumerate(nets):
        if net["ssid"] == ssid:
            nets.pop(i)
            if cfg.store is not None:
                cfg.store.delete(network_secret(ssid))
            if cfg._doc.get("last_good") and cfg._doc["last_good"][0] == ssid:
                cfg._doc["last_good"] = None
            if write:
                save(cfg)
            return True
    return False


def reorder(cfg, ssids, write):
    nets = cfg._doc.get("known_networks", [])
    if not isinstance(ssids, (list, tuple)):
        raise ValueError("reorder: expected a list of SSIDs")
    if len(ssids) != len(nets) or sorted(ssids) != sorted(n["ssid"] for n in nets):
        raise ValueError("reorder: %r is not an order of the known networks" % (ssids,))
    by_ssid = {n["ssid"]: n for n in nets}
    cfg._doc["known_networks"] = [by_ssid[s] for s in ssids]
    if write:
        save(cfg)


def clear_networks(cfg, write):
    for ssid in cfg.ssids():
        remove_network(cfg, ssid, False)
    if write:
        save(cfg)


def _dumps_without(doc, moved):
    # JSON of doc without the secrets listed in `moved`, leaving doc itself intact.
    removed = []
    for _, value, holder, key in moved:
        removed.append((holder, key, value))
        del holder[key]
    try:
        return json.dumps(doc).encode()
    finally:
        for holder, key, value in removed:
            holder[key] = value


def has_plaintext(cfg):
    return bool(_secrets_in_file(cfg))
