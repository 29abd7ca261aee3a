#!/bin/sh
# Starts code-server for one codespace. Everything it writes (settings, extensions, the workspace)
# lives under /home/coder, which is the codespace's named volume.
# Env: CODEYARD_GIT_REPOSITORY / CODEYARD_GIT_REF (cloned on first start only),
#      CODEYARD_CODE_SERVER_ARGS (extra flags, e.g. --trusted-origins for the node proxy).
set -eu
export HOME=/home/coder
workspace="$HOME/workspace"
mkdir -p "$workspace"
# First start only: the codespace is the user's own container, so VS Code's workspace-trust
# prompt would only stand between them and their files. Their own settings win afterwards.
settings="$HOME/.local/share/code-server/User/settings.json"
if [ ! -e "$settings" ]; then
  mkdir -p "$(dirname "$settings")"
  printf '{\n  "security.workspace.trust.enabled": false\n}\n' >"$settings"
fi
/usr/local/bin/codeyard-clone-repository "$workspace"
# Word splitting of CODEYARD_CODE_SERVER_ARGS is intended: it carries several flags.
# shellcheck disable=SC2086
exec /usr/local/bin/code-server \
  --auth none \
  --bind-addr 0.0.0.0:8080 \
  --disable-telemetry \
  --disable-update-check \
  ${CODEYARD_CODE_SERVER_ARGS:-} \
  "$workspace"
