"""frozen/wifimgr/store.py on MicroPython: HMAC-SHA256 on hashlib, AES records that CPython's
`cryptography` decrypts independently, no plaintext at rest, another device's record refused
and kept, and the wifi.json provisioning file of seeds/mipy-esp.md."""

import hashlib
import hmac
import json
import re

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from helpers.pkg import run_json

UID = b"\x24\x0a\xc4\x12\x34\x56"


@pytest.mark.parametrize(
    "key, msg",
    [
        (b"\x0b" * 20, b"Hi There"),  # RFC 4231 test case 1
        (b"Jefe", b"what do ya want for nothing?"),  # case 2
        (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First"),  # case 6
        (b"", b""),
        (b"k" * 64, b"m" * 1000),
    ],
)
def test_hmac_sha256_matches_cpython(micropython, key, msg):
    r = run_json(
        micropython,
        "from wifimgr._seal import hmac_sha256\nout(hmac_sha256(%r, %r).hex())" % (key, msg),
    )
    assert r == hmac.new(key, msg, hashlib.sha256).hexdigest()


def _open_in_cpython(record, uid):
    # The record layout and key schedule of store.py, recomputed without its code: AES-256-CBC
    # (WMS1), or HMAC-SHA256 counter mode (WMH1) on a build without cryptolib.
    magic = record[:4]
    assert magic in (b"WMS1", b"WMH1")
    salt, iv, tag, body = record[4:20], record[20:36], record[36:68], record[68:]
    prk = hmac.new(uid, b"wifimgr store v1" + salt, hashlib.sha256).digest()
    enc = hmac.new(prk, b"\x01aes-256-cbc", hashlib.sha256).digest()
    mac = hmac.new(prk, b"\x02hmac-sha256", hashlib.sha256).digest()
    expect = hmac.new(mac, magic + salt + iv + body, hashlib.sha256).digest()
    assert hmac.compare_digest(expect, tag)
    if magic == b"WMH1":
        pad = b"".join(
            hmac.new(enc, iv + n.to_bytes(4, "big"), hashlib.sha256).digest()
            for n in range(0, len(body), 32)
        )
        return json.loads(bytes(a ^ b for a, b in zip(body, pad, strict=False)))
    d = Cipher(algorithms.AES(enc), modes.CBC(iv)).decryptor()
    plain = d.update(body) + d.finalize()
    return json.loads(plain[: -plain[-1]])


def test_passwords_are_encrypted_at_rest_and_cpython_can_check_the_format(micropython):
    """Two saves of the same secrets give different records (random IV); the salt stays; no
    password appears in any file; CPython decrypts with the documented key schedule."""
    r = run_json(
        micropython,
        """
from wifimgr.store import Store, FileBackend
s = Store(FileBackend("creds.store"), UID)
s.put("net:Home", "correct-horse-battery")
s.put("ap", "ap-password-1")
first = read("creds.store")
s.put("webrepl", "wr123")
s2 = Store(FileBackend("creds.store"), UID)
out([first.hex(), read("creds.store").hex(), sorted(s2.names()), s2.get("net:Home"),
     s2.error])
""",
    )
    first, second, names, pw, error = r
    first, second = bytes.fromhex(first), bytes.fromhex(second)
    assert names == ["ap", "net:Home", "webrepl"] and pw == "correct-horse-battery"
    assert error is None
    assert first[4:20] == second[4:20]  # the per-device salt
    assert first[20:36] != second[20:36]  # a fresh IV per save
    for f in micropython.tmp_path.iterdir():
        if f.name == "mpy_script.py":
            continue
        for secret in (b"correct-horse-battery", b"ap-password-1", b"wr123"):
            assert secret not in f.read_bytes(), f.name
    assert _open_in_cpython(second, UID) == {
        "net:Home": "correct-horse-battery",
        "ap": "ap-password-1",
        "webrepl": "wr123",
    }


def test_another_devices_record_is_refused_and_kept(micropython):
    """A store copied to a chip with another unique id does not open: the error says so, the
    store starts empty, and the first save keeps the foreign record as .bad instead of
    overwriting it."""
    r = run_json(
        micropython,
        """
from wifimgr.store import Store, FileBackend
Store(FileBackend("creds.store"), UID).put("net:Home", "correct-horse")
orig = read("creds.store")
other = Store(FileBackend("creds.store"), b"another chip")
names, error = other.names(), other.error
other.put("net:Cafe", "cafe-wifi-1")
out([names, error, read("creds.store.bad") == orig,
     Store(FileBackend("creds.store"), b"another chip").get("net:Cafe")])
""",
    )
    names, error, kept, cafe = r
    assert names == []
    assert "creds.store" in error and "does not authenticate" in error
    assert kept is True and cafe == "cafe-wifi-1"


def test_damaged_record_is_reported_not_trusted(micropython):
    r = run_json(
        micropython,
        """
from wifimgr.store import Store, FileBackend
Store(FileBackend("creds.store"), UID).put("net:Home", "correct-horse")
data = bytearray(read("creds.store"))
data[-1] ^= 1
with open("creds.store", "wb") as f:
    f.write(data)
s = Store(FileBackend("creds.store"), UID)
out([s.error, s.names()])
""",
    )
    assert "does not authenticate" in r[0] and r[1] == []


def test_wifi_json_is_imported_then_deleted(micropython):
    """seeds/mipy-esp.md: {"SSID": "PASSWORD", ...} dropped on the filesystem becomes known
    networks with encrypted passwords; the file goes only after both read back."""
    (micropython.tmp_path / "wifi.json").write_text(
        json.dumps({"Home": "correct-horse", "Cafe": "", "Office": "office-wifi-9"})
    )
    r = run_json(
        micropython,
        """
from wifimgr.config import Config
from wifimgr.provision import import_wifi_json
from wifimgr.store import Store
c = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
c.add_network("Cafe", "old-cafe-pass", save=True)
got = import_wifi_json(c, "wifi.json")
c2 = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
out([got, c2.ssids(), [c2.password(s) for s in c2.ssids()], sorted(os.listdir())])
""",
    )
    got, ssids, passwords, files = r
    assert got == ["Home", "Cafe", "Office"]
    assert ssids == ["Cafe", "Home", "Office"]  # a known network keeps its place
    assert passwords == ["", "correct-horse", "office-wifi-9"]
    assert "wifi.json" not in files
    for f in micropython.tmp_path.iterdir():
        if f.name != "mpy_script.py":
            assert b"correct-horse" not in f.read_bytes(), f.name


def test_wifi_json_keeps_the_order_the_file_writes(micropython):
    """The file's order is the order of preference; it is read from the JSON itself, so a key
    written with escapes, or a password that spells another entry's key, keeps its place."""
    (micropython.tmp_path / "wifi.json").write_bytes(
        b'{"Caf\\u00e9 \\"Ouest\\"": "Home-net-5g", "Attic": "attic-pass-1",\n'
        b' "Home-net-5g": "home-pass-1", "Home-net": ""}'
    )
    r = run_json(
        micropython,
        """
from wifimgr.config import Config
from wifimgr.provision import import_wifi_json
from wifimgr.store import Store
c = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
out([import_wifi_json(c, "wifi.json"), c.ssids()])
""",
    )
    order = ['Caf\u00e9 "Ouest"', "Attic", "Home-net-5g", "Home-net"]
    assert r == [order, order]


@pytest.mark.parametrize(
    "content, message",
    [
        (b'{"Home": "short"}', "password of 'Home': must be empty (open network) or 8 to 63"),
        (b'["Home", "correct-horse"]', 'must be an object {"SSID": "PASSWORD", ...}'),
        (b'{"Home": ', "is not valid UTF-8 JSON"),
        (b'{"\xff\xfe": "correct-horse"}', "is not valid UTF-8 JSON"),
        (b'{"Home": 12345678}', "must be a string, not int"),
    ],
)
def test_bad_wifi_json_is_refused_and_kept(micropython, content, message):
    (micropython.tmp_path / "wifi.json").write_bytes(content)
    r = run_json(
        micropython,
        """
from wifimgr.config import Config
from wifimgr.provision import import_wifi_json
from wifimgr.store import Store
c = Config("wifimgr.json", Store.for_config("wifimgr.json", UID), UID)
try:
    import_wifi_json(c, "wifi.json")
    err = None
except ValueError as e:
    err = str(e)
out([err, c.ssids()])
""",
    )
    assert r[0] is not None and "wifi.json" in r[0] and message in r[0], r
    assert r[1] == []
    assert (micropython.tmp_path / "wifi.json").read_bytes() == content


def test_wifi_json_stays_when_the_import_does_not_read_back(micropython):
    """If the store does not hold what was written (a flash that drops writes), the
    provisioning file is the only copy left and stays."""
    (micropython.tmp_path / "wifi.json").write_text('{"Home": "correct-horse"}')
    r = run_json(
        micropython,
        """
from wifimgr.config import Config
from wifimgr.provision import import_wifi_json
from wifimgr.store import Store, FileBackend

class Forgetful(FileBackend):
    def write(self, record):
        pass

c = Config("wifimgr.json", Store(Forgetful("x.store"), UID), UID)
try:
    import_wifi_json(c, "wifi.json")
    err = None
except OSError as e:
    err = str(e)
out([err, "wifi.json" in os.listdir()])
""",
    )
    assert "did not read back after import; file kept" in r[0]
    assert r[1] is True


def test_without_cryptolib_the_record_is_still_encrypted(micropython):
    """A firmware without cryptolib (the native unix build has no mbedTLS) seals with
    HMAC-SHA256 in counter mode (WMH1): never plaintext, and CPython opens it too. An AES
    record met on such a build is reported, not misread."""
    r = run_json(
        micropython,
        """
from wifimgr.store import Store, FileBackend
try:
    from cryptolib import aes
    aes = True
except ImportError:
    aes = False
Store(FileBackend("aes.store"), UID).put("net:Home", "correct-horse-battery")
sys.modules["cryptolib"] = None  # from here on as a build without it: no cryptolib.aes
s = Store(FileBackend("creds.store"), UID)
s.put("net:Home", "correct-horse-battery")
s.put("net:Long", "x" * 63)
back = Store(FileBackend("creds.store"), UID)
other = Store(FileBackend("aes.store"), UID)
out([aes, read("creds.store").hex(), back.get("net:Long"), other.error])
""",
    )
    aes, record, long_pw, error = r
    record = bytes.fromhex(record)
    assert record[:4] == b"WMH1" and b"correct-horse" not in record
    assert long_pw == "x" * 63
    assert _open_in_cpython(record, UID) == {
        "net:Home": "correct-horse-battery",
        "net:Long": "x" * 63,
    }
    if aes:
        assert "this firmware has no cryptolib" in error
    else:
        assert error is None or "no cryptolib" in error


def test_the_setup_key_is_made_once_kept_encrypted_and_typeable(micropython):
    """Made on first use, the same on every later boot (read back from the record), 12
    characters of an alphabet without look-alikes in three groups, never in plaintext on
    disk; a fresh device gets another key."""
    r = run_json(
        micropython,
        """
from wifimgr.store import Store, FileBackend
a = Store(FileBackend("a.store"), UID).setup_key()
again = Store(FileBackend("a.store"), UID).setup_key()
b = Store(FileBackend("b.store"), UID).setup_key()
out([a, again, b, read("a.store").hex()])
""",
    )
    key, again, other, record = r
    assert key == again and key != other
    assert re.fullmatch(r"[3467acdefghjkmnpqrtwxy]{4}(-[3467acdefghjkmnpqrtwxy]{4}){2}", key)
    assert key.encode() not in bytes.fromhex(record)
    assert _open_in_cpython(bytes.fromhex(record), UID) == {"setup_key": key}
