"""The credential store's record, sealed and opened: what wifimgr.store runs when it loads or
saves (through wifimgr.call_dropped(), so that from .mpy this code is not kept on the heap
between uses), and the setup key made at first boot.

All secrets live in one record: {name: secret} as JSON, encrypted with AES-256-CBC (cryptolib)
under a random IV and authenticated with HMAC-SHA256 (encrypt-then-MAC) over the whole record.
A firmware built without cryptolib (a unix build without mbedTLS) uses HMAC-SHA256 in counter
mode as the cipher instead, so nothing is ever written in plaintext. The keys come from
HMAC-SHA256 over the chip's unique id (machine.unique_id(), else the station MAC) and a random
16-byte salt made once per device and stored beside the record. MicroPython has no `hmac`
module, so HMAC is built here on hashlib.sha256 (RFC 2104).

Record layout: b"WMS1" (or b"WMH1") | salt (16) | iv (16) | tag (32) | ciphertext, the tag
being HMAC-SHA256(mac key, magic | salt | iv | ciphertext).
"""

import hashlib
import os

from micropython import const

from wifimgr.store import StoreError, same

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
# The setup key's alphabet: lower-case letters and digits a person reads off a label and
# types on a phone without doubt: no 0/o, 1/l/i, 2/z, 5/s, 8/b, u/v.
SETUP_KEY_ALPHABET = "3467acdefghjkmnpqrtwxy"
SETUP_KEY_GROUPS = const(3)  # of four: 12 characters, 53 bits


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


def _cipher(enc_key, iv):
    # AES-256-CBC from cryptolib; None on a build without it (see _stream).
    try:
        from cryptolib import aes
    except ImportError:
        return None
    return aes(enc_key, 2, iv)


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
    """(salt, the record holding `plaintext` (bytes)), encrypted for this uid and salt; a new
    random salt when `salt` is None (the first save on this device)."""
    if salt is None:
        salt = _random(_SALT)
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
    return salt, magic + salt + iv + tag + body


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


def check_record(data, source):
    """`data` if it starts like a record (what the file backend reads); StoreError if not."""
    if len(data) < _HEADER or data[:_SALT_AT] not in (_MAGIC, _MAGIC_STREAM):
        raise StoreError("%s: not a wifimgr credential record" % source)
    return data
