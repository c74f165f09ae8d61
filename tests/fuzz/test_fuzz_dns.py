"""The libFuzzer harness tests/fuzz/fuzz_dns.c over core/dns.c, under ASan and UBSan: a smoke
run of a fixed number of executions from the vector seed corpus (`make fuzz-dns FUZZ_RUNS=N`).
Long runs are `make fuzz-dns FUZZ_SECONDS=N`; the bench reports `dns_fuzz_execs_per_s`."""

import shutil
import subprocess

import pytest
from helpers.micropython import ROOT

RUNS = 300_000


def test_fuzz_smoke_runs_clean():
    """300k inputs: no sanitizer report, no crash, no failed check of the harness."""
    if not shutil.which("clang"):
        pytest.skip("clang not installed: no libFuzzer to build tests/fuzz/fuzz_dns.c")
    proc = subprocess.run(
        ["make", "-s", "fuzz-dns", "FUZZ_RUNS=%d" % RUNS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    tail = (proc.stdout + proc.stderr)[-3000:]
    assert proc.returncode == 0, tail
    assert "Done %d runs" % RUNS in proc.stderr, tail
    assert "ERROR: " not in proc.stderr, tail
