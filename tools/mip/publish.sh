#!/usr/bin/env bash
# Publishes the tree `make mip` built as a branch of REMOTE: one commit whose tree is DIR
# (package.json at its root, the .mpy files beside it), on top of the branch's previous commit
# if it has one, so `mpremote mip install github:<owner>/<repo>@mip` installs the latest
# release; with TAG, also the tag mip-TAG (a release users can pin: @mip-v0.1.0).
# Run from inside the repository (the release workflow's checkout, whose credentials it uses).
# Usage: tools/mip/publish.sh DIR REMOTE [TAG] [BRANCH]
set -euo pipefail
dir=$(realpath "${1:?usage: publish.sh DIR REMOTE [TAG] [BRANCH]}")
remote=${2:?usage: publish.sh DIR REMOTE [TAG] [BRANCH]}
tag=${3:-}
branch=${4:-mip}
[[ -f $dir/package.json ]] || { echo "publish: $dir has no package.json: run make mip" >&2; exit 2; }
root=$(git rev-parse --show-toplevel)
micropython=$(grep '^MICROPYTHON_VERSION=' "$root/firmware/versions.env" | cut -d= -f2)
work=$(mktemp -d)
trap 'git worktree remove --force "$work" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --quiet --detach "$work"
cd "$work"
if git fetch --quiet "$remote" "refs/heads/$branch" 2>/dev/null; then
    git checkout --quiet --detach FETCH_HEAD
else
    git checkout --quiet --orphan "publish-$branch"
fi
git rm -rq --ignore-unmatch . && git clean -fdxq
cp -r "$dir"/. .
git add -A
version=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' package.json)
git -c user.name="wifimgr release" -c user.email="release@localhost" \
    commit --quiet --allow-empty -m "mip: wifimgr $version${tag:+ ($tag)}, .mpy for MicroPython $micropython"
git push --quiet "$remote" "HEAD:refs/heads/$branch"
[[ -z $tag ]] || git push --quiet "$remote" "HEAD:refs/tags/mip-$tag"
echo "publish: $branch${tag:+ and mip-$tag} on $remote: wifimgr $version"
