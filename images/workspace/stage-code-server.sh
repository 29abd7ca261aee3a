#!/usr/bin/env bash
# Installs code-server from the npm registry into a staging directory on the HOST, so the image
# build only copies files. Runs with no network but the npm registry: every download an install
# step would make elsewhere is pre-seeded or redirected (see the npm_config_* lines below).
#
# Usage: stage-code-server.sh <code-server version> <staging dir>
# The staging dir appears only when the install succeeded (built in <dir>.partial, then renamed),
# so its presence is the cache hit.
set -euo pipefail

version="$1"
staging_dir="$2"
progress_interval_s=15

if [[ -f "$staging_dir/.complete" ]]; then
  echo "progress: code-server $version staging cached at $staging_dir"
  exit 0
fi

partial_dir="$staging_dir.partial"
rm -rf "$partial_dir"
mkdir -p "$partial_dir/tmp"

# @vscode/ripgrep's postinstall downloads a prebuilt rg from GitHub unless it finds
# $TMPDIR/vscode-ripgrep-cache-<its version>/ripgrep-<rg version>-<target>.tar.gz with `rg` at the
# archive root. Debian's rg (same major behaviour) stands in for it.
rg_bin="$(command -v rg || true)"
if [[ -z "$rg_bin" ]]; then
  echo "error: ripgrep (rg) is required on the host: apt-get install ripgrep" >&2
  exit 1
fi
ripgrep_package_version="1.15.11"
ripgrep_asset="ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
ripgrep_cache_dir="$partial_dir/tmp/vscode-ripgrep-cache-$ripgrep_package_version"
mkdir -p "$ripgrep_cache_dir"
tar -C "$(dirname "$rg_bin")" -czf "$ripgrep_cache_dir/$ripgrep_asset" rg

# node-gyp would download Node headers; point it at the headers the Debian nodejs package ships.
node_dir="$(dirname "$(dirname "$(command -v node)")")"
if [[ -d /usr/include/node ]]; then
  node_headers_dir=/usr
elif [[ -d "$node_dir/include/node" ]]; then
  node_headers_dir="$node_dir"
else
  echo "error: Node headers not found (looked in /usr/include/node and $node_dir/include/node)" >&2
  exit 1
fi

echo "progress: npm install code-server@$version (compiles argon2, kerberos, node-pty; takes minutes)"
# unsafe_perm: code-server's postinstall refuses to run as root without it.
# yes: node-pty's postinstall calls npx, which would otherwise prompt.
(
  cd "$partial_dir"
  export TMPDIR="$partial_dir/tmp"
  export npm_config_unsafe_perm=true
  export npm_config_yes=true
  export npm_config_nodedir="$node_headers_dir"
  export npm_config_audit=false
  export npm_config_fund=false
  export npm_config_update_notifier=false
  export JOBS=1
  echo '{"name":"codeyard-code-server-staging","private":true}' >package.json
  npm install --omit=dev --no-package-lock "code-server@$version" 2>&1 | sed -u 's/^/npm: /'
) &
npm_pid=$!
# npm is silent while it downloads and compiles; say now and then that it is still going.
started_s=$SECONDS
while kill -0 "$npm_pid" 2>/dev/null; do
  sleep 1
  if (((SECONDS - started_s) % progress_interval_s == 0)) && kill -0 "$npm_pid" 2>/dev/null; then
    echo "progress: npm install code-server@$version still running ($((SECONDS - started_s)) s)"
  fi
done
wait "$npm_pid"

rm -rf "$partial_dir/tmp"
# npm only warns when an install script fails to run or build; check what code-server needs.
vscode_modules="$partial_dir/node_modules/code-server/lib/vscode/node_modules"
for required in \
  "$vscode_modules/@vscode/ripgrep/bin/rg" \
  "$vscode_modules/node-pty/build/Release/pty.node" \
  "$partial_dir/node_modules/argon2/lib/binding/napi-v3/argon2.node" \
  "$partial_dir/node_modules/code-server/lib/vscode/node_modules.asar"; do
  if [[ ! -e "$required" ]]; then
    echo "error: code-server install is incomplete: $required is missing" >&2
    exit 1
  fi
done
touch "$partial_dir/.complete"
rm -rf "$staging_dir"
mv "$partial_dir" "$staging_dir"
echo "progress: code-server $version staged at $staging_dir"
