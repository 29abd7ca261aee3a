#!/usr/bin/env bash
# Builds the codeyard base root filesystem from Debian packages and the host's Node binary as a
# tar file. No registry image is involved: import-image.sh turns the tar into an image with
# `docker import`.
#
# Usage: build-rootfs.sh <cache dir> <output tar>
# The debootstrap tree is cached as <cache dir>/debootstrap-<key>.tar (key = suite, mirror and
# package list), so only the first build on a machine pays for it (~40 s).
set -euo pipefail

cache_dir="$1"
output_tar="$2"

suite=bookworm
packages=git,procps,libgssapi-krb5-2,ca-certificates
coder_uid=1000

# The mirror apt already uses on this machine; deb.debian.org when none is configured.
detect_mirror() {
  local mirror=""
  if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
    mirror="$(awk '/^URIs:/ && $2 ~ /\/debian\/?$/ { print $2; exit }' /etc/apt/sources.list.d/*.sources)"
  fi
  if [[ -z "$mirror" && -f /etc/apt/sources.list ]]; then
    mirror="$(awk '$1 == "deb" && $3 == "'"$suite"'" { print $2; exit }' /etc/apt/sources.list)"
  fi
  echo "${mirror:-http://deb.debian.org/debian}"
}

mirror="$(detect_mirror)"
debootstrap_key="$(printf '%s\n' "$suite" "$mirror" "$packages" | sha256sum | cut -c1-16)"
debootstrap_tar="$cache_dir/debootstrap-$debootstrap_key.tar"

work_dir="$(mktemp -d "$cache_dir/rootfs.XXXXXX")"
trap 'rm -rf "$work_dir"' EXIT
root="$work_dir/root"
mkdir -p "$root"

if [[ -f "$debootstrap_tar" ]]; then
  echo "progress: debootstrap $suite cached ($debootstrap_tar)"
  tar -C "$root" -xf "$debootstrap_tar"
else
  command -v debootstrap >/dev/null || {
    echo "error: debootstrap is required on the host: apt-get install debootstrap" >&2
    exit 1
  }
  echo "progress: debootstrap --variant=minbase $suite from $mirror (about 40 s)"
  debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" 2>&1 |
    grep --line-buffered -E '^I: (Retrieving|Validating|Extracting|Installing|Configuring|Base system)' |
    sed -u 's/^/debootstrap: /' || true
  test -x "$root/usr/bin/git" || {
    echo "error: debootstrap did not produce a root filesystem with git" >&2
    exit 1
  }
  # Nothing in a container needs the package lists or downloaded archives.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -cf "$debootstrap_tar.partial" .
  mv "$debootstrap_tar.partial" "$debootstrap_tar"
fi

echo "progress: adding node $(node --version) and user coder"
install -m 0755 "$(command -v node)" "$root/usr/local/bin/node"
chroot "$root" /usr/sbin/groupadd --gid "$coder_uid" coder
chroot "$root" /usr/sbin/useradd --uid "$coder_uid" --gid "$coder_uid" --home-dir /home/coder \
  --create-home --shell /bin/bash coder
install -d -o "$coder_uid" -g "$coder_uid" -m 0755 "$root/home/coder/workspace"
install -m 0755 "$(dirname "$0")/codeyard-clone-repository" "$root/usr/local/bin/codeyard-clone-repository"
# A container has no use for these and they only make the image bigger.
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*

echo "progress: packing root filesystem"
tar -C "$root" --numeric-owner -cf "$output_tar" .
