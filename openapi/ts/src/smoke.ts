// Smoke scenario for the TypeScript types (openapi-typescript) used through openapi-fetch.
//
// Against a live server (BACON_URL, BACON_ADMIN_KEY): create a tenant and an editor key, point
// the HTTP plugin at a tiny local endpoint, create a flow that calls it, start a run, poll it to
// `succeeded`, and read its audit rows. `tsc` type-checks every call against generated/schema.d.ts.
// Run by openapi/check.py; see docs/api-clients.md.

import { strict as assert } from "node:assert";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import createClient from "openapi-fetch";

import type { components, paths } from "../generated/schema.js";

type Schemas = components["schemas"];
type FlowGraph = Schemas["FlowGraph"];

const HTTP_PLUGIN = "bacon-plugin-http";

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name}`);
  return value;
}

/** The body of an openapi-fetch result, which must have `status`. */
function expect<T>(result: { data?: T; error?: unknown; response: Response }, status: number): T {
  assert.equal(result.response.status, status, `expected ${status}: ${JSON.stringify(result.error ?? result.data)}`);
  assert.ok(result.data !== undefined, "a body");
  return result.data;
}

/** The endpoint the flow calls: `GET /orders/<id>` answers the order as JSON. */
async function ordersEndpoint() {
  const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? "", headers: req.headers });
    const body = JSON.stringify({ orderId: (req.url ?? "").split("/").pop(), status: "shipped" });
    res.writeHead(200, { "content-type": "application/json" }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, seen, server };
}

async function main(): Promise<void> {
  const baseUrl = env("BACON_URL");
  const target = await ordersEndpoint();
  const admin = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${env("BACON_ADMIN_KEY")}` } });

  const tenant = expect(await admin.POST("/v1/tenants", { body: { name: "TypeScript client smoke" } }), 201);
  const issued = expect(
    await admin.POST("/v1/tenants/{tenantId}/api-keys", {
      params: { path: { tenantId: tenant.id } },
      body: { name: "typescript smoke", role: "editor" },
    }),
    201,
  );
  assert.equal(issued.role, "editor");
  const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${issued.key}` } });
  console.log(`tenant ${tenant.id}, editor key ${issued.id}`);

  const plugin = { params: { path: { pluginId: HTTP_PLUGIN } } };
  const stored = expect(
    await client.PUT("/v1/plugins/{pluginId}/settings", {
      ...plugin,
      body: { allowedHosts: [target.host], baseUrl: target.url },
    }),
    200,
  );
  assert.ok(stored.stored);
  assert.equal(stored.values["baseUrl"], target.url);
  const tested = expect(await client.POST("/v1/plugins/{pluginId}/test-connection", { ...plugin, body: {} }), 200);
  assert.ok(tested.ok, tested.message);
  console.log(`HTTP plugin configured for ${target.url}: ${tested.message}`);

  const graph: FlowGraph = {
    nodes: [
      { id: "start", type: "trigger", config: { kind: "manual" } },
      {
        id: "fetch",
        type: "plugin_action",
        config: {
          pluginId: HTTP_PLUGIN,
          actionName: "request",
          payload: { method: "GET", url: "/orders/{{ input.orderId }}" },
        },
      },
      { id: "done", type: "end", config: {} },
    ],
    edges: [
      { id: "e1", source: "start", target: "fetch" },
      { id: "e2", source: "fetch", target: "done" },
    ],
  };
  const flow = expect(await client.POST("/v1/flows", { body: { name: "Order lookup", graph } }), 201);
  assert.equal(flow.version, 1);
  assert.deepEqual(
    flow.graph.nodes.map((n) => n.type),
    ["trigger", "plugin_action", "end"],
  );

  const start = {
    params: { path: { flowId: flow.id }, header: { "Idempotency-Key": "typescript-smoke-1001" } },
    body: { input: { orderId: "1001" } },
  };
  let run = expect(await client.POST("/v1/flows/{flowId}/runs", start), 202);
  const again = expect(await client.POST("/v1/flows/{flowId}/runs", start), 200);
  assert.equal(again.id, run.id, "the same Idempotency-Key returns the same run");
  console.log(`run ${run.id} started on flow ${flow.id} v${run.flowVersion}`);

  const deadline = Date.now() + 60_000;
  while (run.status === "running") {
    assert.ok(Date.now() < deadline, `run ${run.id} still running after 60 s: ${JSON.stringify(run)}`);
    await new Promise((resolve) => setTimeout(resolve, 100)); // polling interval, bounded by `deadline`
    run = expect(await client.GET("/v1/runs/{runId}", { params: { path: { runId: run.id } } }), 200);
  }
  assert.equal(run.status, "succeeded", JSON.stringify(run));
  const step = run.steps.find((s) => s.nodeId === "fetch");
  assert.ok(step, "the fetch step");
  assert.equal(step.status, "succeeded");
  assert.equal(step.attempts, 1);
  assert.deepEqual(step.output?.["body"], { orderId: "1001", status: "shipped" });
  const call = target.seen.at(-1);
  assert.equal(call?.url, "/orders/1001");
  assert.ok(String(call?.headers["idempotency-key"]).startsWith(run.id), JSON.stringify(call?.headers));

  const audit = expect(await client.GET("/v1/audit", { params: { query: { runId: run.id } } }), 200);
  const rows = audit.items.map((a) => [a.kind, a.pluginId, a.action, a.outcome, a.stepId]);
  assert.deepEqual(rows, [["flow_step", HTTP_PLUGIN, "request", "success", step.id]]);
  console.log(`run ${run.id} succeeded; audit: ${JSON.stringify(rows)}`);
  target.server.close();
}

main().then(
  () => console.log("typescript smoke scenario: passed"),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
