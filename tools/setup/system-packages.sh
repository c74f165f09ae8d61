#!/usr/bin/env bash
# Installs the Debian packages listed in $1 that are missing. Each line names what must exist
# (a command on PATH or an absolute path) and the package that provides it. Without root it
# only says what is missing: the tests that need those parts skip with a reason.
set -euo pipefail
list=$1
missing=()
while read -r needed package; do
    case "$needed" in ''|'#'*) continue ;; esac
    if [[ $needed == /* ]]; then [[ -e $needed ]] && continue
    else command -v "$needed" >/dev/null && continue
    fi
    missing+=("$package")
done < "$list"
(( ${#missing[@]} )) || { echo "system packages: all present"; exit 0; }
if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
    echo "system packages: not root or no apt-get; missing: ${missing[*]} (tests that need them will skip)"
    exit 0
fi
echo "system packages: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
