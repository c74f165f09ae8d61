"""The foundation: one place for upstream versions, the MicroPython fixture, both backends."""

import re
import subprocess

import pytest
from helpers.micropython import ROOT, MicroPythonError


def versions():
    pairs = {}
    for line in (ROOT / "firmware" / "versions.env").read_text().splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            pairs[key] = value
    return pairs


def tracked_files():
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    return [ROOT / name for name in out.stdout.splitlines()]


def test_upstream_versions_are_pinned_in_one_file():
    pinned = versions()
    assert pinned["MICROPYTHON_VERSION"] == "v1.28.0"
    assert pinned["ESP_IDF_VERSION"] == "v5.5.1"
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: cannot list the tracked files")
    elsewhere = []
    for path in tracked_files():
        if not path.is_file() or path.name == "versions.env" or path.suffix == ".md":
            continue
        if path.samefile(__file__):  # this test names the versions it expects
            continue
        text = path.read_text(errors="replace")
        elsewhere += ["%s: %s" % (path.relative_to(ROOT), v) for v in pinned.values() if v in text]
    assert not elsewhere, "versions written outside firmware/versions.env: %s" % elsewhere


def test_micropython_failure_shows_its_traceback(micropython):
    with pytest.raises(MicroPythonError) as failure:
        micropython.run("def f():\n    raise ValueError('ssid too long')\nf()\n")
    report = str(failure.value)
    assert "Traceback (most recent call last)" in report
    assert "ValueError: ssid too long" in report
    assert "line 2, in f" in report


def test_package_picks_the_backend_the_firmware_has(micropython):
    out = micropython.run(
        """
import wifimgr
try:
    import _wifimgr
    print("native", _wifimgr.__version__ == wifimgr.__version__, wifimgr.backend)
except ImportError:
    print("python", wifimgr.backend)
"""
    )
    expected = "native True native" if micropython.native else "python python"
    assert out.strip() == expected


def test_ci_runs_make_test_and_nothing_else():
    lines = [
        line
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[-1].strip() in ("make test", "exec make test")
    assert [line for line in lines if "make" in line] == lines[-1:]


def test_make_help_lists_the_readme_commands():
    out = subprocess.run(["make", "help"], cwd=ROOT, capture_output=True, text=True).stdout
    for target in ("sim", "test", "unix", "bench"):
        assert "make %s " % target in out


def markdown_links(path):
    """The relative link targets of a Markdown file, without their #anchors; code spans and
    fenced blocks are not links."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if not re.match(r"[a-z]+:", target) and not target.startswith("#"):
            yield target.split("#", 1)[0]


def test_documents_link_only_to_files_in_the_repository():
    """A clone has nothing outside it: every relative link of README.md and docs/ resolves to a
    file or directory inside the repository."""
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert len(documents) > 1, "no design documents in docs/"
    broken = []
    for doc in documents:
        for target in markdown_links(doc):
            resolved = (doc.parent / target).resolve()
            if not resolved.is_relative_to(ROOT.resolve()) or not resolved.exists():
                broken.append("%s: %s" % (doc.relative_to(ROOT), target))
    assert not broken, "links that a clone cannot follow: %s" % broken
