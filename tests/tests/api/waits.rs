//! `wait` nodes (issue #16, acceptance 3): a run waits for the customer's WhatsApp reply with no
//! job behind it; a signed Twilio message in the same conversation resumes it with the message
//! as the node's output (and starts no second run of the flow); another run's wait times out
//! into its `timeout` branch; events posted to a run resume it, and bad ones are refused. (A
//! waiting run surviving a restart is in `tests/tests/durability.rs`.)

use std::time::Duration;

use bacon_tests::app::{Reply, read, spawn_app_with};
use bacon_tests::{TestApp, backend_test, db_test, postgres, wait};
use serde_json::{Value, json};

const PUBLIC_URL: &str = "https://bacon.example.com";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-token-0123456789abcdef01";
const TWILIO: &str = "bacon-plugin-twilio-whatsapp";

/// Delivers a WhatsApp message from `from` to the hook, signed as Twilio signs it.
async fn deliver(app: &TestApp, hook_url: &str, sid: &str, from: &str, text: &str) -> Reply {
    let form =
        [("AccountSid", ACCOUNT), ("Body", text), ("From", from), ("MessageSid", sid), ("To", "whatsapp:+14155238886")];
    let (headers, body) = bacon_tests::twilio::signed_form(hook_url, TOKEN, &form);
    let mut request = app.client.post(app.url(hook_url.strip_prefix(PUBLIC_URL).unwrap())).body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    read(request.send().await.unwrap()).await
}

async fn runs_of(app: &TestApp, flow: &str) -> Vec<Value> {
    app.get(&format!("/v1/runs?flowId={flow}"), &app.tenant_key).await.json["items"].as_array().unwrap().clone()
}

async fn step_waiting(app: &TestApp, run: &str, node: &str) -> Value {
    wait::until(&format!("{node} of {run} to wait"), Duration::from_secs(30), || async {
        let reply = app.get(&format!("/v1/runs/{run}"), &app.tenant_key).await;
        reply.json["steps"].as_array()?.iter().find(|s| s["nodeId"] == node && s["status"] == "waiting").cloned()
    })
    .await
}

async fn pending_jobs(app: &TestApp) -> i64 {
    let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
    let table = if db.get_database_backend() == sea_orm::DbBackend::Sqlite { "Jobs" } else { "apalis.jobs" };
    bacon_tests::rows::count(&db, &format!("{table} WHERE status = 'Pending'")).await
}

backend_test!(
    async fn a_run_waits_for_the_customers_whatsapp_reply_and_a_reply_resumes_it(backend) {
        let Some(app) = spawn_app_with(backend, |c| c.public_url = Some(PUBLIC_URL.into())).await else {
            return postgres::print_skip(module_path!());
        };
        let key = app.tenant_key.clone();
        let settings = json!({"accountSid": ACCOUNT, "authToken": TOKEN, "from": "+14155238886"});
        assert_eq!(app.put(&format!("/v1/plugins/{TWILIO}/settings"), &key, settings).await.status, 200);
        // A message opens a conversation run that waits for the customer's next message.
        let graph = json!({
            "nodes": [
                {"id": "in", "type": "trigger", "config": {"kind": "plugin", "pluginId": TWILIO, "triggerKey": "message_received"}},
                {"id": "reply", "type": "wait", "config": {
                    "correlation": {"pluginId": TWILIO, "key": "trigger.conversationId"}}},
                {"id": "note", "type": "transform", "config": {"set": {
                    "first": "{{ nodes.in.output.text }}", "answer": "{{ nodes.reply.output.text }}"}}}
            ],
            "edges": [{"id": "1", "source": "in", "target": "reply"}, {"id": "2", "source": "reply", "target": "note"}]
        });
        let flow = app.create_flow("waits", graph).await;
        let activated = app.post(&format!("/v1/flows/{flow}/activate"), &key, json!({})).await;
        assert_eq!(activated.status, 200, "{}", activated.text);
        let hook = activated.json["hookUrl"].as_str().unwrap().to_string();

        let customer = "whatsapp:+15558675310";
        let first = deliver(&app, &hook, "SM00000000000000000000000000000001", customer, "Where is my order?").await;
        assert_eq!(first.status, 200, "{}", first.text);
        let run = wait::until("the conversation's run", Duration::from_secs(30), || async {
            runs_of(&app, &flow).await.first().and_then(|r| r["id"].as_str().map(str::to_string))
        })
        .await;
        let waiting = step_waiting(&app, &run, "reply").await;
        assert!(waiting["output"]["correlationKey"].as_str().unwrap().contains("conv_"), "{waiting}");
        assert_eq!(pending_jobs(&app).await, 0, "nothing polls for the waiting run");

        // Another customer's message does not resume it (it starts that customer's own run).
        let other = deliver(&app, &hook, "SM00000000000000000000000000000002", "whatsapp:+15550000000", "Hi").await;
        assert_eq!(other.status, 200);
        wait::until("the other customer's run", Duration::from_secs(30), || async {
            (runs_of(&app, &flow).await.len() == 2).then_some(())
        })
        .await;
        let still = app.get(&format!("/v1/runs/{run}"), &key).await;
        assert_eq!(still.json["status"], "running", "{}", still.text);

        // The customer's reply resumes the waiting run, with the message as the wait's output.
        let reply = deliver(&app, &hook, "SM00000000000000000000000000000003", customer, "Order 1001").await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let done = app.run_ended(&run).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(done["vars"]["first"], "Where is my order?");
        assert_eq!(done["vars"]["answer"], "Order 1001");
        let step = done["steps"].as_array().unwrap().iter().find(|s| s["nodeId"] == "reply").unwrap().clone();
        assert_eq!(step["output"]["from"], customer, "{step}");
        assert_eq!(step["output"]["deliveryId"], "SM00000000000000000000000000000003", "{step}");
        let runs = runs_of(&app, &flow).await;
        assert_eq!(runs.len(), 2, "the reply was the waiting run's event, not a new conversation: {runs:?}");
    }
);

db_test!(
    async fn a_wait_times_out_into_its_timeout_branch_and_events_resume_others(app) {
        let key = app.tenant_key.clone();
        let graph = |timeout_ms: u64| {
            json!({
                "nodes": [
                    {"id": "t", "type": "trigger", "config": {}},
                    {"id": "approval", "type": "wait", "config": {"event": "approved", "timeoutMs": timeout_ms}},
                    {"id": "go", "type": "transform", "config": {"set": {"by": "{{ nodes.approval.output.by }}"}}},
                    {"id": "escalate", "type": "transform", "config": {"set": {"escalated": "{{ nodes.approval.error.kind }}"}}}
                ],
                "edges": [
                    {"id": "1", "source": "t", "target": "approval"},
                    {"id": "2", "source": "approval", "target": "go"},
                    {"id": "3", "source": "approval", "target": "escalate", "kind": "timeout"}
                ]
            })
        };
        let quick = app.create_flow("waits", graph(300)).await;
        let started = app.post(&format!("/v1/flows/{quick}/runs"), &key, json!({})).await;
        let run = started.json["id"].as_str().unwrap().to_string();
        let done = app.run_ended(&run).await;
        assert_eq!(done["status"], "succeeded", "the timeout branch handled it: {done}");
        assert_eq!(done["vars"]["escalated"], "timeout");
        assert!(done["vars"].get("by").is_none(), "{done}");
        let late = app.post(&format!("/v1/runs/{run}/events/approved"), &key, json!({"by": "ana"})).await;
        late.assert_problem(409, "invalid_run_state");

        let patient = app.create_flow("waits", graph(600_000)).await;
        let started = app.post(&format!("/v1/flows/{patient}/runs"), &key, json!({})).await;
        let run = started.json["id"].as_str().unwrap().to_string();
        step_waiting(&app, &run, "approval").await;
        app.post(&format!("/v1/runs/{run}/events/rejected"), &key, json!({})).await.assert_problem(409, "not_waiting");
        let viewer = app.issue_key(&app.tenant_id, "viewer").await;
        app.post(&format!("/v1/runs/{run}/events/approved"), &viewer, json!({}))
            .await
            .assert_problem(403, "insufficient_role");
        let resumed = app.post(&format!("/v1/runs/{run}/events/approved"), &key, json!({"by": "ana"})).await;
        assert_eq!(resumed.status, 200, "{}", resumed.text);
        let done = app.run_ended(&run).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(done["vars"]["by"], "ana");
        let again = app.post(&format!("/v1/runs/{run}/events/approved"), &key, json!({"by": "bo"})).await;
        again.assert_problem(409, "invalid_run_state");
    }
);

db_test!(
    async fn a_wait_without_a_timeout_edge_fails_the_run_when_it_times_out(app) {
        let graph = json!({
            "nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                {"id": "w", "type": "wait", "config": {"timeoutMs": 200}}
            ],
            "edges": [{"id": "1", "source": "t", "target": "w"}]
        });
        let flow = app.create_flow("waits", graph).await;
        let started = app.post(&format!("/v1/flows/{flow}/runs"), &app.tenant_key, json!({})).await;
        let done = app.run_ended(started.json["id"].as_str().unwrap()).await;
        assert_eq!(done["status"], "failed", "{done}");
        assert_eq!(done["error"]["kind"], "timeout", "{done}");
    }
);

db_test!(
    async fn an_approval_wait_is_resumed_by_its_signed_link_and_by_nothing_else(app) {
        use bacon_plugin_sdk::testing::wiremock::matchers::path;
        use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
        let vendor = MockServer::start().await;
        Mock::given(path("/notify")).respond_with(ResponseTemplate::new(200)).mount(&vendor).await;
        let settings = json!({"allowedHosts": [vendor.uri()]});
        assert_eq!(app.put("/v1/plugins/bacon-plugin-http/settings", &app.tenant_key, settings).await.status, 200);
        let graph = json!({
            "nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                {"id": "ask", "type": "plugin_action", "config": {"pluginId": "bacon-plugin-http", "actionName": "request",
                    "payload": {"method": "POST", "url": format!("{}/notify", vendor.uri()),
                        "body": {"text": "Refund order 7?", "approve": "{{ resume.approve }}"}}}},
                {"id": "approve", "type": "wait", "config": {"approval": true}},
                {"id": "done", "type": "transform", "config": {"set": {"by": "{{ nodes.approve.output.by }}"}}}
            ],
            "edges": [
                {"id": "1", "source": "t", "target": "ask"},
                {"id": "2", "source": "ask", "target": "approve"},
                {"id": "3", "source": "approve", "target": "done"}
            ]
        });
        let flow = app.create_flow("waits", graph).await;
        let started = app.post(&format!("/v1/flows/{flow}/runs"), &app.tenant_key, json!({})).await;
        let run = started.json["id"].as_str().unwrap().to_string();
        let waiting = step_waiting(&app, &run, "approve").await;
        let sent = vendor.received_requests().await.unwrap();
        let sent: Value = serde_json::from_slice(&sent[0].body).unwrap();
        let link = sent["approve"].as_str().unwrap().to_string();
        assert!(link.starts_with(&format!("/resume/{run}/approve/")), "{link}");
        assert!(waiting["output"].get("resumeUrl").is_none(), "the waiting step does not show the link");

        // No key is needed, but the link must be whole and for this run's node.
        let post = |path: String, body: Value| {
            let request = app.client.post(app.url(&path)).json(&body);
            async move { read(request.send().await.unwrap()).await }
        };
        let token = link.rsplit('/').next().unwrap().to_string();
        let mut altered = token.clone();
        altered.replace_range(..1, if altered.starts_with('A') { "B" } else { "A" });
        post(format!("/resume/{run}/approve/{altered}"), json!({})).await.assert_problem(404, "not_found");
        post(format!("/resume/{run}/ask/{token}"), json!({})).await.assert_problem(404, "not_found");
        let other = app.post(&format!("/v1/flows/{flow}/runs"), &app.tenant_key, json!({})).await;
        let other = other.json["id"].as_str().unwrap().to_string();
        post(format!("/resume/{other}/approve/{token}"), json!({})).await.assert_problem(404, "not_found");
        assert_eq!(app.get(&format!("/v1/runs/{run}"), &app.tenant_key).await.json["status"], "running");

        let approved = post(link.clone(), json!({"by": "ana"})).await;
        assert_eq!(approved.status, 200, "{}", approved.text);
        assert_eq!(approved.json["runId"], run);
        let done = app.run_ended(&run).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(done["vars"]["by"], "ana");
        post(link, json!({"by": "bo"})).await.assert_problem(409, "invalid_run_state");
    }
);

db_test!(
    async fn waits_that_could_never_end_as_written_are_refused_with_pointers(app) {
        let graph = json!({
            "nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                {"id": "reply", "type": "wait", "config": {"correlation": {"pluginId": "bacon-plugin-twilio-whatsapp", "key": "input.phone"}}},
                {"id": "late", "type": "end", "config": {}}
            ],
            "edges": [{"id": "1", "source": "t", "target": "reply"},
                      {"id": "2", "source": "reply", "target": "late", "kind": "timeout"}]
        });
        let refused = app.post("/v1/flows", &app.tenant_key, json!({"name": "bad", "graph": graph})).await;
        refused.assert_problem(422, "validation_failed");
        let pointers: Vec<&str> =
            refused.json["errors"].as_array().unwrap().iter().filter_map(|e| e["pointer"].as_str()).collect();
        assert!(pointers.contains(&"/graph/nodes/1/config/correlation/eventKey"), "{}", refused.text);
        assert!(pointers.contains(&"/graph/edges/1/kind"), "a timeout edge without timeoutMs: {}", refused.text);
    }
);
