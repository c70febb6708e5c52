#!/usr/bin/env bash
# The README's install story, proven: packs the release for this platform (npm run pack:release),
# installs the tarballs into an empty folder with no Rust toolchain reachable (PATH without
# cargo/rustc, a fresh HOME and npm cache; dependencies come from the registry), then runs
# `npx cog-node init`, `npx cog-node predict`, and `cog-node serve` to READY and one prediction.
# Also checks the error when the platform package is left out (--omit=optional).
# Prints "install test: N passed, N failed"; COG_NODE_INSTALL_REPORT=file also writes the counts
# as vitest's JSON report does, for .ci/run's summary.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
passed=0
failed=0
check() { # check NAME COMMAND...: runs the command, counts it
  local name=$1
  shift
  if "$@"; then
    echo "ok: $name"
    passed=$((passed + 1))
  else
    echo "FAILED: $name"
    failed=$((failed + 1))
  fi
}
finish() {
  echo "install test: $passed passed, $failed failed"
  if [ -n "${COG_NODE_INSTALL_REPORT:-}" ]; then
    echo "{\"numPassedTests\": $passed, \"numFailedTests\": $failed}" >"$COG_NODE_INSTALL_REPORT"
  fi
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null
  [ "$failed" -eq 0 ]
  exit $?
}

npm run pack:release || { failed=$((failed + 1)); finish; }
VERSION=$(node -p 'require("./package.json").version')
MAIN="$ROOT/release/cog-node-$VERSION.tgz"
PLATFORM=$(ls "$ROOT"/release/cog-node-*-"$VERSION".tgz | grep -v -- '-torch' | head -1)

WORK=$(mktemp -d)
# A PATH that keeps node and npm but no directory holding cargo or rustc.
CLEAN_PATH=""
IFS=: read -ra dirs <<<"$PATH"
for dir in "${dirs[@]}"; do
  [ -n "$dir" ] && [ ! -e "$dir/cargo" ] && [ ! -e "$dir/rustc" ] && CLEAN_PATH="${CLEAN_PATH:+$CLEAN_PATH:}$dir"
done
sandbox() { # runs a command in the no-Rust environment
  env -u CARGO_HOME -u RUSTUP_HOME -u CARGO_TARGET_DIR PATH="$CLEAN_PATH" HOME="$WORK/home" \
    npm_config_cache="$WORK/npm-cache" npm_config_update_notifier=false "$@"
}
mkdir -p "$WORK/home" "$WORK/app" "$WORK/no-optional"
check "no cargo or rustc on the sandbox's PATH" sandbox bash -c '! command -v cargo && ! command -v rustc'

cd "$WORK/app" || finish
check "npm install the release tarballs ($(basename "$MAIN"), $(basename "$PLATFORM"))" \
  sandbox npm install --no-audit --no-fund "$MAIN" "$PLATFORM"
check "the addon comes from the platform package, not from cog-node itself" \
  sandbox node -e '
    const fs = require("fs");
    if (fs.readdirSync("node_modules/cog-node").some((f) => f.endsWith(".node"))) process.exit(1);
    if (!fs.readdirSync(process.argv[1]).some((f) => f.endsWith(".node"))) process.exit(1);' \
  "node_modules/$(tar xzf "$PLATFORM" -O package/package.json | node -p 'JSON.parse(require("fs").readFileSync(0)).name')"
check "the package ships cog.yaml's JSON Schema for editors" test -s node_modules/cog-node/cog.schema.json
check "cog-node-torch is not downloaded for users who never import cog-node/torch" \
  test ! -e node_modules/cog-node-torch
check "npx cog-node init (in the folder npm install made, with its package.json)" sandbox npx --no cog-node init
predict_check() {
  local output
  output=$(sandbox npx --no cog-node predict -i prompt=hello -i times=2) || return 1
  [ "$output" = "HELLO HELLO" ] || { echo "stdout: $output"; return 1; }
}
check "npx cog-node predict -i prompt=hello -i times=2 prints HELLO HELLO (alone on stdout)" predict_check

PORT=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
sandbox node_modules/.bin/cog-node serve --host 127.0.0.1 --port "$PORT" >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
serve_check() {
  sandbox node -e '
    const base = `http://127.0.0.1:${process.argv[1]}`;
    const deadline = Date.now() + 60_000;
    (async () => {
      for (;;) {
        const health = await fetch(`${base}/health-check`).then((r) => r.json(), () => null);
        if (health?.status === "READY") break;
        if (health?.status === "SETUP_FAILED" || Date.now() > deadline) throw new Error(`not ready: ${JSON.stringify(health)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const response = await fetch(`${base}/predictions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ input: { prompt: "hi", times: 3 } }) });
      const prediction = await response.json();
      if (prediction.output !== "HI HI HI") throw new Error(JSON.stringify(prediction));
    })().catch((e) => { console.error(e.message); process.exit(1); });' "$PORT"
}
check "cog-node serve reaches READY and predicts over HTTP" serve_check
kill "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null
SERVER_PID=""

cd "$WORK/no-optional" || finish
sandbox npm init -y >/dev/null
check "npm install --omit=optional of cog-node alone" sandbox npm install --no-audit --no-fund --omit=optional "$MAIN"
missing_check() {
  local stderr
  stderr=$(sandbox npx --no cog-node schema 2>&1 >/dev/null)
  echo "$stderr" | grep -q "npm install $(basename "$PLATFORM" .tgz | sed "s/-$VERSION\$//")@$VERSION" || { echo "$stderr"; return 1; }
}
check "without its platform package, cog-node names the package to install" missing_check
cd "$ROOT" && rm -rf "$WORK"
finish
