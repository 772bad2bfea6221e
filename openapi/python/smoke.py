"""Smoke scenario for the generated Python client (`generated/bacon_client`, openapi-python-client).

Against a live server (`BACON_URL`, `BACON_ADMIN_KEY`): create a tenant and an editor key,
point the HTTP plugin at a tiny local endpoint, create a flow that calls it, start a run, poll it
to `succeeded`, and read its audit rows. Every call goes through the generated client, typed.
Run by `openapi/check.py`; see docs/api-clients.md.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent / "generated"))

from bacon_client import AuthenticatedClient  # noqa: E402
from bacon_client.api.audit import list_audit_entries  # noqa: E402
from bacon_client.api.flows import create_flow  # noqa: E402
from bacon_client.api.plugins import put_plugin_settings, test_plugin_connection  # noqa: E402
from bacon_client.api.runs import create_run, get_run  # noqa: E402
from bacon_client.api.tenants import create_api_key, create_tenant  # noqa: E402
from bacon_client.models import (  # noqa: E402
    ApiKeyRole,
    CreateApiKeyRequest,
    CreatedApiKeyResponse,
    CreateRunRequest,
    CreateTenantRequest,
    EndNode,
    EndNodeConfig,
    EndNodeType,
    FlowEdge,
    FlowGraph,
    FlowRequest,
    FlowResponse,
    PluginActionNode,
    PluginActionNodeConfig,
    PluginActionNodeType,
    PluginSettingsRequest,
    PluginSettingsResponse,
    RunResponse,
    RunStatus,
    StepStatus,
    TenantResponse,
    TestConnectionRequest,
    TestConnectionResponse,
    TriggerKind,
    TriggerNode,
    TriggerNodeConfig,
    TriggerNodeType,
    AuditEntryList,
)
from bacon_client.types import Response  # noqa: E402

HTTP_PLUGIN = "bacon-plugin-http"


class Orders(BaseHTTPRequestHandler):
    """The endpoint the flow calls: `GET /orders/<id>` answers the order as JSON."""

    seen: list[tuple[str, dict[str, str]]] = []

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        Orders.seen.append((self.path, dict(self.headers)))
        body = json.dumps({"orderId": self.path.rsplit("/", 1)[-1], "status": "shipped"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def expect(response: Response[Any], status: int, kind: type) -> Any:
    """The parsed body of `response`, which must have `status` and parse as `kind`."""
    if response.status_code != status or not isinstance(response.parsed, kind):
        raise AssertionError(
            f"expected {status} {kind.__name__}, got {response.status_code}: {response.content.decode(errors='replace')}"
        )
    return response.parsed


def main() -> None:
    base_url, admin_key = os.environ["BACON_URL"], os.environ["BACON_ADMIN_KEY"]
    target = ThreadingHTTPServer(("127.0.0.1", 0), Orders)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    target_url = f"http://127.0.0.1:{target.server_address[1]}"

    admin = AuthenticatedClient(base_url=base_url, token=admin_key, raise_on_unexpected_status=True)
    tenant: TenantResponse = expect(
        create_tenant.sync_detailed(client=admin, body=CreateTenantRequest(name="Python client smoke")), 201, TenantResponse
    )
    issued: CreatedApiKeyResponse = expect(
        create_api_key.sync_detailed(
            tenant.id, client=admin, body=CreateApiKeyRequest(name="python smoke", role=ApiKeyRole.EDITOR)
        ),
        201,
        CreatedApiKeyResponse,
    )
    assert issued.role == ApiKeyRole.EDITOR and issued.tenant_id == tenant.id
    client = AuthenticatedClient(base_url=base_url, token=issued.key, raise_on_unexpected_status=True)
    print(f"tenant {tenant.id}, editor key {issued.id}")

    settings = PluginSettingsRequest.from_dict({"allowedHosts": [target_url.removeprefix("http://")], "baseUrl": target_url})
    stored: PluginSettingsResponse = expect(
        put_plugin_settings.sync_detailed(HTTP_PLUGIN, client=client, body=settings), 200, PluginSettingsResponse
    )
    assert stored.stored and stored.values["baseUrl"] == target_url, stored.values.to_dict()
    tested: TestConnectionResponse = expect(
        test_plugin_connection.sync_detailed(HTTP_PLUGIN, client=client, body=TestConnectionRequest()),
        200,
        TestConnectionResponse,
    )
    assert tested.ok, tested.message
    print(f"HTTP plugin configured for {target_url}: {tested.message}")

    graph = FlowGraph(
        nodes=[
            TriggerNode(id="start", type_=TriggerNodeType.TRIGGER, config=TriggerNodeConfig(kind=TriggerKind.MANUAL)),
            PluginActionNode(
                id="fetch",
                type_=PluginActionNodeType.PLUGIN_ACTION,
                config=PluginActionNodeConfig(
                    plugin_id=HTTP_PLUGIN,
                    action_name="request",
                    payload={"method": "GET", "url": "/orders/{{ input.orderId }}"},
                ),
            ),
            EndNode(id="done", type_=EndNodeType.END, config=EndNodeConfig()),
        ],
        edges=[FlowEdge(id="e1", source="start", target="fetch"), FlowEdge(id="e2", source="fetch", target="done")],
    )
    flow: FlowResponse = expect(
        create_flow.sync_detailed(client=client, body=FlowRequest(name="Order lookup", graph=graph)), 201, FlowResponse
    )
    assert flow.version == 1 and [n.id for n in flow.graph.nodes] == ["start", "fetch", "done"]

    body = CreateRunRequest.from_dict({"input": {"orderId": "1001"}})
    run: RunResponse = expect(
        create_run.sync_detailed(flow.id, client=client, body=body, idempotency_key="python-smoke-1001"), 202, RunResponse
    )
    again: RunResponse = expect(
        create_run.sync_detailed(flow.id, client=client, body=body, idempotency_key="python-smoke-1001"), 200, RunResponse
    )
    assert again.id == run.id, "the same Idempotency-Key returns the same run"
    print(f"run {run.id} started on flow {flow.id} v{run.flow_version}")

    deadline = time.monotonic() + 60
    while run.status == RunStatus.RUNNING:
        assert time.monotonic() < deadline, f"run {run.id} still running after 60 s: {run.to_dict()}"
        time.sleep(0.1)  # polling interval, bounded by `deadline`
        run = expect(get_run.sync_detailed(run.id, client=client), 200, RunResponse)
    assert run.status == RunStatus.SUCCEEDED, run.to_dict()
    step = next(s for s in run.steps if s.node_id == "fetch")
    assert step.status == StepStatus.SUCCEEDED and step.attempts == 1, step.to_dict()
    output = step.output.to_dict() if step.output else {}
    assert output.get("status") == 200 and output.get("body") == {"orderId": "1001", "status": "shipped"}, output
    path, headers = Orders.seen[-1]
    assert path == "/orders/1001", Orders.seen
    assert {k.lower(): v for k, v in headers.items()}.get("idempotency-key", "").startswith(run.id), headers

    audit: AuditEntryList = expect(list_audit_entries.sync_detailed(client=client, run_id=run.id), 200, AuditEntryList)
    rows = [(a.kind, a.plugin_id, a.action, a.outcome, a.step_id) for a in audit.items]
    assert rows == [("flow_step", HTTP_PLUGIN, "request", "success", step.id)], rows
    print(f"run {run.id} succeeded; audit: {rows}")
    target.shutdown()


if __name__ == "__main__":
    main()
    print("python smoke scenario: passed")
