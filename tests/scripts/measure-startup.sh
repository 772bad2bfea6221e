#!/usr/bin/env bash
# Prints bacon-server's start-up time (process start -> /readyz answers 200) and its idle RSS,
# for a first start (creates the database, keys, first tenant) and a second start (reuses them).
# Numbers only: nothing here asserts a duration. Usage: tests/scripts/measure-startup.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet --bin bacon-server
bin="$PWD/target/release/bacon-server"
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
port=18$((RANDOM % 900 + 100))

measure() {
  local label=$1 start end
  start=$(date +%s%N)
  (cd "$work" && BACON_HTTP__BIND="127.0.0.1:$port" BACON_LOG=warn exec "$bin" serve >"$work/$label.log" 2>&1) &
  pid=$!
  until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/$label.log"; exit 1; }
    sleep 0.005
  done
  end=$(date +%s%N)
  # Let the embedded workers settle, then read the resident set of the server process itself.
  sleep 2
  local rss
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  printf '%-12s start-up to ready: %4d ms   idle RSS: %5.1f MB\n' "$label" $(((end - start) / 1000000)) "$(echo "$rss / 1024" | bc -l)"
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
}

echo "bacon-server $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, SQLite embedded default"
measure "first start"
measure "restart"
