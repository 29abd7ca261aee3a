#!/usr/bin/env bash
# Builds codeyard's container images from this machine's package sources, with no registry:
#   base       codeyard/base            Debian bookworm (debootstrap) + host node + user coder
#   test       codeyard/test-workspace  tiny Node server (HTTP, WebSocket echo, files), starts fast
#   workspace  codeyard/workspace       code-server, installed from npm on the host and copied in
#   all        all three
#
# Usage: images/build.sh base|test|workspace|all
#
# Idempotent: each image carries a content hash (its files, the base's hash, node and code-server
# versions) as the label dev.codeyard.image.hash and as its tag; when an image with that hash is
# present the build is skipped. Slow inputs are cached on disk too (the debootstrap tree and the
# code-server npm install) under $CODEYARD_CACHE_DIR, default ${XDG_CACHE_HOME:-~/.cache}/codeyard.
#
# Output: free-form progress lines, then one line per requested image that ensureImage() parses:
#   codeyard-image: <cached|built> <repository>:latest <hash> <elapsed>ms
set -euo pipefail

images_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache_dir="${CODEYARD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/codeyard}"
code_server_version="4.100.3"
hash_label="dev.codeyard.image.hash"
kind_label="dev.codeyard.image.kind"
hash_tag_length=12

export DOCKER_BUILDKIT=0 # this engine has no BuildKit/buildx; the classic builder does COPY fine

# Temporary files and build contexts, removed however the script ends.
declare -a cleanup_paths=()
trap 'rm -rf "${cleanup_paths[@]}"' EXIT

repository_of() {
  case "$1" in
    base) echo codeyard/base ;;
    test) echo codeyard/test-workspace ;;
    workspace) echo codeyard/workspace ;;
  esac
}

progress() { echo "progress: $*"; }

# sha256 of the named files' contents and of extra strings, in a stable order.
content_hash() {
  local -a files=()
  local -a strings=()
  while (($#)); do
    if [[ "$1" == "--" ]]; then
      shift
      strings=("$@")
      break
    fi
    files+=("$1")
    shift
  done
  {
    for file in "${files[@]}"; do
      printf '%s\n' "${file#"$images_dir"/}"
      sha256sum <"$file"
    done
    printf '%s\n' "${strings[@]}"
  } | sha256sum | cut -c1-64
}

node_version="$(node --version)"
# Every input of an image is in its folder (base/ holds the import configuration too), so editing
# this script alone rebuilds nothing.
base_hash="$(content_hash "$images_dir"/base/* -- "node=$node_version")"
test_hash="$(content_hash "$images_dir"/test-workspace/* -- "base=$base_hash")"
workspace_hash="$(content_hash "$images_dir"/workspace/* -- "base=$base_hash" "code-server=$code_server_version")"

hash_of() {
  case "$1" in
    base) echo "$base_hash" ;;
    test) echo "$test_hash" ;;
    workspace) echo "$workspace_hash" ;;
  esac
}

# True when the image for this hash exists; then makes sure :latest points at it.
image_is_current() {
  local kind="$1" hash repository label
  hash="$(hash_of "$kind")"
  repository="$(repository_of "$kind")"
  label="$(docker image inspect --format "{{index .Config.Labels \"$hash_label\"}}" \
    "$repository:${hash:0:$hash_tag_length}" 2>/dev/null || true)"
  [[ "$label" == "$hash" ]] || return 1
  docker tag "$repository:${hash:0:$hash_tag_length}" "$repository:latest"
}

build_base() {
  local tar="$cache_dir/base-rootfs.$$.tar"
  cleanup_paths+=("$tar")
  "$images_dir/base/build-rootfs.sh" "$cache_dir" "$tar" 2>&1 |
    grep --line-buffered -v -E \
      '^debootstrap: I: ((Retrieving|Validating) [a-z0-9][^ ]* [0-9]|(Extracting|Unpacking|Configuring) [^ ]+\.\.\.$)'
  progress "docker import codeyard/base:${base_hash:0:$hash_tag_length}"
  "$images_dir/base/import-image.sh" "$tar" "codeyard/base:${base_hash:0:$hash_tag_length}" \
    "$hash_label=$base_hash" "$kind_label=base"
  docker tag "codeyard/base:${base_hash:0:$hash_tag_length}" codeyard/base:latest
}

docker_build() {
  local kind="$1" context="$2" hash repository
  hash="$(hash_of "$kind")"
  repository="$(repository_of "$kind")"
  docker build --quiet=false \
    --build-arg "BASE_IMAGE=codeyard/base:${base_hash:0:$hash_tag_length}" \
    --label "$hash_label=$hash" --label "$kind_label=$kind" \
    --tag "$repository:${hash:0:$hash_tag_length}" --tag "$repository:latest" \
    "$context" 2>&1 |
    grep --line-buffered -v -E '^( ---> |Removing intermediate container|DEPRECATED|\s*(BuildKit|environment-variable|Install the buildx|https://docs.docker.com/go/buildx|$))' |
    sed -u 's/^/docker: /'
  # grep hides the build's exit status; the image's presence is the real result.
  image_is_current "$kind"
}

build_test() {
  docker_build test "$images_dir/test-workspace"
}

build_workspace() {
  local staging="$cache_dir/code-server-$code_server_version"
  "$images_dir/workspace/stage-code-server.sh" "$code_server_version" "$staging"
  # The classic builder sends the whole context; hard links make assembling it nearly free.
  local context="$cache_dir/context-workspace.$$"
  cleanup_paths+=("$context")
  rm -rf "$context"
  mkdir -p "$context"
  progress "assembling build context (hard links to the staged install)"
  cp -al "$staging" "$context/code-server"
  rm -f "$context/code-server/.complete" "$context/code-server/package.json"
  cp "$images_dir"/workspace/{Dockerfile,entrypoint.sh,code-server-launcher.sh} "$context/"
  docker_build workspace "$context"
}

# Untags this kind's images from earlier hashes so they do not pile up. An image a container still
# uses keeps its layers (docker refuses or only untags), so running codespaces are unaffected.
prune_stale() {
  local kind="$1" hash reference
  hash="$(hash_of "$kind")"
  docker image ls --filter "label=$kind_label=$kind" --format '{{.Repository}}:{{.Tag}}' |
    while read -r reference; do
      case "$reference" in
        *:latest | *":${hash:0:$hash_tag_length}" | *"<none>"*) ;;
        *) docker image rm "$reference" >/dev/null 2>&1 && progress "removed stale $reference" || true ;;
      esac
    done
}

# Builds one image unless current; always ends with the codeyard-image line.
ensure() {
  local kind="$1" started_ns hash repository outcome
  started_ns="$(date +%s%N)"
  hash="$(hash_of "$kind")"
  repository="$(repository_of "$kind")"
  if image_is_current "$kind"; then
    outcome=cached
  else
    if [[ "$kind" != base ]] && ! image_is_current base; then
      progress "building codeyard/base first"
      build_base
      prune_stale base
    fi
    progress "building $repository:${hash:0:$hash_tag_length}"
    "build_$kind"
    image_is_current "$kind" || {
      echo "error: $repository:${hash:0:$hash_tag_length} was not produced" >&2
      exit 1
    }
    prune_stale "$kind"
    outcome=built
  fi
  echo "codeyard-image: $outcome $repository:latest $hash $((($(date +%s%N) - started_ns) / 1000000))ms"
}

main() {
  local target="${1:-}"
  local -a kinds
  case "$target" in
    base | test | workspace) kinds=("$target") ;;
    all) kinds=(base test workspace) ;;
    *)
      echo "usage: $0 base|test|workspace|all" >&2
      exit 2
      ;;
  esac
  command -v docker >/dev/null || {
    echo "error: docker CLI not found" >&2
    exit 1
  }
  docker info >/dev/null 2>&1 || {
    echo "error: Docker engine not reachable (docker info failed)" >&2
    exit 1
  }
  mkdir -p "$cache_dir"

  # The fast path takes no lock, so many callers can check at once.
  local kind started_ns all_current=true
  started_ns="$(date +%s%N)"
  for kind in "${kinds[@]}"; do
    image_is_current "$kind" || all_current=false
  done
  if $all_current; then
    for kind in "${kinds[@]}"; do
      echo "codeyard-image: cached $(repository_of "$kind"):latest $(hash_of "$kind")" \
        "$((($(date +%s%N) - started_ns) / 1000000))ms"
    done
    return 0
  fi
  # One build at a time per machine (node agents and tests may all call ensureImage at once);
  # whoever waited finds the image current afterwards and reports it as cached.
  exec 9>"$cache_dir/build.lock"
  if ! flock --nonblock 9; then
    progress "waiting for another image build on this machine"
    flock 9
  fi
  for kind in "${kinds[@]}"; do
    ensure "$kind"
  done
}

main "$@"
