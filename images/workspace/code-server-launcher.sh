#!/bin/sh
# `code-server` on PATH, so terminals inside the editor can call it too.
exec node /usr/local/lib/code-server/node_modules/code-server/out/node/entry.js "$@"
