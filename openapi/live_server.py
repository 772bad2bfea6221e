"""A real `bacon-server serve` child process on a free loopback port, in a throw-away data dir.

Used by `check.py` (and handy for trying the clients by hand: `python live_server.py BINARY`).
Nothing here sleeps to synchronise: start-up waits for the "listening" line, then polls
`/readyz` until it answers 200 or a deadline passes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

LISTENING = re.compile(r"Bacon is listening on (http://\S+) ")
# Nothing outside this machine may be contacted: every plugin's allow-list is narrowed to the
# loopback address, and anything that still tries the network goes to a closed local port.
DEAD_PROXY = "http://127.0.0.1:9"


def plugin_ids(binary: str) -> list[str]:
    """The built-in plugin ids, from `bacon-server plugins list` (`<id> <version> (…): …`)."""
    out = subprocess.run([binary, "plugins", "list"], capture_output=True, text=True, check=True, timeout=60)
    return [line.split()[0] for line in out.stdout.splitlines() if line.startswith("bacon-plugin-")]


def loopback_only_env(binary: str) -> dict[str, str]:
    """`BACON_PLUGIN_<NAME>__ALLOWED_HOSTS=127.0.0.1` for every plugin, loopback opened to plugins
    (the egress policy refuses it by default), plus a dead proxy."""
    env = {"HTTP_PROXY": DEAD_PROXY, "HTTPS_PROXY": DEAD_PROXY, "ALL_PROXY": DEAD_PROXY}
    env["BACON_EGRESS__ALLOW_INTERNAL"] = "127.0.0.1/32"
    env |= {"http_proxy": DEAD_PROXY, "https_proxy": DEAD_PROXY, "all_proxy": DEAD_PROXY}
    env |= {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    for plugin_id in plugin_ids(binary):
        name = plugin_id.removeprefix("bacon-plugin-").upper().replace("-", "_")
        env[f"BACON_PLUGIN_{name}__ALLOWED_HOSTS"] = "127.0.0.1"
    return env


def request(method: str, url: str, key: str | None = None, body: object | None = None) -> tuple[int, object]:
    """A plain JSON request (for bootstrapping, not for the clients under test)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, json.loads(raw) if raw else None


class LiveServer:
    """`with LiveServer(binary) as server:` gives `server.base_url` and `server.admin_key`."""

    def __init__(self, binary: str, *, workers: bool = True, extra_env: dict[str, str] | None = None):
        self.binary = binary
        self.workers = workers
        self.extra_env = extra_env or {}
        self.base_url = ""
        self.admin_key = ""
        self.output: list[str] = []
        self._listening = threading.Event()
        self._tmp = tempfile.TemporaryDirectory(prefix="bacon-openapi-")
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> "LiveServer":
        data_dir = Path(self._tmp.name) / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BACON_")}
        env |= loopback_only_env(self.binary)
        env |= {
            "BACON_DATA_DIR": str(data_dir),
            "BACON_HTTP__BIND": "127.0.0.1:0",
            "BACON_LOG_FORMAT": "plain",
            "BACON_LOG": "warn",
        }
        env |= self.extra_env
        args = [self.binary, "serve"] + ([] if self.workers else ["--no-workers"])
        self._process = subprocess.Popen(
            args, cwd=self._tmp.name, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        threading.Thread(target=self._read_output, daemon=True).start()
        try:
            self._wait_until_ready(deadline=time.monotonic() + 60)
            self.admin_key = (data_dir / "admin.key").read_text().strip()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _read_output(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self.output.append(line.rstrip("\n"))
            match = LISTENING.search(line)
            if match and not self._listening.is_set():
                self.base_url = match.group(1)
                self._listening.set()

    def _wait_until_ready(self, deadline: float) -> None:
        if not self._listening.wait(timeout=max(0.0, deadline - time.monotonic())):
            raise RuntimeError("bacon-server did not report its address in time:\n" + "\n".join(self.output))
        while True:
            try:
                if request("GET", f"{self.base_url}/readyz")[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline or (self._process and self._process.poll() is not None):
                raise RuntimeError("bacon-server did not become ready:\n" + "\n".join(self.output))
            time.sleep(0.05)  # polling interval of the readiness loop, bounded by `deadline`

    def __exit__(self, *exc: object) -> None:
        if self._process and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._tmp.cleanup()

    def tenant_key(self, name: str, role: str = "admin") -> tuple[str, str]:
        """Creates a tenant with the server admin key and issues it a key: (tenant id, key)."""
        status, tenant = request("POST", f"{self.base_url}/v1/tenants", self.admin_key, {"name": name})
        if status != 201 or not isinstance(tenant, dict):
            raise RuntimeError(f"creating a tenant answered {status}: {tenant}")
        url = f"{self.base_url}/v1/tenants/{tenant['id']}/api-keys"
        status, key = request("POST", url, self.admin_key, {"name": name, "role": role})
        if status != 201 or not isinstance(key, dict):
            raise RuntimeError(f"issuing a key answered {status}: {key}")
        return tenant["id"], key["key"]


if __name__ == "__main__":
    with LiveServer(sys.argv[1]) as server:
        print(f"{server.base_url} admin key {server.admin_key}; Ctrl-C stops it", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
