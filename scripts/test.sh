#!/usr/bin/env bash
# The README's test command: installs what is missing (scripts/setup.sh), then runs every check:
# TypeScript build, typecheck, lint and vitest (all packages), then ruff and pytest for gpu-harness.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
source "$ROOT/scripts/env.sh"
if [ -z "${VF_SHARED_DATA:-}" ] || [ ! -d "$VF_SHARED_DATA" ]; then
  echo "scripts/test.sh: the public data folder was not found: expected ../shared/data beside this checkout" \
    "(or beside the checkout it was cloned from), or VF_SHARED_DATA=<folder> naming it" >&2
  exit 2
fi
echo "== public data: $VF_SHARED_DATA" >&2
# The comparator's report test opens report.html in Debian's headless Chromium (driven by playwright-core).
if [ ! -x /usr/bin/chromium ]; then
  echo "== installing Debian's chromium for the report test" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >&2
fi
cd "$ROOT"
echo "== TypeScript: build, typecheck, lint" >&2
pnpm turbo run build typecheck lint --output-logs=errors-only
echo "== TypeScript: tests" >&2
pnpm turbo run test --concurrency=1 --output-logs=full
echo "== Python (gpu-harness): ruff, pytest" >&2
"$ROOT/.venv/bin/ruff" check packages/gpu-harness
"$ROOT/.venv/bin/ruff" check --config packages/vidur-bridge/python/ruff.toml packages/vidur-bridge/python
(cd packages/gpu-harness && "$ROOT/.venv/bin/python" -m pytest -q)
