"""The credential store: passwords encrypted at rest, in esp32.NVS on an ESP32, else a file.

All secrets live in one record: {name: secret} as JSON, encrypted with AES-256-CBC (cryptolib)
under a random IV and authenticated with HMAC-SHA256 (encrypt-then-MAC) over the whole record.
A firmware built without cryptolib (a unix build without mbedTLS) uses HMAC-SHA256 in counter
mode as the cipher instead, so nothing is ever written in plaintext. The keys come from
HMAC-SHA256 over the chip's unique id (machine.unique_id(), else the station MAC) and a random
16-byte salt made once per device and stored beside the record. MicroPython has no `hmac`
module, so HMAC is built here on hashlib.sha256 (RFC 2104).

Record layout: b"WMS1" (or b"WMH1") | salt (16) | iv (16) | tag (32) | ciphertext, the tag
being HMAC-SHA256(mac key, magic | salt | iv | ciphertext).

What this protects against, and what not: see "Credentials at rest" in the README. In short,
the record is useless when copied off the filesystem alone (a backup, a file listing, a
leaked `os.listdir` over WebREPL), but anyone who can read the whole flash or run code on the
device has the unique id and the salt and can decrypt it. Real protection is ESP-IDF's flash
encryption plus NVS encryption.
"""

import hashlib
import json
import os

from micropython import const

from wifimgr import _fs
from wifimgr import _log as log
from wifimgr.platform import unique_id

_MAGIC = b"WMS1"  # AES-256-CBC
_MAGIC_STREAM = b"WMH1"  # HMAC-SHA256 counter mode, where cryptolib is missing
_SALT = const(16)
_IV = const(16)
_TAG = const(32)
# Where each part of the record starts (see "Record layout" above): magic, salt, iv, tag, body.
_SALT_AT = const(4)
_IV_AT = const(_SALT_AT + _SALT)
_TAG_AT = const(_IV_AT + _IV)
_HEADER = const(_TAG_AT + _TAG)
_NVS_NAMESPACE = "wifimgr"
_NVS_KEY = "store"
_MAX_RECORD = const(8192)
SETUP_KEY = "setup_key"  # the store name of the device's setup key
# The setup key's alphabet: lower-case letters and digits a person reads off a label and
# types on a phone without doubt: no 0/o, 1/l/i, 2/z, 5/s, 8/b, u/v.
SETUP_KEY_ALPHABET = "3467acdefghjkmnpqrtwxy"
SETUP_KEY_GROUPS = const(3)  # of four: 12 characters, 53 bits


class StoreError(ValueError):
    """The stored record cannot be used: wrong device, tampered with, or damaged."""


def hmac_sha256(key, msg):
    """HMAC-SHA256 (RFC 2104) of `msg` under `key`, both bytes."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key + bytes(64 - len(key))
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    inner.update(msg)
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    outer.update(inner.digest())
    return outer.digest()


def _random(n):
    try:
        return os.urandom(n)
    except (AttributeError, OSError):
        import random

        return bytes(random.getrandbits(8) for _ in range(n))


def make_setup_key():
    """A fresh setup key, "xxxx-xxxx-xxxx" from SETUP_KEY_ALPHABET (uniform: bytes of 256 or
    more than the largest multiple of the alphabet's size are drawn again)."""
    n = len(SETUP_KEY_ALPHABET)
    top = 256 - 256 % n
    out = ""
    while len(out) < SETUP_KEY_GROUPS * 5 - 1:
        if len(out) % 5 == 4:
            out += "-"
            continue
        b = _random(1)[0]
        if b < top:
            out += SETUP_KEY_ALPHABET[b % n]
    return out


def _keys(uid, salt):
    # (encryption key, MAC key) for this device and salt.
    prk = hmac_sha256(uid or b"wifimgr: no unique id", b"wifimgr store v1" + salt)
    return hmac_sha256(prk, b"\x01aes-256-cbc"), hmac_sha256(prk, b"\x02hmac-sha256")


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


def _cipher(enc_key, iv):
    # AES-256-CBC from cryptolib; None on a build without it (see _stream).
    try:
        import cryptolib
    except ImportError:
        return None
    return cryptolib.aes(enc_key, 2, iv)


def _stream(enc_key, iv, data):
    # For firmware built without cryptolib: XOR with HMAC-SHA256(enc_key, iv | counter), a
    # PRF in counter mode (record magic WMH1). Still authenticated by the record's tag.
    out = bytearray(data)
    for block in range(0, len(out), 32):
        pad = hmac_sha256(enc_key, iv + block.to_bytes(4, "big"))
        for i in range(min(32, len(out) - block)):
            out[block + i] ^= pad[i]
    return bytes(out)


def seal(uid, salt, plaintext):
    """The record holding `plaintext` (bytes), encrypted for this uid and salt."""
    enc_key, mac_key = _keys(uid, salt)
    iv = _random(_IV)
    aes = _cipher(enc_key, iv)
    if aes is not None:
        pad = 16 - len(plaintext) % 16
        body = aes.encrypt(plaintext + bytes((pad,)) * pad)
        magic = _MAGIC
    else:
        body = _stream(enc_key, iv, plaintext)
        magic = _MAGIC_STREAM
    tag = hmac_sha256(mac_key, magic + salt + iv + body)
    return magic + salt + iv + tag + body


def open_record(uid, record):
    """(salt, plaintext) of a record; StoreError if it is not one of this device's records."""
    magic = bytes(record[:_SALT_AT])
    if len(record) < _HEADER or magic not in (_MAGIC, _MAGIC_STREAM):
        raise StoreError("not a wifimgr credential record (bad header)")
    if magic == _MAGIC and (len(record) - _HEADER) % 16:
        raise StoreError("not a wifimgr credential record (bad length)")
    salt = bytes(record[_SALT_AT:_IV_AT])
    iv = bytes(record[_IV_AT:_TAG_AT])
    tag = bytes(record[_TAG_AT:_HEADER])
    body = bytes(record[_HEADER:])
    enc_key, mac_key = _keys(uid, salt)
    if not same(hmac_sha256(mac_key, magic + salt + iv + body), tag):
        raise StoreError("record does not authenticate: another device's, or damaged")
    if magic == _MAGIC_STREAM:
        return salt, _stream(enc_key, iv, body)
    aes = _cipher(enc_key, iv)
    if aes is None:
        raise StoreError("record is AES-encrypted and this firmware has no cryptolib")
    plain = aes.decrypt(body)
    pad = plain[-1]
    if not 1 <= pad <= 16:
        raise StoreError("bad padding")
    return salt, plain[:-pad]


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
    if len(data) < _HEADER or data[:_SALT_AT] not in (_MAGIC, _MAGIC_STREAM):
        raise StoreError("%s: not a wifimgr credential record" % source)
    return data


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
            self._salt, plain = open_record(self.uid, record)
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
        if self._salt is None:
            self._salt = _random(_SALT)
        self.backend.write(seal(self.uid, self._salt, json.dumps(self._secrets).encode()))

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
            key = make_setup_key()
            self.put(SETUP_KEY, key)
        return key

    def clear(self):
        """Forgets every secret and erases the record (the salt goes with it)."""
        self._secrets = {}
        self._salt = None
        self._aside = False
        self.backend.erase()
