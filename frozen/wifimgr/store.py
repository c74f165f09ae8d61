"""The credential store: passwords encrypted at rest, in esp32.NVS on an ESP32, else a file.

All secrets live in one record, encrypted and authenticated with keys from the chip's unique id
and a per-device salt; wifimgr._seal seals and opens it (loaded for a load or a save only, see
there for the cipher and the record's layout).

What this protects against, and what not: see "Credentials at rest" in the README. In short,
the record is useless when copied off the filesystem alone (a backup, a file listing, a
leaked `os.listdir` over WebREPL), but anyone who can read the whole flash or run code on the
device has the unique id and the salt and can decrypt it. Real protection is ESP-IDF's flash
encryption plus NVS encryption.
"""

import json
import os

from micropython import const

from wifimgr import _fs, call_dropped
from wifimgr import _log as log
from wifimgr.platform import unique_id

_NVS_NAMESPACE = "wifimgr"
_NVS_KEY = "store"
_MAX_RECORD = const(8192)
SETUP_KEY = "setup_key"  # the store name of the device's setup key


class StoreError(ValueError):
    """The stored record cannot be used: wrong device, tampered with, or damaged."""


def same(a, b):
    """Whether `a` and `b`, both bytes or both str, are equal, compared in a time that does not
    depend on where they differ (tags here, the portal's tokens). False for anything else."""
    if isinstance(a, str) and isinstance(b, str):
        a, b = a.encode(), b.encode()
    if not isinstance(a, (bytes, bytearray)) or not isinstance(b, (bytes, bytearray)):
        return False
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


class FileBackend:
    """The record in a file, written atomically like the configuration."""

    def __init__(self, path):
        self.path = path

    def read(self):
        record, _, error = _fs.read_atomic(self.path, _check_record)
        if record is None and error:
            raise StoreError(error)
        return record

    def write(self, record):
        _fs.write_atomic(self.path, record)

    def keep_damaged(self):
        for p in (self.path, self.path + ".bak"):
            if _fs.read_bytes(p) is not None:
                os.rename(p, p + ".bad")

    def erase(self):
        for p in (self.path, self.path + ".bak", self.path + ".tmp"):
            try:
                os.remove(p)
            except OSError:
                pass

    def describe(self):
        return self.path


def _check_record(data, source):
    return call_dropped("_seal", "check_record", data, source)


class NVSBackend:
    """The record as one blob in the ESP32's NVS (committed atomically by ESP-IDF)."""

    def __init__(self, namespace=_NVS_NAMESPACE):
        import esp32

        self._nvs = esp32.NVS(namespace)
        self.namespace = namespace

    def read(self):
        buf = bytearray(_MAX_RECORD)
        try:
            n = self._nvs.get_blob(_NVS_KEY, buf)
        except OSError:
            return None  # ESP_ERR_NVS_NOT_FOUND
        return bytes(buf[:n])

    def write(self, record):
        if len(record) > _MAX_RECORD:
            raise OSError("credential record too large: %d bytes" % len(record))
        self._nvs.set_blob(_NVS_KEY, record)
        self._nvs.commit()

    def keep_damaged(self):
        record = self.read()
        if record is not None:
            self._nvs.set_blob(_NVS_KEY + ".bad", record)
            self.erase()

    def erase(self):
        try:
            self._nvs.erase_key(_NVS_KEY)
            self._nvs.commit()
        except OSError:
            pass

    def describe(self):
        return "nvs:" + self.namespace


def default_backend(path):
    """NVS on an ESP32 (esp32.NVS present), else a file at `path`."""
    try:
        import esp32

        if hasattr(esp32, "NVS"):
            return NVSBackend()
    except ImportError:
        pass
    return FileBackend(path)


class Store:
    """Secrets by name: get(name), put(name, secret), delete(name), names(), clear().

    `Store(backend, uid)`; `Store.for_config(config_path)` picks the backend (NVS on ESP32,
    else `<config path without .json>.store`) and the chip's unique id. A record that does not
    open (another device's, or damaged) is kept aside as `.bad`, never overwritten, and
    `error` says so; the store then starts empty.
    """

    def __init__(self, backend, uid=None):
        self.backend = backend
        self.uid = uid if uid is not None else unique_id()
        self.error = None
        self._salt = None
        self._secrets = {}
        self._aside = False
        self.load()

    @classmethod
    def for_config(cls, config_path, uid=None):
        base = config_path[:-5] if config_path.endswith(".json") else config_path
        return cls(default_backend(base + ".store"), uid)

    def load(self):
        self.error = None
        try:
            record = self.backend.read()
            if record is None:
                self._salt, self._secrets = None, {}
                return
            self._salt, plain = call_dropped("_seal", "open_record", self.uid, record)
            secrets = json.loads(plain)
            if not isinstance(secrets, dict):
                raise StoreError("record does not hold a dict")
            self._secrets = secrets
        except (OSError, ValueError) as e:
            self.error = "credential store %s: %s" % (self.backend.describe(), e)
            log.error("%s; starting with no stored credentials", self.error)
            self._secrets = {}
            self._aside = True

    def save(self):
        if self._aside:
            self.backend.keep_damaged()
            self._aside = False
        plain = json.dumps(self._secrets).encode()
        self._salt, record = call_dropped("_seal", "seal", self.uid, self._salt, plain)
        self.backend.write(record)

    def get(self, name, default=None):
        return self._secrets.get(name, default)

    def put(self, name, secret, save=True):
        if not isinstance(name, str) or not isinstance(secret, str):
            raise ValueError("store: name and secret must be strings")
        if self._secrets.get(name) == secret:
            return
        self._secrets[name] = secret
        if save:
            self.save()

    def delete(self, name, save=True):
        if self._secrets.pop(name, None) is not None and save:
            self.save()

    def names(self):
        return list(self._secrets)

    def setup_key(self):
        """The device's setup key: made (random) and saved the first time it is asked for.
        It is the proof of possession of the device (see "Who can do what" in the README).
        OSError when it could not be saved: the key made then holds for this boot only."""
        key = self._secrets.get(SETUP_KEY)
        if key is None:
            key = call_dropped("_seal", "make_setup_key")
            self.put(SETUP_KEY, key)
        return key

    def clear(self):
        """Forgets every secret and erases the record (the salt goes with it)."""
        self._secrets = {}
        self._salt = None
        self._aside = False
        self.backend.erase()
