"""core/dns.c through ctypes: the conformance vectors, buffer bounds, config errors."""

import ctypes
import shutil
import subprocess

import dns.flags
import dns.message
import dns.rcode
import pytest
from helpers import dnsvec
from helpers.micropython import ROOT

MAX_RULES = 8
ERR_NAME, ERR_ACTION, ERR_FULL = -1, -2, -3
ADDRESS, NXDOMAIN, REFUSED = 0, 1, 2


class Rule(ctypes.Structure):
    _fields_ = [
        ("action", ctypes.c_uint8),
        ("wildcard", ctypes.c_uint8),
        ("addr", ctypes.c_uint8 * 4),
        ("name_len", ctypes.c_uint16),
        ("name", ctypes.c_uint8 * 255),
    ]


class Config(ctypes.Structure):
    _fields_ = [
        ("addr", ctypes.c_uint8 * 4),
        ("ttl", ctypes.c_uint32),
        ("rule_count", ctypes.c_uint16),
        ("rules", Rule * MAX_RULES),
    ]


def ip4(text):
    return (ctypes.c_uint8 * 4)(*(int(x) for x in text.split(".")))


@pytest.fixture(scope="module")
def lib(core_lib):
    core_lib.wm_dns_answer.restype = ctypes.c_size_t
    core_lib.wm_dns_answer.argtypes = [
        ctypes.POINTER(Config),
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_void_p,
        ctypes.c_size_t,
    ]
    core_lib.wm_dns_config_add_rule.restype = ctypes.c_int
    core_lib.wm_dns_config_add_rule.argtypes = [
        ctypes.POINTER(Config),
        ctypes.c_char_p,
        ctypes.c_size_t,
        ctypes.c_int,
        ctypes.c_void_p,
    ]
    return core_lib


def make_config(lib, spec):
    cfg = Config()
    lib.wm_dns_config_init(ctypes.byref(cfg), ip4(spec["ip"]), spec["ttl"])
    rules = [(n, ADDRESS, ip4(ip)) for n, ip in spec.get("overrides", {}).items()]
    rules += [(n, NXDOMAIN, None) for n in spec.get("nxdomain", ())]
    rules += [(n, REFUSED, None) for n in spec.get("refused", ())]
    for name, action, addr in rules:
        raw = name.encode()
        assert lib.wm_dns_config_add_rule(ctypes.byref(cfg), raw, len(raw), action, addr) == 0
    return cfg


def answer(lib, cfg, query, cap=1024):
    # Guard bytes after out_cap catch a write past the end.
    out = ctypes.create_string_buffer(b"\xa5" * (cap + 64), cap + 64)
    n = lib.wm_dns_answer(ctypes.byref(cfg), query, len(query), out, cap)
    assert out.raw[cap:] == b"\xa5" * 64, "wrote past out_cap"
    return out.raw[:n] if n else None


DATA = dnsvec.load()


def test_there_are_at_least_40_vectors():
    assert len(DATA["vectors"]) >= 40


@pytest.mark.parametrize("vector", DATA["vectors"], ids=lambda v: v["name"])
def test_vector(lib, vector):
    """Each conformance vector: the C core's response is byte for byte the expected one."""
    cfg = make_config(lib, DATA["config"])
    got = answer(lib, cfg, bytes.fromhex(vector["query"]))
    want = vector["response"]
    assert (got.hex() if got else "drop") == want


def test_dnspython_parses_every_c_response(lib):
    """dnspython reads each response the core makes; id and question match the query's."""
    cfg = make_config(lib, DATA["config"])
    for vector in DATA["vectors"]:
        query = bytes.fromhex(vector["query"])
        got = answer(lib, cfg, query)
        if got is None:
            continue
        msg = dns.message.from_wire(got)
        assert msg.id == int.from_bytes(query[:2], "big")
        assert msg.flags & dns.flags.QR


def test_a_record_carries_the_configured_ttl_and_address(lib):
    cfg = make_config(lib, {"ip": "10.9.8.7", "ttl": 300})
    q = dns.message.make_query("Example.ORG", "A", id=4242)
    msg = dns.message.from_wire(answer(lib, cfg, q.to_wire()))
    assert msg.rcode() == dns.rcode.NOERROR
    (rrset,) = msg.answer
    assert rrset.ttl == 300
    assert [r.address for r in rrset] == ["10.9.8.7"]
    assert str(rrset.name) == "Example.ORG."


@pytest.mark.parametrize("cap", range(0, 80))
def test_small_out_buffer_drops_instead_of_overflowing(lib, cap):
    """Every out_cap below the response size gives 0; none writes past out_cap."""
    cfg = make_config(lib, DATA["config"])
    q = dnsvec.query("example.com", extra=dnsvec.opt(), ar=1)
    full = answer(lib, cfg, q)
    got = answer(lib, cfg, q, cap=cap)
    assert got == (full if cap >= len(full) else None)


def test_query_is_read_only_up_to_len(lib):
    """A query shorter than its counts claim, inside a larger buffer: FORMERR, not a read on."""
    cfg = make_config(lib, DATA["config"])
    q = dnsvec.query("example.com", extra=dnsvec.opt(), ar=1)
    buf = ctypes.create_string_buffer(q, len(q))
    out = ctypes.create_string_buffer(600)
    n = lib.wm_dns_answer(ctypes.byref(cfg), buf, len(q) - 11, out, 600)
    assert out.raw[:n] == dnsvec.error(q, dnsvec.FORMERR)


@pytest.mark.parametrize(
    "name,err",
    [
        (b"", ERR_NAME),
        (b".", ERR_NAME),
        (b"*.", ERR_NAME),
        (b"a..b", ERR_NAME),
        (b"x" * 64 + b".com", ERR_NAME),
        (b".".join([b"x" * 63] * 4), ERR_NAME),
        (b"sp ace.com", ERR_NAME),
        (b"tab\t.com", ERR_NAME),
    ],
)
def test_bad_rule_names_are_rejected(lib, name, err):
    cfg = make_config(lib, {"ip": "1.2.3.4", "ttl": 60})
    assert lib.wm_dns_config_add_rule(ctypes.byref(cfg), name, len(name), NXDOMAIN, None) == err
    assert cfg.rule_count == 0


def test_rule_actions_and_capacity_are_checked(lib):
    cfg = make_config(lib, {"ip": "1.2.3.4", "ttl": 60})
    assert lib.wm_dns_config_add_rule(ctypes.byref(cfg), b"a.b", 3, 7, None) == ERR_ACTION
    assert lib.wm_dns_config_add_rule(ctypes.byref(cfg), b"a.b", 3, ADDRESS, None) == ERR_ACTION
    for i in range(MAX_RULES):
        name = b"n%d.test." % i
        assert lib.wm_dns_config_add_rule(ctypes.byref(cfg), name, len(name), REFUSED, None) == 0
    assert lib.wm_dns_config_add_rule(ctypes.byref(cfg), b"x.y", 3, REFUSED, None) == ERR_FULL
    assert cfg.rule_count == MAX_RULES


def test_longest_rule_name_is_accepted_and_matches(lib):
    """A 253-character dotted name (255 bytes in wire format) fits and matches a query."""
    long_name = ".".join(["x" * 63] * 3 + ["y" * 61])
    cfg = make_config(lib, {"ip": "1.2.3.4", "ttl": 60, "refused": [long_name.upper()]})
    q = dnsvec.query(long_name)
    assert answer(lib, cfg, q) == dnsvec.response(q, rcode=dnsvec.REFUSED, aa=False)


@pytest.mark.parametrize(
    "text,want",
    [
        ("192.168.4.1", bytes([192, 168, 4, 1])),
        ("0.0.0.0", bytes(4)),
        ("255.255.255.255", b"\xff" * 4),
        ("010.001.000.009", bytes([10, 1, 0, 9])),
        ("192.168.4", None),
        ("192.168.4.1.", None),
        (".192.168.4.1", None),
        ("192.168.4.256", None),
        ("1.2.3.0001", None),
        ("1.2..3", None),
        ("1.2.3.4.5", None),
        ("1.2.3.-4", None),
        ("1.2.3.4 ", None),
        ("", None),
        ("localhost", None),
    ],
)
def test_parse_ipv4_accepts_dotted_quads_only(lib, text, want):
    """wm_dns_parse_ipv4 (what _wifimgr.DNSServer parses ip, bind and overrides with)."""
    out = (ctypes.c_uint8 * 4)(0xA5, 0xA5, 0xA5, 0xA5)
    raw = text.encode()
    ok = lib.wm_dns_parse_ipv4(raw, len(raw), out)
    assert (bytes(out) if ok else None) == want
    if not ok:
        assert bytes(out) == b"\xa5" * 4, "out written on failure"


def test_core_compiles_for_rv32imc_with_make_size():
    """`make size`: every core/*.c builds with riscv64-unknown-elf-gcc -march=rv32imc_zicsr
    -mabi=ilp32 -Os and the house warnings as errors; dns.o defines the public functions. (Its
    size is a bench number, `dns_code_size_rv32imc`.)"""
    if not shutil.which("riscv64-unknown-elf-gcc"):
        pytest.skip("riscv64-unknown-elf-gcc not installed (Debian gcc-riscv64-unknown-elf)")
    proc = subprocess.run(["make", "-s", "size"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines()]
    text = {row[-1]: int(row[0]) for row in rows[1:] if row and row[0].isdigit()}
    assert text.get("build/size/dns.o", 0) > 0, proc.stdout
    nm = subprocess.run(
        ["riscv64-unknown-elf-nm", "--defined-only", str(ROOT / "build/size/dns.o")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    defined = {line.split()[-1] for line in nm.splitlines() if " T " in line}
    assert {"wm_dns_answer", "wm_dns_config_init", "wm_dns_config_add_rule"} <= defined
