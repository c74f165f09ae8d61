"""The house drawn from the imports of frozen/wifimgr/: no cycle, no module over 500 lines
without a reason.

Every import counts, at module level or inside a function (a deferred import is still a
dependency: config importing store in a function and store importing config was a cycle),
with one exception: the package's own __init__.py (the facade) imports its modules only
inside its functions, which run once the package is loaded whole; its modules read names
from it (`from wifimgr import __version__`), and Python loads a package before any of its
modules anyway. What the facade imports at module level counts like any other import.
"""

import ast
import subprocess

from helpers.micropython import ROOT

PACKAGE = ROOT / "frozen" / "wifimgr"
MAX_LINES = 500
# Modules allowed more than MAX_LINES, each with why.
LONG = {
    "wifimgr.link": "the twin: Machine mirrors core/link.c function for function (the vectors"
    " hold the two together) beside the asyncio driver that polls network.WLAN",
    "wifimgr.sim": "the simulated radio, in step with network_wlan.c call for call; never on a"
    " device",
    "wifimgr.manager": "the Manager: the link's changes turned into events, stored credentials,"
    " servers and OTA, one state in one object",
}


def modules(root, files):
    """{dotted name: path} of the .py files `files` under the package directory `root`."""
    out = {}
    for path in files:
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _deferred(tree):
    # The import nodes inside a function of `tree`.
    inner = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    inner.add(id(sub))
    return inner


def graph(mods, root_name):
    """{module: sorted modules of the package it imports}, as the docstring says."""
    edges = {}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), str(path))
        skip = _deferred(tree) if name == root_name else set()
        deps = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in mods)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = name.split(".") if is_pkg else name.split(".")[:-1]
                    here = here[: len(here) - node.level + 1]
                    base = ".".join(here + ([node.module] if node.module else []))
                for a in node.names:
                    sub = base + "." + a.name
                    deps.add(sub if sub in mods else base)
        edges[name] = sorted(d for d in deps if d in mods and d != name)
    return edges


def cycles(edges):
    """The import cycles of `edges`, each as the list of modules around it."""
    found, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for dep in edges[node]:
            if state.get(dep) == "open":
                found.append(path[path.index(dep) :] + [dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return found


def package_modules():
    out = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=PACKAGE, capture_output=True, text=True, check=True
    )
    return modules(PACKAGE, [PACKAGE / f for f in out.stdout.split()])


def test_the_package_has_no_import_cycle():
    edges = graph(package_modules(), "wifimgr")
    assert "wifimgr.store" in edges["wifimgr.config"]  # the parse sees deferred imports
    assert cycles(edges) == []


def test_no_module_is_over_500_lines_without_a_reason():
    mods = package_modules()
    long = {name for name, path in mods.items() if len(path.read_text().splitlines()) > MAX_LINES}
    assert long <= set(LONG), "over %d lines with no reason in LONG: %s" % (
        MAX_LINES,
        sorted(long - set(LONG)),
    )
    assert set(LONG) <= long, "in LONG but not (any more) over %d lines: %s" % (
        MAX_LINES,
        sorted(set(LONG) - long),
    )


def test_the_graph_finds_a_cycle_and_reads_the_facade_as_the_docstring_says(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text(
        "VERSION = 1\n\ndef start():\n    from pkg import a\n    return a\n"
    )
    (pkg / "a.py").write_text("from pkg import VERSION\nfrom .sub import c\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("def later():\n    from .. import a\n")
    mods = modules(pkg, sorted(pkg.rglob("*.py")))
    edges = graph(mods, "pkg")
    assert edges == {
        "pkg": [],
        "pkg.a": ["pkg", "pkg.sub.c"],
        "pkg.sub": [],
        "pkg.sub.c": ["pkg.a"],
    }
    assert cycles(edges) == [["pkg.a", "pkg.sub.c", "pkg.a"]]
