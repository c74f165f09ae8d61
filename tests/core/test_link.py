"""core/link.c through ctypes: the conformance vectors, configuration errors and properties.

The vectors (tests/link_vectors.json) are the ones the Python twin passes on MicroPython. The
hypothesis tests feed random event sequences (stale events, commands at any time, clock near
the 32-bit wrap) and check what must hold whatever happens: never two connects in flight, the
access point as the policy says, no candidate retried before its backoff ends. The same random
sequences, with reconfiguration in between, go to the Python twin (one MicroPython process for
all examples) and must produce the same actions, step by step.
"""

import json
import re
from pathlib import Path

import pytest
from helpers import linkc, linktwin
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
DOC = json.loads((ROOT / "tests" / "link_vectors.json").read_text())
VECTORS = {v["name"]: v for v in DOC["vectors"]}
LINK_H = (ROOT / "usermod_wifimgr" / "core" / "link.h").read_text()


@pytest.fixture(scope="module")
def lib(core_lib):
    return linkc.bind(core_lib)


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_c_reducer_matches_vector(lib, name):
    v = VECTORS[name]
    run = dict(v, policy=dict(DOC["base_policy"], **v["policy"]))
    run["steps"] = [[t, event] for t, event, _ in v["steps"]]
    got = linkc.run(lib, run)
    for (t, event, expected), actions in zip(v["steps"], got["steps"], strict=True):
        assert actions == expected, "at %d ms after %s" % (t, event)
    assert got["final"] == v["final"]


def test_policy_errors_name_the_field(lib):
    m = linkc.Machine(lib)
    cases = [
        ({"ap_policy": "never", "retries": 0}, -6),
        ({"backoff_min_ms": 50}, -7),
        ({"backoff_min_ms": 5000, "backoff_max_ms": 1000}, -7),
        ({"rescan_ms": 999}, -8),
        ({"min_rssi": 5}, -9),
        ({"dhcp_timeout_ms": 0}, -10),
        ({"connect_timeout_ms": 500000}, -10),
    ]
    for policy, err in cases:
        assert m.set_policy(policy) == err, policy
    p = linkc.Policy()
    lib.wm_link_policy_default(p)
    p.ap_policy = 3
    assert lib.wm_link_set_policy(m.buf, p) == -5
    assert m.set_policy({"rescan_ms": 1000}) == 0


def test_policy_ranges_are_the_shared_table(lib):
    """core/link.c wm_link_ranges is tests/link_vectors.json "policy_ranges", row for row, and
    set_policy() takes each bound and refuses one past it with the key's error."""
    count = int(re.search(r"#define WM_LINK_RANGE_COUNT (\d+)", LINK_H).group(1))
    table = (linkc.Range * count).in_dll(lib, "wm_link_ranges")
    assert [[r.key.decode(), r.low, r.high] for r in table] == DOC["policy_ranges"]
    m = linkc.Machine(lib)
    base = {"backoff_min_ms": 100, "backoff_max_ms": 86400000}
    for row in table:
        key = row.key.decode()
        for value, err in (
            (row.low, 0),
            (row.high, 0),
            (row.low - 1, row.err),
            (row.high + 1, row.err),
        ):
            assert m.set_policy(dict(base, **{key: value})) == err, (key, value)


def test_candidate_and_hint_errors(lib):
    m = linkc.Machine(lib)
    assert lib.wm_link_add_candidate(m.buf, b"", 0, False, None) == -1
    assert lib.wm_link_add_candidate(m.buf, b"x" * 33, 33, False, None) == -1
    for i in range(linkc.MAX_CANDIDATES):
        assert lib.wm_link_add_candidate(m.buf, b"n%d" % i, 2, False, None) == i
    assert lib.wm_link_add_candidate(m.buf, b"full", 4, False, None) == -3
    assert lib.wm_link_remember(m.buf, b"n1", 2, b"\0" * 6, 0) == -4
    assert lib.wm_link_remember(m.buf, b"n1", 2, b"\0" * 6, 15) == -4
    assert lib.wm_link_remember(m.buf, b"", 0, b"\0" * 6, 6) == -1


def test_reconfigure_during_a_connect_keeps_it_going(lib):
    """configure() while connecting to a network it removes: the attempt finishes under the
    orphan slot (no backoff), and its success is remembered under its own name."""
    m = linkc.Machine(lib, None, [{"ssid": "Old"}, {"ssid": "Home"}])
    m.step(["start"], 0)
    acts = m.step(["scan_done", [["Old", "aa:00:00:00:00:01", 1, -40, 3, False]]], 1950)
    assert acts[0] == ["connect", "Old", "aa:00:00:00:00:01", 1]
    m.set_candidates([{"ssid": "Home"}])
    assert m.step(["got_ip", None, 0], 3000) == [
        ["remember", "Old", "aa:00:00:00:00:01", 1],
        ["status", "connected"],
    ]


def test_a_small_action_buffer_gets_the_first_actions_only(lib):
    m = linkc.Machine(lib, {"ap_policy": "always"}, [{"ssid": "Home"}])
    small = (linkc.Action * 1)()
    ev = linkc.Event(kind=linkc.EVENTS.index("start"))
    assert lib.wm_link_step(m.buf, ev, 0, small, 1) == 1
    assert linkc.ACTIONS[small[0].kind] == "ap_start"


# --- properties ------------------------------------------------------------------------------

SSIDS = ["Home", "Work", "Back"]
BSSIDS = ["aa:00:00:00:00:01", "aa:00:00:00:00:02", "bb:00:00:00:00:01"]
# Scans mostly show the known networks, so that rounds have something to try and fail.
records = st.lists(
    st.tuples(
        st.sampled_from(SSIDS + SSIDS + [""]),
        st.sampled_from(BSSIDS),
        st.integers(0, 16),  # outside 1..14: a broken radio, the channel counts as unknown
        st.integers(-95, -30),
    ).map(lambda r: [r[0], r[1], r[2], r[3], 3, r[0] == ""]),
    min_size=1,
    max_size=4,
)
events = st.one_of(
    st.tuples(st.just("disconnected"), st.sampled_from(linkc.REASONS[1:])).map(list),
    st.tuples(st.just("scan_done"), records).map(list),
    st.just(["timer"]),
    st.just(["rescan"]),
    st.just(["got_ip", None, 0]),
    st.just(["start"]),
    st.just(["stop"]),
    st.just(["rescan"]),
    st.just(["finish"]),
    st.just(["associated"]),
    st.just(["timer"]),
    st.tuples(st.just("try"), st.sampled_from(SSIDS + ["New"]), st.booleans()).map(list),
    st.tuples(st.just("scan_done"), records).map(list),
    st.tuples(st.just("got_ip"), st.sampled_from([None] + BSSIDS), st.integers(0, 13)).map(list),
    st.tuples(st.just("disconnected"), st.sampled_from(linkc.REASONS[1:])).map(list),
)
policies = st.fixed_dictionaries(
    {
        "ap_policy": st.sampled_from(linkc.AP_POLICIES),
        "retries": st.integers(1, 3),
        "backoff_min_ms": st.integers(100, 5000),
        "backoff_max_ms": st.integers(5000, 60000),
        "rescan_ms": st.integers(1000, 20000),
        "connect_timeout_ms": st.integers(1000, 15000),
        "dhcp_timeout_ms": st.integers(1000, 10000),
        "linger_ms": st.integers(0, 30000),
    }
)
candidates = st.lists(
    st.fixed_dictionaries(
        {"ssid": st.sampled_from(SSIDS)},
        optional={"hidden": st.booleans(), "bssid": st.sampled_from(BSSIDS)},
    ),
    min_size=1,
    max_size=4,
)
runs = st.tuples(
    policies,
    candidates,
    st.booleans(),
    st.sampled_from([0, 2**32 - 40000]),
    st.lists(st.tuples(st.integers(0, 4000), events), min_size=1, max_size=80),
)

SCANNING, CONNECTING, GETTING_IP, CONNECTED, WAITING = 1, 2, 3, 4, 5


def backoff(policy, fails):
    b = policy["backoff_min_ms"]
    for _ in range(fails - 1):
        b *= 2
        if b >= policy["backoff_max_ms"]:
            break
    return min(b, policy["backoff_max_ms"])


def drive(lib, run):
    """Runs a random sequence and checks the three properties after every step.

    The checker keeps its own model, from the events and actions only: the radio's view of the
    connect in flight, the access point, and the failures and earliest retry of each BSSID
    (a connect that names one) and each candidate's joins by name.
    """
    policy, cands, hint, base, steps = run
    m = linkc.Machine(lib, policy, cands, ["Home", BSSIDS[0], 6] if hint else None)
    in_flight = False
    ap = False
    cur = None  # (what backs off, fast reconnect) of the last connect
    fails = {}
    retry_at = {}
    t = 0
    for dt, event in steps:
        t += dt
        pre = m.status()
        acts = m.step(event, (base + t) % 2**32)
        kinds = [k for k, _ in m.raw]
        if event[0] == "disconnected":
            in_flight = False  # the radio says the attempt or link is over
        failing = pre.state in (CONNECTING, GETTING_IP) and (
            event[0] == "disconnected" or (event[0] == "timer" and kinds[:1] == ["disconnect"])
        )
        if failing and cur is not None and not cur[1] and cur[0] is not None:
            fails[cur[0]] = fails.get(cur[0], 0) + 1
            retry_at[cur[0]] = t + backoff(policy, fails[cur[0]])
        if event[0] == "got_ip" and pre.state in (CONNECTING, GETTING_IP) and cur[0] is not None:
            fails[cur[0]] = 0
        # A round that starts with the remembered BSSID: at start, on its timer, on link loss.
        fast = (
            event[0] == "start"
            or (event[0] == "timer" and pre.state == WAITING)
            or (event[0] == "disconnected" and pre.state == CONNECTED)
        )
        for (kind, slot), act in zip(m.raw, acts, strict=True):
            if kind == "disconnect":
                in_flight = False
            elif kind == "connect":
                assert not in_flight, "two connects in flight: %s" % acts
                in_flight = True
                key = None if slot < 0 else (act[2] or slot)
                if key is not None and fails.get(key, 0) > 0:
                    assert t >= retry_at[key], "%s retried before its backoff" % (key,)
                cur = (key, fast and slot >= 0)
            elif kind == "ap_start":
                assert not ap, "AP started twice"
                assert policy["ap_policy"] != "never"
                ap = True
            elif kind == "ap_stop":
                assert ap, "AP stopped while down"
                ap = False
        s = m.status()
        if s.started and s.state in (SCANNING, CONNECTING, GETTING_IP, WAITING):
            assert m.deadline() >= 0, "%s without a timer: stuck if no event comes" % s.state
        assert bool(s.ap_on) == ap
        if not s.started:
            assert not ap
        elif policy["ap_policy"] == "always":
            assert ap
        elif policy["ap_policy"] == "fallback" and ap and s.state == CONNECTED:
            # Up while connected only during the linger after a successful trial.
            assert s.trial == 2 and m.deadline() >= 0


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs)
def test_random_sequences_keep_the_invariants(lib, run):
    drive(lib, run)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs)
def test_random_sequences_with_timers_on_time(lib, run):
    """The same with a timer event after every event, as a driver sends them when due."""
    policy, cands, hint, base, steps = run
    timed = []
    for dt, event in steps:
        timed += [(dt, event), (0, ["timer"])]
    drive(lib, (policy, cands, hint, base, timed))


# --- the twins agree -------------------------------------------------------------------------

driver_calls = st.one_of(
    st.tuples(st.just("configure"), candidates).map(list),
    st.tuples(
        st.just("remember"), st.sampled_from(SSIDS), st.sampled_from(BSSIDS), st.integers(1, 13)
    ).map(list),
)
reasons = st.sampled_from(linkc.REASONS[1:])
# A disconnect as the radio reports it: bare, or naming the link left (its SSID, its BSSID, or
# None where the radio does not say), which may be an earlier link's.
disconnects = st.one_of(
    st.tuples(st.just("disconnected"), reasons).map(list),
    st.tuples(
        st.just("disconnected"),
        reasons,
        st.sampled_from([None] + SSIDS + ["New"]),
        st.sampled_from([None] + BSSIDS),
    ).map(list),
)
# What a radio would say next, by state: the sequences get deep (backoff, rounds, fallback AP,
# trials, linger) instead of dying in ignored events.
LIKELY = {
    "idle": st.just(["start"]),
    "scanning": st.tuples(st.just("scan_done"), records).map(list),
    "connecting": st.one_of(
        st.just(["associated"]),
        st.just(["timer"]),
        disconnects,
        st.tuples(st.just("got_ip"), st.sampled_from([None] + BSSIDS), st.integers(0, 13)).map(
            list
        ),
    ),
    "getting_ip": st.one_of(
        st.just(["timer"]),
        disconnects,
        st.just(["got_ip", None, 0]),
    ),
    "connected": st.one_of(
        st.just(["disconnected", "link_lost"]),
        disconnects,
        st.just(["timer"]),
        st.just(["finish"]),
        st.just(["rescan"]),
        st.tuples(st.just("try"), st.sampled_from(SSIDS + ["New"]), st.booleans()).map(list),
    ),
    "waiting": st.one_of(
        st.just(["timer"]),
        st.just(["rescan"]),
        st.tuples(st.just("try"), st.sampled_from(SSIDS + ["New"]), st.booleans()).map(list),
    ),
}


def draw_run(data, lib, length=60):
    """A run drawn step by step against the C machine's state (the state picks what comes)."""
    policy = data.draw(policies)
    cands = data.draw(candidates)
    hint = ["Home", BSSIDS[0], 6] if data.draw(st.booleans()) else None
    t = data.draw(st.sampled_from([0, 2**32 - 40000]))
    m = linkc.Machine(lib, policy, cands, hint)
    steps = []
    for _ in range(data.draw(st.integers(1, length))):
        pick = data.draw(st.integers(0, 9))
        if pick < 7:
            event = data.draw(LIKELY[linkc.STATES[m.status().state]])
        elif pick < 9:
            event = data.draw(events)
        else:
            event = data.draw(driver_calls)
        deadline = m.deadline()
        if event == ["timer"] and deadline >= 0 and data.draw(st.booleans()):
            due = (deadline - t) % 2**32
            # A deadline already passed (a late timer) is due now, not 49 days later.
            t += (due if due < 2**31 else 0) + data.draw(st.integers(0, 30))
        else:
            t += data.draw(st.integers(0, 4000))
        steps.append([t, event])
        if event[0] == "configure":
            m.set_candidates(event[1])
        elif event[0] != "remember":
            m.step(event, t % 2**32)
    return {"policy": policy, "candidates": cands, "hint": hint, "steps": steps}


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    twin = linktwin.start(tmp_path_factory)
    yield twin
    twin.close()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_c_and_python_reducers_agree_on_random_sequences(lib, twin, data):
    """Time goes to Python unwrapped (its driver's clock never wraps) and to C modulo 2**32."""
    doc = draw_run(data, lib)
    note("run: %s" % json.dumps(doc))
    c = linkc.run(lib, doc)
    py = twin.run(doc)
    for (t, event), c_actions, py_actions in zip(
        doc["steps"], c["steps"], py["steps"], strict=True
    ):
        assert c_actions == py_actions, "at %d ms after %s" % (t, event)
    if py["final"]["deadline"] >= 0:
        py["final"]["deadline"] %= 2**32
    assert c["final"] == py["final"]


def test_core_link_compiles_for_rv32imc_with_make_size():
    """The size check core/dns.c passes: -Os for rv32imc (ESP32-C3 class), -Werror -pedantic."""
    import shutil
    import subprocess

    if not shutil.which("riscv64-unknown-elf-gcc"):
        pytest.skip("riscv64-unknown-elf-gcc not installed: make size cannot build core/link.c")
    out = subprocess.run(
        ["make", "-s", "size"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    # Only size's rows: under `make -C` the sub-make also prints the directories it enters.
    rows = [line.split() for line in out.splitlines() if line.endswith(".o")]
    sizes = {row[-1]: int(row[0]) for row in rows}
    assert sizes["build/size/link.o"] > 0, out
