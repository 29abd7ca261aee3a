#!/usr/bin/env bash
# Turns the base root filesystem tar into an image and sets its configuration (there is no
# Dockerfile for the base: `docker import` is how an image is made with no registry).
#
# Usage: import-image.sh <rootfs tar> <image reference> <label>...
set -euo pipefail

rootfs_tar="$1"
reference="$2"
shift 2
label_changes=()
for label in "$@"; do
  label_changes+=(--change "LABEL $label")
done

# Workspaces run as coder (uid 1000); images built FROM this one switch to root only if they must.
docker import \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV LANG=C.UTF-8" \
  --change "ENV HOME=/home/coder" \
  --change "USER 1000:1000" \
  --change "WORKDIR /home/coder" \
  --change 'CMD ["/bin/bash"]' \
  "${label_changes[@]}" \
  "$rootfs_tar" "$reference" >/dev/null
