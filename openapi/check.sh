#!/usr/bin/env bash
# The API as a contract, checked against a live server: the generated Python and TypeScript
# clients' smoke scenarios and schemathesis over every operation (see docs/api-clients.md).
# Installs the pinned tools (PyPI into openapi/.venv, npm into openapi/ts/node_modules), builds
# bacon-server (debug; a no-op after `cargo test`), then runs check.py. Arguments go to check.py
# (e.g. `--only schemathesis`).
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
(cd ts && npm ci --no-audit --no-fund --loglevel=error)

(cd .. && cargo build --quiet -p bacon-api --bin bacon-server)
binary="${CARGO_TARGET_DIR:-../target}/debug/bacon-server"

exec .venv/bin/python check.py --binary "$binary" "$@"
