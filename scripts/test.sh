#!/usr/bin/env bash
# The README's test command: installs what is missing (scripts/setup.sh), then runs every check:
# TypeScript build, typecheck, lint and vitest (all packages), then ruff and pytest for gpu-harness.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
source "$ROOT/scripts/env.sh"
cd "$ROOT"
echo "== TypeScript: build, typecheck, lint" >&2
pnpm turbo run build typecheck lint --output-logs=errors-only
echo "== TypeScript: tests" >&2
pnpm turbo run test --concurrency=1 --output-logs=full
echo "== Python (gpu-harness): ruff, pytest" >&2
"$ROOT/.venv/bin/ruff" check packages/gpu-harness
(cd packages/gpu-harness && "$ROOT/.venv/bin/python" -m pytest -q)
