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
