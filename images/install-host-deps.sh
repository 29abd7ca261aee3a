#!/usr/bin/env bash
# Installs the Debian packages images/build.sh needs on the host, when any is missing
# (for CI and fresh machines; a no-op when all are present). Needs root.
set -euo pipefail

packages=(debootstrap ripgrep libkrb5-dev build-essential python3)
missing=()
for package in "${packages[@]}"; do
  dpkg-query --show --showformat='${db:Status-Status}' "$package" 2>/dev/null | grep -qx installed ||
    missing+=("$package")
done
if ((${#missing[@]} == 0)); then
  echo "progress: host packages present (${packages[*]})"
  exit 0
fi
echo "progress: apt-get install ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
