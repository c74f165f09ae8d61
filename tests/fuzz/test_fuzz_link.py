"""The libFuzzer harness tests/fuzz/fuzz_link.c over core/link.c, under ASan and UBSan: a smoke
run of a fixed number of executions from the vector seed corpus (`make fuzz-link FUZZ_RUNS=N`).
The harness checks the reducer's invariants after every step (see its header comment). Long
runs are `make fuzz-link FUZZ_SECONDS=N`."""

import shutil
import subprocess

import pytest
from helpers.micropython import ROOT

RUNS = 150_000


def test_fuzz_link_smoke_runs_clean():
    """150k event sequences: no sanitizer report, no crash, no broken invariant."""
    if not shutil.which("clang"):
        pytest.skip("clang not installed: no libFuzzer to build tests/fuzz/fuzz_link.c")
    proc = subprocess.run(
        ["make", "-s", "fuzz-link", "FUZZ_RUNS=%d" % RUNS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    tail = (proc.stdout + proc.stderr)[-3000:]
    assert proc.returncode == 0, tail
    assert "Done %d runs" % RUNS in proc.stderr, tail
    assert "ERROR: " not in proc.stderr, tail
