"""tools/mip/publish.sh, which the release workflow runs: the tree `make mip` built becomes the
`mip` branch (and the tag mip-<release>) of a repository, here a bare one in a temporary
directory standing for GitHub."""

import subprocess

from helpers.micropython import ROOT
from helpers.mip import build_tree, mipbuild

PUBLISH = ROOT / "tools" / "mip" / "publish.sh"


def git(*args, cwd):
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def test_publish_makes_the_mip_branch_and_tag_and_keeps_its_history(tmp_path):
    tree = tmp_path / "mip"
    build_tree(tree)
    remote = tmp_path / "remote.git"
    git("init", "--quiet", "--bare", str(remote), cwd=tmp_path)
    # A repository like the release's checkout: versions.env, one commit.
    repo = tmp_path / "repo"
    (repo / "firmware").mkdir(parents=True)
    (repo / "firmware" / "versions.env").write_text((ROOT / "firmware/versions.env").read_text())
    (repo / "README.md").write_text("main branch\n")
    git("init", "--quiet", cwd=repo)
    git("add", "-A", cwd=repo)
    git("-c", "user.name=t", "-c", "user.email=t@localhost", "commit", "-qm", "main", cwd=repo)
    for tag in ("v0.1.0", "v0.1.1"):
        subprocess.run([PUBLISH, tree, remote, tag], cwd=repo, check=True, capture_output=True)
    files = git("ls-tree", "-r", "--name-only", "mip", cwd=remote).split()
    assert sorted(files) == sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*.*"))
    assert "package.json" in files and "README.md" not in files  # the tree, not main's files
    assert git("show", "mip:package.json", cwd=remote) == (tree / "package.json").read_text()
    log = git("log", "--format=%s", "mip", cwd=remote).splitlines()
    mb = mipbuild()
    assert log == [
        "mip: wifimgr %s (%s), .mpy for MicroPython %s"
        % (mb.package_version(), t, mb.pinned_micropython())
        for t in ("v0.1.1", "v0.1.0")
    ]
    assert git("tag", cwd=remote).split() == ["mip-v0.1.0", "mip-v0.1.1"]
    assert git("worktree", "list", "--porcelain", cwd=repo).count("worktree ") == 1
