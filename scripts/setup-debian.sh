#!/usr/bin/env bash
# Installs the Debian packages that building and testing muster need. Safe to run again: it calls
# apt-get only when a package is missing, and then runs `apt-get update` once.
set -euo pipefail

packages=(
  build-essential g++ cmake ninja-build ccache
  libboost-dev librange-v3-dev catch2 librapidcheck-dev libssl-dev libbenchmark-dev
  python3  # drives the multi-process runtime tests (tests/runtime/cluster_test.py)
)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
  if [[ "$status" != "installed" ]]; then
    missing+=("$package")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup-debian: all ${#packages[@]} packages are installed"
  exit 0
fi

as_root=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null; then
    echo "setup-debian: missing packages: ${missing[*]}. Run this script as root or install sudo." >&2
    exit 1
  fi
  as_root=(sudo)
fi

echo "setup-debian: installing ${missing[*]}"
"${as_root[@]}" apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get -o DPkg::Lock::Timeout=600 install -y "${missing[@]}"
