#!/bin/sh
# Clone spec.repository on first start (no-op without CODEYARD_GIT_REPOSITORY), then serve.
/usr/local/bin/codeyard-clone-repository "$HOME/workspace"
exec node /usr/local/lib/codeyard-test-workspace/server.mjs
