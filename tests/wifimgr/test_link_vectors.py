"""tests/link_vectors.json against the Python reducer (frozen/wifimgr/link.py) on MicroPython.

The same file runs against core/link.c in tests/core/test_link.py, so the twins cannot drift.
All vectors go through one MicroPython process (helpers/linktwin.py).
"""

import json

import pytest
from helpers import linktwin
from helpers.micropython import ROOT

DOC = json.loads((ROOT / "tests" / "link_vectors.json").read_text())
VECTORS = {v["name"]: v for v in DOC["vectors"]}


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    twin = linktwin.start(tmp_path_factory)
    yield twin
    twin.close()


def test_there_are_at_least_30_vectors():
    assert len(VECTORS) == len(DOC["vectors"]) >= 30


def test_every_vector_says_what_it_checks():
    for v in DOC["vectors"]:
        assert v.get("doc"), v["name"]
        assert set(v) <= {"name", "doc", "candidates", "policy", "hint", "steps", "final"}


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_python_reducer_matches_vector(twin, name):
    v = VECTORS[name]
    run = dict(v, policy=dict(DOC["base_policy"], **v["policy"]))
    run["steps"] = [[t, event] for t, event, _ in v["steps"]]
    got = twin.run(run)
    for (t, event, expected), actions in zip(v["steps"], got["steps"], strict=True):
        assert actions == expected, "at %d ms after %s" % (t, event)
    assert got["final"] == v["final"]


def test_policy_ranges_are_the_shared_table(micropython):
    """wifimgr/linkspec.py _INT_RANGES is tests/link_vectors.json "policy_ranges" (and poll_ms,
    the pump's step, which only the Python side has), and check_policy() takes each bound and
    refuses one past it, naming the key and its range."""
    out = micropython.run(
        """
import json
from wifimgr import linkspec
base = {"backoff_min_ms": 100, "backoff_max_ms": 86400000}
errors = []
for key, low, high in linkspec._INT_RANGES:
    for value in (low, high, low - 1, high + 1):
        policy = dict(base)
        policy[key] = value
        try:
            linkspec.check_policy(policy)
            errors.append(None)
        except ValueError as e:
            errors.append(str(e))
print(json.dumps({"ranges": [list(r) for r in linkspec._INT_RANGES], "errors": errors}))
"""
    )
    got = json.loads(out.strip().splitlines()[-1])
    assert got["ranges"] == DOC["policy_ranges"] + [["poll_ms", 10, 10000]]
    for i, (key, low, high) in enumerate(got["ranges"]):
        refused = "policy.%s must be an integer from %d to %d" % (key, low, high)
        assert got["errors"][4 * i : 4 * i + 4] == [None, None, refused, refused], key


def test_the_c_link_names_the_range_linkspec_let_through(micropython):
    """When the C side refuses what linkspec passed (the tables disagree: here linkspec checks
    no range), _wifimgr.Link says which key and which range, from core/link.c wm_link_ranges."""
    if not micropython.native:
        pytest.skip("no _wifimgr in this MicroPython: build it with make unix MICROPY_DIR=...")
    out = micropython.run(
        """
import _wifimgr
from wifimgr import linkspec, sim
sim.install(sim.Scenario({"access_points": []}, "t"), sim.VirtualClock())
import network
link = _wifimgr.Link(network.WLAN(network.STA_IF), network.WLAN(network.AP_IF))
linkspec._INT_RANGES = ()
for policy in ({"rescan_ms": 999}, {"linger_ms": 3600001}, {"retries": 0}):
    try:
        link.configure([], policy)
    except ValueError as e:
        print(e)
"""
    )
    assert out.strip().splitlines() == [
        "configure: policy.rescan_ms must be 1000..3600000",
        "configure: policy.linger_ms must be 0..3600000",
        "configure: policy.retries must be 1..100",
    ]
