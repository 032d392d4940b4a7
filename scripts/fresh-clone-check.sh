#!/usr/bin/env bash
# Proves the README's two commands on a fresh clone of the committed HEAD, in a temp folder:
#   1. `npm ci && npm start` comes up ready (health, admin key, a real request), then stops cleanly on Ctrl-C;
#   2. the test harness (its global setup: embedded PostgreSQL's initdb run as the postgres user from the clone's
#      node_modules, Redis, migrations) works from the clone, with one small suite;
#   3. `npm ci && npm test` passes (skipped with --start-only, which is how the test suite itself calls this,
#      since it is already running inside `npm test`).
# The clone sits in a folder only its owner can enter (mode 0700, like root's home or any `mktemp -d`), where
# PostgreSQL, which runs as the `postgres` user when we are root, must still reach its binaries.
set -euo pipefail
start_only=false
[ "${1:-}" = "--start-only" ] && start_only=true
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
work=$(mktemp -d /tmp/mserve-fresh-XXXXXX)
launcher=""
cleanup() {
  if [ -n "$launcher" ] && kill -0 "$launcher" 2>/dev/null; then kill -KILL -- "-$launcher" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
# A port free now, below the range outgoing connections borrow from (32768–60999 on Linux): a port from listen(0)
# can be taken by one of npm's downloads before the platform listens on it (seen in CI: PostgreSQL's port).
free_port() {
  node -e '
    const net = require("net");
    const low = Number(require("fs").readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32768;
    const top = low - 1, bottom = Math.max(10000, top - 20000);
    const attempt = (left) => {
      const port = bottom + Math.floor(Math.random() * (top - bottom + 1));
      const s = net.createServer();
      s.once("error", () => (left > 0 ? attempt(left - 1) : process.exit(1)));
      s.listen(port, "127.0.0.1", () => s.close(() => console.log(port)));
    };
    attempt(200);'
}
PORT=$(free_port)
EMBEDDED_POSTGRES_PORT=$(free_port); while [ "$EMBEDDED_POSTGRES_PORT" = "$PORT" ]; do EMBEDDED_POSTGRES_PORT=$(free_port); done
EMBEDDED_REDIS_PORT=$(free_port); while [ "$EMBEDDED_REDIS_PORT" = "$PORT" ] || [ "$EMBEDDED_REDIS_PORT" = "$EMBEDDED_POSTGRES_PORT" ]; do EMBEDDED_REDIS_PORT=$(free_port); done
export PORT EMBEDDED_POSTGRES_PORT EMBEDDED_REDIS_PORT
# nothing of the caller's configuration (the test suite sets ADMIN_KEY, ADMIN_PASSWORD, ...): the embedded defaults only
unset DATABASE_URL REDIS_URL ADMIN_KEY ADMIN_PASSWORD ADMIN_USERNAME SESSION_SECRET PUBLIC_URL OIDC_ISSUER OIDC_CLIENT_ID OIDC_CLIENT_SECRET STORAGE_DIR VAR_DIR NODE_OPTIONS

chmod 700 "$work"
git clone -q "$repo" "$work/mserve"
cd "$work/mserve"
echo "fresh clone of $(git rev-parse --short HEAD) in $work/mserve (mode $(stat -c %a "$work")); api port $PORT"

# Own session and process group, like a terminal running the command in the foreground.
setsid bash -c 'npm ci --no-audit --no-fund && npm start' > "$work/start.log" 2>&1 < /dev/null &
launcher=$!
ready=false
for _ in $(seq 1 600); do
  if curl -fsS "http://127.0.0.1:$PORT/health/ready" > "$work/ready.json" 2>/dev/null; then ready=true; break; fi
  if ! kill -0 "$launcher" 2>/dev/null; then break; fi
  sleep 1
done
if [ "$ready" != true ]; then
  echo "the platform did not come up ready; its output:"; tail -50 "$work/start.log"; exit 1
fi
echo "ready: $(cat "$work/ready.json")"
[ "$(stat -c %a var/admin.key)" = "600" ] || { echo "var/admin.key is not mode 0600"; exit 1; }
grep -q "generated the provider admin key" "$work/start.log" || { echo "the admin key was not announced"; exit 1; }
status=$(curl -s -o "$work/container.json" -w '%{http_code}' -H "Authorization: Bearer $(cat var/admin.key)" \
  -H 'content-type: application/json' -d '{"name":"fresh"}' "http://127.0.0.1:$PORT/api/v1/containers")
[ "$status" = "201" ] || { echo "creating a container answered $status: $(cat "$work/container.json")"; exit 1; }
echo "created a container with the admin key: HTTP $status"
# the console: built, served at /, and the admin user's generated password kept like the admin key
curl -s -o "$work/console.html" "http://127.0.0.1:$PORT/" && grep -q '<div id="app">' "$work/console.html" || { echo "the console is not served at /"; exit 1; }
asset=$(grep -o '/assets/[^"]*\.js' "$work/console.html" | head -1)
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$asset")" = "200" ] || { echo "the console's script $asset is not served"; exit 1; }
[ "$(stat -c %a var/admin.password)" = "600" ] || { echo "var/admin.password is not mode 0600"; exit 1; }
echo "the console is served at / (script $asset); log in as admin with var/admin.password"

# Ctrl-C: SIGINT to the whole foreground group; everything must stop, nothing may be left running.
kill -INT -- "-$launcher"
for _ in $(seq 1 60); do kill -0 "$launcher" 2>/dev/null || break; sleep 1; done
if kill -0 "$launcher" 2>/dev/null; then echo "npm start did not stop within 60 s of Ctrl-C"; tail -20 "$work/start.log"; exit 1; fi
sleep 1
if pgrep -f "$work/mserve" > /dev/null; then echo "processes left running after stop:"; pgrep -af "$work/mserve"; exit 1; fi
launcher=""
echo "npm start stopped cleanly on Ctrl-C"

# The test harness from the same 0700 folder: npm start granted the postgres user traversal to reach its data
# folder inside the clone; take it back, so the harness (data in a temp folder, binaries in the clone) must cope.
chmod 700 "$work"
echo "running one suite through the test harness from a mode $(stat -c %a "$work") folder"
if ! NODE_OPTIONS=--experimental-vm-modules MSERVE_SKIP_FRESH_CLONE=1 npx jest src/config/config.spec.ts > "$work/harness.log" 2>&1; then
  echo "the test harness failed in the fresh clone:"; tail -30 "$work/harness.log"; exit 1
fi
echo "the test harness works from the clone"

if [ "$start_only" = false ]; then
  echo "running: npm ci && npm test (fresh clone)"
  npm ci --no-audit --no-fund > "$work/test-ci.log" 2>&1 || { tail -30 "$work/test-ci.log"; exit 1; }
  MSERVE_SKIP_FRESH_CLONE=1 npm test 2>&1 | tee "$work/test.log" | tail -30
  [ "${PIPESTATUS[0]}" = "0" ] || { echo "npm test failed in the fresh clone"; exit 1; }
fi
echo "fresh-clone check passed"
