"""The libFuzzer harnesses under ASan and UBSan, each a smoke run of a fixed number of executions
from its vector seed corpus (`make fuzz-dns FUZZ_RUNS=N`, `make fuzz-link FUZZ_RUNS=N`; long runs
with FUZZ_SECONDS=N; the bench reports `dns_fuzz_execs_per_s`).

- tests/fuzz/fuzz_dns.c feeds each input to core/dns.c as a query (and to its parsers).
- tests/fuzz/fuzz_link.c turns each input into an event sequence for core/link.c and checks the
  reducer's invariants after every step (see its header comment)."""

import shutil
import subprocess

import pytest
from helpers.micropython import ROOT


@pytest.mark.parametrize("target,runs", [("dns", 300_000), ("link", 150_000)])
def test_fuzz_smoke_runs_clean(target, runs):
    """No sanitizer report, no crash, no failed check of the harness."""
    if not shutil.which("clang"):
        pytest.skip("clang not installed: no libFuzzer to build tests/fuzz/fuzz_%s.c" % target)
    proc = subprocess.run(
        ["make", "-s", "fuzz-" + target, "FUZZ_RUNS=%d" % runs],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    tail = (proc.stdout + proc.stderr)[-3000:]
    assert proc.returncode == 0, tail
    assert "Done %d runs" % runs in proc.stderr, tail
    assert "ERROR: " not in proc.stderr, tail
