#!/usr/bin/env bash
# Prepares a fresh Debian machine for codeyard's full test suite: the Debian packages it
# uses (Redis, a Docker engine, Chromium, debootstrap, build headers), a running Docker
# engine, and the workspace images (built from Debian and npm packages, no image registry).
# Safe to run again: it installs and builds only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(redis-server docker.io debootstrap chromium libkrb5-dev ripgrep build-essential python3 nginx-light iproute2 ca-certificates curl)
missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Debian redis-server package may start a system instance; tests start their own on free
# loopback ports and never use it.
command -v redis-server >/dev/null

if ! docker info >/dev/null 2>&1; then
  echo "setup: starting dockerd"
  nohup dockerd >/tmp/codeyard-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null || { echo "setup: dockerd did not start; see /tmp/codeyard-dockerd.log" >&2; exit 1; }
fi

bash images/build.sh test
bash images/build.sh workspace
