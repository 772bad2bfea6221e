"""Generated clients and schemathesis against a live bacon-server (run by `openapi/check.sh`).

1. Python: generate `python/generated/bacon_client` with openapi-python-client, run `python/smoke.py`.
2. TypeScript: generate `ts/generated/schema.d.ts` with openapi-typescript, type-check and build
   `ts/src/smoke.ts` with tsc, run it with node (openapi-fetch).
3. schemathesis over every operation of `openapi.json` (config: `schemathesis.toml`).

The smoke scenarios run on a server with workers (their runs must finish); schemathesis runs on
its own server without workers, so nothing it generates executes in the background. Both servers
may reach only 127.0.0.1 (see `live_server.loopback_only_env`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from live_server import LiveServer

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
STEPS = ("python", "typescript", "schemathesis")


def run(args: list[str], *, cwd: Path = HERE, env: dict[str, str] | None = None) -> None:
    print(f"$ {' '.join(str(a) for a in args)}", flush=True)
    subprocess.run(args, cwd=cwd, env={**os.environ, **(env or {})}, check=True)


def python_client(server: LiveServer) -> None:
    out = HERE / "python" / "generated"
    shutil.rmtree(out, ignore_errors=True)
    run([str(BIN / "openapi-python-client"), "generate", "--path", "openapi.json",
         "--config", "python/config.yaml", "--meta", "none",
         "--output-path", str(out / "bacon_client")])
    run([sys.executable, "python/smoke.py"], env={"BACON_URL": server.base_url, "BACON_ADMIN_KEY": server.admin_key})


def typescript_client(server: LiveServer) -> None:
    ts = HERE / "ts"
    shutil.rmtree(ts / "generated", ignore_errors=True)
    shutil.rmtree(ts / "dist", ignore_errors=True)
    run(["npm", "run", "--silent", "generate"], cwd=ts)
    run(["npm", "run", "--silent", "build"], cwd=ts)
    run(["node", "dist/src/smoke.js"], cwd=ts, env={"BACON_URL": server.base_url, "BACON_ADMIN_KEY": server.admin_key})


def schemathesis(server: LiveServer) -> None:
    _, tenant_key = server.tenant_key("schemathesis")
    env = {"BACON_ADMIN_KEY": server.admin_key, "BACON_TENANT_KEY": tenant_key}
    run([str(BIN / "schemathesis"), "--config-file", "schemathesis.toml", "run", "openapi.json",
         "--url", server.base_url, "--no-color"], env=env)


def timed(name: str, step, *args) -> None:
    started = time.monotonic()
    print(f"== {name}", flush=True)
    step(*args)
    print(f"== {name}: passed in {time.monotonic() - started:.0f} s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True, help="the bacon-server executable")
    parser.add_argument("--only", choices=STEPS, action="append", help="run only these steps (repeatable)")
    options = parser.parse_args()
    steps = options.only or list(STEPS)
    binary = str(Path(options.binary).resolve())
    if "python" in steps or "typescript" in steps:
        with LiveServer(binary, workers=True) as server:
            if "python" in steps:
                timed("Python client (openapi-python-client) smoke scenario", python_client, server)
            if "typescript" in steps:
                timed("TypeScript client (openapi-typescript + openapi-fetch) smoke scenario", typescript_client, server)
    if "schemathesis" in steps:
        with LiveServer(binary, workers=False) as server:
            timed("schemathesis over every operation", schemathesis, server)
    # A plain closing line CI summaries read (every step above raised on failure).
    print(f"openapi: {len(steps)} passed, 0 failed", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as err:
        print(f"FAILED: {' '.join(str(a) for a in err.cmd)} exited with {err.returncode}", file=sys.stderr)
        sys.exit(1)
