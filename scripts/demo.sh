#!/usr/bin/env bash
# The README's main-job command: installs what is missing, builds, and runs `runner demo` (extra args pass through).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
source "$ROOT/scripts/env.sh"
cd "$ROOT"
pnpm turbo run build --output-logs=errors-only >&2
exec node "$ROOT/apps/runner/dist/main.js" demo "$@"
