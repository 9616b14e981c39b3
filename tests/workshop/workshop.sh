# The real Raindrop Workshop (raindrop-ai/workshop, MIT), set up from scratch and run on loopback.
# Source this file, then:
#   workshop_setup              bun + the Workshop source + its node_modules, cached under
#                               target/workshop/ (prints why and returns 1 if the toolchain
#                               cannot be obtained: then callers skip)
#   workshop_start PORT DIR     serve on 127.0.0.1:PORT with HOME and the database under DIR,
#                               wait for /health; sets WORKSHOP_PID
#   workshop_stop               stop it (TERM, then KILL)
#
# bun comes from the npm package @oven/bun-linux-x64 (the binary is inside the package). The
# Workshop source is workshop-src.tar.gz beside this file: `git archive` of the server part of
# raindrop-ai/workshop at v0.1.18 (commit 8aa2d336dc8f9481a8b83a49a3a0c1aec3925fb1; package.json,
# bun.lock, bunfig.toml, tsconfig.json, LICENSE, src/, drizzle/). RD_WORKSHOP_SRC=DIR uses a
# checkout instead. Two changes before `bun install`: @raindrop-ai/ai-sdk and
# @raindrop-ai/claude-agent-sdk (only its examples use them, not on the registry) and the UI
# workspace are dropped, and install runs with --ignore-scripts (better-sqlite3, a dev dependency,
# cannot build offline; bun has its own sqlite).

WORKSHOP_BUN_VERSION="${WORKSHOP_BUN_VERSION:-1.4.5}"
_ws_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_ws_root="$(cd "$_ws_here/../.." && pwd)"
WORKSHOP_CACHE="${WORKSHOP_CACHE:-$_ws_root/target/workshop}"
WORKSHOP_BUN="$WORKSHOP_CACHE/bun-$WORKSHOP_BUN_VERSION/package/bin/bun"
WORKSHOP_DIR="$WORKSHOP_CACHE/workshop"
WORKSHOP_PID=""

workshop_setup() {
  local arch
  arch="$(uname -m)"
  if [ "$(uname -s)" != Linux ] || [ "$arch" != x86_64 ]; then
    echo "workshop: bun is fetched as @oven/bun-linux-x64; this is $(uname -s)/$arch" >&2
    return 1
  fi
  mkdir -p "$WORKSHOP_CACHE"
  # 1. bun
  if [ ! -x "$WORKSHOP_BUN" ]; then
    command -v npm >/dev/null || { echo "workshop: npm not found (needed to fetch @oven/bun-linux-x64)" >&2; return 1; }
    local dir="$WORKSHOP_CACHE/bun-$WORKSHOP_BUN_VERSION" tgz
    rm -rf "$dir" && mkdir -p "$dir"
    echo "workshop: npm pack @oven/bun-linux-x64@$WORKSHOP_BUN_VERSION" >&2
    tgz="$(cd "$dir" && npm pack --silent "@oven/bun-linux-x64@$WORKSHOP_BUN_VERSION" 2>/dev/null | tail -1)" || tgz=""
    if [ -z "$tgz" ] || [ ! -f "$dir/$tgz" ]; then
      echo "workshop: could not fetch @oven/bun-linux-x64@$WORKSHOP_BUN_VERSION from the npm registry" >&2
      return 1
    fi
    tar -xzf "$dir/$tgz" -C "$dir" && rm -f "$dir/$tgz"
    chmod +x "$WORKSHOP_BUN"
  fi
  "$WORKSHOP_BUN" --version >/dev/null 2>&1 || { echo "workshop: $WORKSHOP_BUN does not run here" >&2; return 1; }
  # 2. the source, patched, and its dependencies (redone when the source or the patch changes)
  local stamp
  stamp="$( (cat "$_ws_here/workshop-src.tar.gz"; echo "${RD_WORKSHOP_SRC:-}"; sed -n '/^_ws_patch()/,/^}/p' "${BASH_SOURCE[0]}") | sha256sum | cut -c1-16)"
  if [ ! -f "$WORKSHOP_DIR/.installed-$stamp" ]; then
    rm -rf "$WORKSHOP_DIR" && mkdir -p "$WORKSHOP_DIR"
    if [ -n "${RD_WORKSHOP_SRC:-}" ]; then
      cp -r "$RD_WORKSHOP_SRC"/{package.json,bun.lock,bunfig.toml,tsconfig.json,LICENSE,src,drizzle} "$WORKSHOP_DIR"/
    else
      tar -xzf "$_ws_here/workshop-src.tar.gz" -C "$WORKSHOP_DIR"
    fi
    _ws_patch "$WORKSHOP_DIR/package.json" || return 1
    echo "workshop: bun install --ignore-scripts (first run: about 400 MB of node_modules)" >&2
    # bun's download cache goes to a temporary folder: node_modules is what is kept.
    local cache
    cache="$(mktemp -d "${TMPDIR:-/tmp}/rd-bun-cache.XXXXXX")"
    if ! (cd "$WORKSHOP_DIR" && BUN_INSTALL_CACHE_DIR="$cache" \
          "$WORKSHOP_BUN" install --ignore-scripts >"$WORKSHOP_CACHE/install.log" 2>&1); then
      rm -rf "$cache"
      echo "workshop: bun install failed (log: $WORKSHOP_CACHE/install.log):" >&2
      tail -5 "$WORKSHOP_CACHE/install.log" >&2
      return 1
    fi
    rm -rf "$cache"
    touch "$WORKSHOP_DIR/.installed-$stamp"
  fi
}

_ws_patch() {
  python3 - "$1" <<'EOF'
import json, sys
path = sys.argv[1]
package = json.load(open(path))
for name in ("@raindrop-ai/ai-sdk", "@raindrop-ai/claude-agent-sdk"):
    package["dependencies"].pop(name, None)
package.pop("workspaces", None)
json.dump(package, open(path, "w"), indent=2)
EOF
}

workshop_start() { # PORT DIR
  local port="$1" dir="$2" i
  mkdir -p "$dir/home"
  (cd "$WORKSHOP_DIR" && exec env HOME="$dir/home" RAINDROP_WORKSHOP_DB_PATH="$dir/workshop.db" \
     RAINDROP_WORKSHOP_PORT="$port" NO_COLOR=1 "$WORKSHOP_BUN" src/index.ts workshop serve \
     >"$dir/workshop.log" 2>&1) &
  WORKSHOP_PID=$!
  for i in $(seq 300); do
    if curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; then return 0; fi
    kill -0 "$WORKSHOP_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "workshop: did not answer /health on port $port; log:" >&2
  tail -20 "$dir/workshop.log" >&2
  return 1
}

workshop_stop() {
  local pid="$WORKSHOP_PID" i
  WORKSHOP_PID=""
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
