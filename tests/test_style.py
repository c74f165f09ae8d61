"""House style is checked by the same run as everything else: ruff with the project's settings."""

import subprocess

import pytest
from helpers.micropython import ROOT

RUFF = ROOT / ".venv" / "bin" / "ruff"


@pytest.mark.parametrize("command", [["check", "."], ["format", "--check", "."]])
def test_ruff(command):
    if not RUFF.exists():
        pytest.skip("ruff is not installed in .venv: run `make test`")
    proc = subprocess.run([str(RUFF), *command], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_c_core_has_no_platform_includes():
    """core/ includes libc and its own headers only (STYLE.md)."""
    allowed_prefixes = ("std", "string.h", "limits.h", "assert.h")
    offenders = []
    for path in (ROOT / "usermod_wifimgr" / "core").glob("*.[ch]"):
        for line in path.read_text().splitlines():
            if line.startswith("#include <"):
                header = line.split("<", 1)[1].rstrip(">")
                if not header.startswith(allowed_prefixes):
                    offenders.append("%s: %s" % (path.name, header))
    assert not offenders, offenders
