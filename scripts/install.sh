#!/usr/bin/env bash
# Installs Tributary's dependencies and builds it (npm's `prepare` runs the TypeScript build).
# Native addons (better-sqlite3) compile from source when no prebuilt binary can be downloaded;
# node-gyp then needs Node's headers, which we point it at here instead of letting it download them.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1; then
  echo "install: Node.js 20.6 or newer is needed (node was not found on PATH)" >&2
  exit 1
fi
node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<6)) { console.error(`install: Node.js >= 20.6 needed, found ${process.versions.node}`); process.exit(1) }'

prefix=$(node -p 'require("path").resolve(process.execPath, "..", "..")')
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$prefix/include/node/node.h" ]; then
  export npm_config_nodedir="$prefix"
fi

# Quiet, reproducible install from the lockfile when node_modules is missing or stale.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund --loglevel=error
else
  npm run --silent build
fi
