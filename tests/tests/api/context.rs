//! AI context (issue #6, acceptance 5): `POST /v1/context/enrich` runs every enabled enricher of
//! the tenant concurrently; snippets come by weight within the token budget, a slow or failing
//! enricher is skipped and named, one audit row lists the sources; the `ai_context` flow node
//! does the same inside a run and puts the snippets in `vars.aiContext`. The vendors are wiremock
//! servers answering as Shopify, HubSpot and Salesforce do.

use std::time::Duration;

use bacon_plugin_sdk::testing::wiremock::matchers::{header, method, path, query_param};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_tests::app::spawn_app_with;
use bacon_tests::{Backend, TestApp, backend_test, db_test, logs, postgres, wait};
use serde_json::{Value, json};

const ENRICH: &str = "/v1/context/enrich";
const EMAIL: &str = "bob@example.com";
const SHOPIFY: &str = "bacon-plugin-shopify";
const SALESFORCE: &str = "bacon-plugin-salesforce";
const HUBSPOT: &str = "bacon-plugin-hubspot";
const HUBSPOT_TOKEN: &str = "pat-na1-c0ffee00-2222-3333-4444-contexttest1";
const SHOPIFY_TOKEN: &str = "shpat_contexttest0123456789";
const SALESFORCE_SECRET: &str = "8C4F3B0A1E9D2C7B6A5F4E3D2C1B0CTX";
const SALESFORCE_TOKEN: &str = "00D5e000000KQ2e!AQ4AQContextAccessToken";
const SHOPIFY_API: &str = "/admin/api/2026-04";
const CONTACT_ID: &str = "003RO0000035WQgYAM";

/// Longer than the server's request timeout (30 s): an enricher that waited for it would turn
/// the whole call into a 503, so a 200 proves the call was cut at `timeoutMs`.
const HANG: Duration = Duration::from_secs(60);

/// Shopify's customer search and order list for [`EMAIL`]: a customer snippet (weight 0.8) and
/// two orders (1.0 for the newest, 0.9).
async fn mock_shopify(shopify: &MockServer) {
    Mock::given(method("GET"))
        .and(path(format!("{SHOPIFY_API}/customers/search.json")))
        .and(query_param("query", format!("email:{EMAIL}").as_str()))
        .and(header("x-shopify-access-token", SHOPIFY_TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"customers": [{
            "id": 207119551, "email": EMAIL, "first_name": "Bob", "last_name": "Norman",
            "orders_count": 2, "total_spent": "657.94", "currency": "USD",
            "created_at": "2024-10-02T09:21:37-05:00", "state": "enabled"
        }]})))
        .mount(shopify)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{SHOPIFY_API}/customers/207119551/orders.json")))
        .and(query_param("status", "any"))
        .and(header("x-shopify-access-token", SHOPIFY_TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"orders": [
            {"id": 1073459962, "name": "#1002", "email": EMAIL, "created_at": "2026-11-20T09:30:00-05:00",
             "cancelled_at": null, "financial_status": "paid", "fulfillment_status": "fulfilled",
             "total_price": "59.00", "currency": "EUR", "customer": {"id": 207119551},
             "line_items": [{"id": 1, "title": "Wool socks", "sku": "SOCK-W", "quantity": 2, "price": "29.50"}],
             "fulfillments": [{"id": 2, "status": "success", "tracking_company": "DHL Express",
                               "tracking_number": "00340434161094042557", "tracking_url": null}]},
            {"id": 450789469, "name": "#1001", "email": EMAIL, "created_at": "2008-01-10T11:00:00-05:00",
             "cancelled_at": null, "financial_status": "paid", "fulfillment_status": null,
             "total_price": "598.94", "currency": "USD", "customer": {"id": 207119551},
             "line_items": [{"id": 3, "title": "IPod Nano - 8gb", "sku": "IPOD", "quantity": 1, "price": "598.94"}],
             "fulfillments": []}
        ]})))
        .mount(shopify)
        .await;
}

/// Salesforce's token endpoint and, after `delay`, the contact of [`EMAIL`] (weight 0.8) and its
/// one open case (0.7).
async fn mock_salesforce(salesforce: &MockServer, delay: Duration) {
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": SALESFORCE_TOKEN, "instance_url": salesforce.uri(), "token_type": "Bearer",
            "id": "https://login.salesforce.com/id/00D5e000000KQ2eEAG/0055e000004Xy1ZAAS",
            "issued_at": "1735689600000", "signature": "d9kFfR3oI7Yb0i5mVtq9yHxPjN2wW1Qm2hKx9fYdGv0="
        })))
        .mount(salesforce)
        .await;
    Mock::given(method("GET"))
        .and(path("/services/data/v62.0/query"))
        .and(query_param(
            "q",
            format!(
                "SELECT Id, FirstName, LastName, Email, Phone, AccountId, Account.Name FROM Contact \
                 WHERE Email = '{EMAIL}' ORDER BY LastModifiedDate DESC LIMIT 1"
            )
            .as_str(),
        ))
        .and(header("authorization", format!("Bearer {SALESFORCE_TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_delay(delay).set_body_json(json!({
            "totalSize": 1, "done": true, "records": [{
                "attributes": {"type": "Contact"}, "Id": CONTACT_ID, "FirstName": "Bob", "LastName": "Norman",
                "Email": EMAIL, "Phone": "+1 415 555 0100", "AccountId": "001RO000001abcdIAA",
                "Account": {"attributes": {"type": "Account"}, "Name": "Acme Corp"}
            }]
        })))
        .mount(salesforce)
        .await;
    Mock::given(method("GET"))
        .and(path("/services/data/v62.0/query"))
        .and(query_param(
            "q",
            format!(
                "SELECT Id, CaseNumber, Subject, Status, Priority, CreatedDate FROM Case WHERE ContactId = \
                 '{CONTACT_ID}' AND IsClosed = false ORDER BY CreatedDate DESC LIMIT 5"
            )
            .as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "totalSize": 1, "done": true, "records": [{
                "attributes": {"type": "Case"}, "Id": "500RO00000AbCdEYAV", "CaseNumber": "00001026",
                "Subject": "Order 1001 arrived damaged", "Status": "Working", "Priority": "High",
                "CreatedDate": "2025-01-14T09:30:00.000+0000"
            }]
        })))
        .mount(salesforce)
        .await;
}

/// HubSpot's contact of [`EMAIL`] (no owner, so no owner look-up) after `delay`: one snippet
/// (weight 0.75).
async fn mock_hubspot(hubspot: &MockServer, delay: Duration) {
    Mock::given(method("GET"))
        .and(path(format!("/crm/v3/objects/contacts/{EMAIL}")))
        .and(query_param("idProperty", "email"))
        .and(header("authorization", format!("Bearer {HUBSPOT_TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_delay(delay).set_body_json(json!({
            "id": "512",
            "properties": {
                "company": "Norman Goods", "createdate": "2025-01-10T09:00:00Z", "email": EMAIL,
                "firstname": "Bob", "hs_object_id": "512", "lastmodifieddate": "2025-01-11T09:00:00Z",
                "lastname": "Norman", "lifecyclestage": "customer", "notes_last_updated": "2025-01-11T08:30:00Z"
            },
            "createdAt": "2025-01-10T09:00:00Z", "updatedAt": "2025-01-11T09:00:00Z", "archived": false
        })))
        .mount(hubspot)
        .await;
}

/// Starts the server with each plugin pointed at its mock.
async fn spawn_with(backend: Backend, mocks: &[(&str, &MockServer)]) -> Option<TestApp> {
    let urls: Vec<(String, String)> = mocks.iter().map(|(id, mock)| (id.to_string(), mock.uri())).collect();
    spawn_app_with(backend, |c| c.plugins.base_urls.extend(urls)).await
}

/// Starts the server with Shopify and Salesforce pointed at their mocks.
async fn spawn(backend: Backend, shopify: &MockServer, salesforce: &MockServer) -> Option<TestApp> {
    spawn_with(backend, &[(SHOPIFY, shopify), (SALESFORCE, salesforce)]).await
}

async fn configure_hubspot(app: &TestApp) {
    let put = app
        .put(&format!("/v1/plugins/{HUBSPOT}/settings"), &app.tenant_key, json!({"accessToken": HUBSPOT_TOKEN}))
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
}

async fn configure_shopify(app: &TestApp, query: &str) {
    let put = app
        .put(
            &format!("/v1/plugins/{SHOPIFY}/settings{query}"),
            &app.tenant_key,
            json!({"shopDomain": "acme.myshopify.com", "accessToken": SHOPIFY_TOKEN}),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
}

/// Salesforce caches tokens per process by login URL and client id: a client id per test (and
/// backend) keeps a later test that gets an earlier mock's port from reusing its token.
async fn configure_salesforce(app: &TestApp, test: &str) {
    let client_id = format!("3MVG9dAEux2v1sLtE6DHYnvXj8v.{test}.{:?}", app.backend);
    let put = app
        .put(
            &format!("/v1/plugins/{SALESFORCE}/settings"),
            &app.tenant_key,
            json!({"loginUrl": "https://acme.my.salesforce.com", "clientId": client_id,
                   "clientSecret": SALESFORCE_SECRET, "apiVersion": "62.0"}),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
}

fn sources(reply: &Value) -> Vec<String> {
    reply["snippets"].as_array().unwrap().iter().map(|s| s["source"].as_str().unwrap().to_string()).collect()
}

fn token_sum(reply: &Value) -> u64 {
    reply["snippets"].as_array().unwrap().iter().map(|s| s["tokens"].as_u64().unwrap()).sum()
}

/// Every snippet's `tokens` is the documented estimate, `ceil(characters / 4)`.
fn assert_estimates(reply: &Value) {
    for s in reply["snippets"].as_array().unwrap() {
        let chars = s["content"].as_str().unwrap().chars().count() as u64;
        assert_eq!(s["tokens"].as_u64().unwrap(), chars.div_ceil(4), "{s}");
    }
}

fn assert_no_secrets(texts: &[&str]) {
    let captured = logs::captured();
    for secret in [SHOPIFY_TOKEN, SALESFORCE_SECRET, SALESFORCE_TOKEN, HUBSPOT_TOKEN] {
        for text in texts {
            assert!(!text.contains(secret), "a secret leaked: {text}");
        }
        assert!(!captured.contains(secret), "a secret is in the logs");
    }
}

backend_test!(
    async fn snippets_from_both_enrichers_come_by_weight_within_the_budget(backend) {
        let shopify = MockServer::start().await;
        let salesforce = MockServer::start().await;
        mock_shopify(&shopify).await;
        mock_salesforce(&salesforce, Duration::ZERO).await;
        let Some(app) = spawn(backend, &shopify, &salesforce).await else {
            return postgres::print_skip(module_path!());
        };
        configure_shopify(&app, "").await;
        configure_salesforce(&app, "weights").await;

        let body = json!({"conversation": {"email": EMAIL}, "maxTokens": 1000, "timeoutMs": 10_000});
        let all = app.post(ENRICH, &app.tenant_key, body).await;
        assert_eq!(all.status, 200, "{}", all.text);
        assert_eq!(
            sources(&all.json),
            [
                "shopify:order:1002",
                "shopify:order:1001",
                // Equal weights (0.8) keep plugin id order.
                &format!("salesforce:contact:{CONTACT_ID}"),
                "shopify:customer:207119551",
                "salesforce:case:500RO00000AbCdEYAV",
            ]
        );
        let snippets = all.json["snippets"].as_array().unwrap();
        let weights: Vec<f64> = snippets.iter().map(|s| s["weight"].as_f64().unwrap()).collect();
        assert!(weights.windows(2).all(|w| w[0] >= w[1]), "{weights:?}");
        let plugins: Vec<&str> = snippets.iter().map(|s| s["pluginId"].as_str().unwrap()).collect();
        assert_eq!(plugins, [SHOPIFY, SHOPIFY, SALESFORCE, SHOPIFY, SALESFORCE]);
        assert!(snippets[0]["content"].as_str().unwrap().starts_with("Order #1002 placed 2026-11-20"), "{}", all.text);
        assert_eq!(all.json["skipped"], json!([]));
        assert_eq!(all.json["enrichers"], json!([SALESFORCE, SHOPIFY]));
        assert_estimates(&all.json);
        assert_eq!(all.json["usedTokens"].as_u64().unwrap(), token_sum(&all.json));
        assert_eq!(all.json["omittedSnippets"], 0);

        // A budget that holds exactly the two heaviest snippets gets those two.
        let budget = snippets[0]["tokens"].as_u64().unwrap() + snippets[1]["tokens"].as_u64().unwrap();
        let cut = app
            .post(ENRICH, &app.tenant_key, json!({"conversation": {"email": EMAIL}, "maxTokens": budget, "timeoutMs": 10_000}))
            .await;
        assert_eq!(cut.status, 200, "{}", cut.text);
        assert_eq!(sources(&cut.json), ["shopify:order:1002", "shopify:order:1001"]);
        assert_eq!((cut.json["usedTokens"].as_u64(), cut.json["maxTokens"].as_u64()), (Some(budget), Some(budget)));
        assert_eq!(cut.json["omittedSnippets"], 3);
        assert_no_secrets(&[&all.text, &cut.text]);
    }
);

backend_test!(
    async fn a_hanging_enricher_is_skipped_and_named_and_the_others_answer(backend) {
        let shopify = MockServer::start().await;
        let salesforce = MockServer::start().await;
        mock_shopify(&shopify).await;
        mock_salesforce(&salesforce, HANG).await;
        let Some(app) = spawn(backend, &shopify, &salesforce).await else {
            return postgres::print_skip(module_path!());
        };
        configure_shopify(&app, "").await;
        configure_salesforce(&app, "hang").await;

        let reply = app
            .post(ENRICH, &app.tenant_key, json!({"conversation": {"email": EMAIL}, "maxTokens": 1000, "timeoutMs": 1500}))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(sources(&reply.json), ["shopify:order:1002", "shopify:order:1001", "shopify:customer:207119551"]);
        assert_eq!(reply.json["skipped"].as_array().unwrap().len(), 1, "{}", reply.text);
        let skipped = &reply.json["skipped"][0];
        assert_eq!((skipped["pluginId"].as_str(), skipped["reason"].as_str()), (Some(SALESFORCE), Some("timed_out")));
        assert_eq!(skipped["message"], "the enricher did not answer within 1500 ms");
        assert_eq!(reply.json["enrichers"], json!([SALESFORCE, SHOPIFY]));
        assert_no_secrets(&[&reply.text]);
    }
);

backend_test!(
    async fn shopify_and_hubspot_snippets_both_arrive_within_the_budget(backend) {
        let shopify = MockServer::start().await;
        let hubspot = MockServer::start().await;
        mock_shopify(&shopify).await;
        mock_hubspot(&hubspot, Duration::ZERO).await;
        let Some(app) = spawn_with(backend, &[(SHOPIFY, &shopify), (HUBSPOT, &hubspot)]).await else {
            return postgres::print_skip(module_path!());
        };
        configure_shopify(&app, "").await;
        configure_hubspot(&app).await;

        let reply = app
            .post(ENRICH, &app.tenant_key, json!({"conversation": {"email": EMAIL}, "maxTokens": 1000, "timeoutMs": 10_000}))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(
            sources(&reply.json),
            ["shopify:order:1002", "shopify:order:1001", "shopify:customer:207119551", "hubspot:contact:512"]
        );
        assert_eq!(reply.json["snippets"][3]["pluginId"], HUBSPOT);
        assert!(reply.json["snippets"][3]["content"].as_str().unwrap().starts_with("HubSpot contact Bob Norman"));
        assert_eq!(reply.json["skipped"], json!([]));
        assert_eq!(reply.json["enrichers"], json!([HUBSPOT, SHOPIFY]));
        assert_estimates(&reply.json);
        let used = reply.json["usedTokens"].as_u64().unwrap();
        assert!(used == token_sum(&reply.json) && used <= 1000, "{}", reply.text);

        // One token short of everything: the lightest snippet (HubSpot's, 0.75) no longer fits.
        let cut = app
            .post(ENRICH, &app.tenant_key, json!({"conversation": {"email": EMAIL}, "maxTokens": used - 1, "timeoutMs": 10_000}))
            .await;
        assert_eq!(cut.status, 200, "{}", cut.text);
        assert_eq!(sources(&cut.json), ["shopify:order:1002", "shopify:order:1001", "shopify:customer:207119551"]);
        assert_eq!(cut.json["omittedSnippets"], 1);
        assert_eq!(cut.json["usedTokens"].as_u64().unwrap(), token_sum(&cut.json));
        assert_no_secrets(&[&reply.text, &cut.text]);
    }
);

backend_test!(
    async fn a_hanging_hubspot_is_skipped_and_named_and_shopify_answers(backend) {
        let shopify = MockServer::start().await;
        let hubspot = MockServer::start().await;
        mock_shopify(&shopify).await;
        mock_hubspot(&hubspot, HANG).await;
        let Some(app) = spawn_with(backend, &[(SHOPIFY, &shopify), (HUBSPOT, &hubspot)]).await else {
            return postgres::print_skip(module_path!());
        };
        configure_shopify(&app, "").await;
        configure_hubspot(&app).await;

        let reply = app
            .post(ENRICH, &app.tenant_key, json!({"conversation": {"email": EMAIL}, "maxTokens": 1000, "timeoutMs": 1500}))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(sources(&reply.json), ["shopify:order:1002", "shopify:order:1001", "shopify:customer:207119551"]);
        assert_eq!(
            reply.json["skipped"],
            json!([{"pluginId": HUBSPOT, "reason": "timed_out", "message": "the enricher did not answer within 1500 ms"}])
        );
        assert_no_secrets(&[&reply.text]);
    }
);

backend_test!(
    async fn each_enrich_call_writes_one_audit_row_naming_its_sources_and_skips(backend) {
        let shopify = MockServer::start().await;
        let salesforce = MockServer::start().await;
        mock_shopify(&shopify).await;
        // Salesforce refuses the credentials: a failing enricher, skipped.
        Mock::given(method("POST"))
            .and(path("/services/oauth2/token"))
            .respond_with(ResponseTemplate::new(400).set_body_json(
                json!({"error": "invalid_client", "error_description": "invalid client credentials"}),
            ))
            .mount(&salesforce)
            .await;
        let Some(app) = spawn(backend, &shopify, &salesforce).await else {
            return postgres::print_skip(module_path!());
        };
        configure_shopify(&app, "").await;
        configure_salesforce(&app, "audit").await;

        let reply = app
            .post(ENRICH, &app.tenant_key, json!({"conversation": {"email": EMAIL, "phone": "+15558675310"}, "maxTokens": 1000}))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json["skipped"][0]["pluginId"], SALESFORCE, "{}", reply.text);
        assert_eq!(reply.json["skipped"][0]["reason"], "unauthorized", "{}", reply.text);

        let audit = app.get("/v1/audit?action=enrich_context", &app.tenant_key).await;
        assert_eq!(audit.status, 200, "{}", audit.text);
        let rows = audit.json["items"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "one row per call: {}", audit.text);
        let row = &rows[0];
        assert_eq!((row["kind"].as_str(), row["outcome"].as_str()), (Some("ai_context"), Some("partial")));
        let listed: Vec<(String, String)> = row["details"]["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["pluginId"].as_str().unwrap().to_string(), s["source"].as_str().unwrap().to_string()))
            .collect();
        let returned: Vec<(String, String)> = reply.json["snippets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["pluginId"].as_str().unwrap().to_string(), s["source"].as_str().unwrap().to_string()))
            .collect();
        assert_eq!(listed, returned, "the row lists exactly the sources that went into the context");
        assert_eq!(row["details"]["skipped"], json!([{"pluginId": SALESFORCE, "reason": "unauthorized"}]));
        assert_eq!(row["details"]["identifiers"], json!(["email", "phone"]));
        assert!(row["error"].as_str().unwrap().starts_with(SALESFORCE), "{row}");
        // Neither the snippets' content nor the customer's identifiers nor a secret.
        assert!(!audit.text.contains("Order #1002") && !audit.text.contains(EMAIL) && !audit.text.contains("+1555"));
        assert_no_secrets(&[&reply.text, &audit.text]);
    }
);

backend_test!(
    async fn the_ai_context_node_puts_the_snippets_in_the_runs_vars(backend) {
        let shopify = MockServer::start().await;
        let salesforce = MockServer::start().await;
        mock_shopify(&shopify).await;
        let Some(app) = spawn(backend, &shopify, &salesforce).await else {
            return postgres::print_skip(module_path!());
        };
        let key = app.tenant_key.clone();
        configure_shopify(&app, "").await;

        // A transform maps the input's shape to `vars.conversation`, which the node reads.
        let graph = json!({
            "nodes": [
                {"id": "start", "type": "trigger", "config": {}},
                {"id": "who", "type": "transform", "config": {"set": {"conversation": {"email": "{{ input.customer.email }}"}}}},
                {"id": "context", "type": "ai_context", "config": {"maxTokens": 1000, "timeoutMs": 10000}},
                {"id": "done", "type": "end", "config": {}}
            ],
            "edges": [
                {"id": "e1", "source": "start", "target": "who"},
                {"id": "e2", "source": "who", "target": "context"},
                {"id": "e3", "source": "context", "target": "done"}
            ]
        });
        let flow = app.post("/v1/flows", &key, json!({"name": "context", "graph": graph})).await;
        assert_eq!(flow.status, 201, "{}", flow.text);
        let flow = flow.json["id"].as_str().unwrap().to_string();
        let started =
            app.post(&format!("/v1/flows/{flow}/runs"), &key, json!({"input": {"customer": {"email": EMAIL}}})).await;
        assert_eq!(started.status, 202, "{}", started.text);
        let run = started.json["id"].as_str().unwrap().to_string();
        let done = wait::until("the run to finish", Duration::from_secs(60), || async {
            let r = app.get(&format!("/v1/runs/{run}"), &key).await;
            (r.json["status"] != "running").then_some(r.json)
        })
        .await;
        assert_eq!(done["status"], "succeeded", "{done}");

        let snippets = done["vars"]["aiContext"].as_array().unwrap_or_else(|| panic!("no vars.aiContext: {done}"));
        let in_vars: Vec<&str> = snippets.iter().map(|s| s["source"].as_str().unwrap()).collect();
        assert_eq!(in_vars, ["shopify:order:1002", "shopify:order:1001", "shopify:customer:207119551"]);
        assert!(snippets.iter().all(|s| s["pluginId"] == SHOPIFY && s["content"].as_str().is_some_and(|c| !c.is_empty())));
        let step = done["steps"].as_array().unwrap().iter().find(|s| s["nodeId"] == "context").unwrap();
        assert_eq!(step["status"], "succeeded", "{step}");
        assert_eq!(step["output"]["snippets"], done["vars"]["aiContext"]);
        assert_eq!(step["input"]["conversation"]["email"], EMAIL);

        let audit = app.get(&format!("/v1/audit?runId={run}"), &key).await;
        let rows = audit.json["items"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{}", audit.text);
        assert_eq!((rows[0]["kind"].as_str(), rows[0]["outcome"].as_str()), (Some("ai_context"), Some("success")));
        assert_eq!(rows[0]["stepId"], step["id"]);
        assert_eq!(rows[0]["details"]["sources"].as_array().unwrap().len(), 3);
        assert_no_secrets(&[&done.to_string(), &audit.text]);
    }
);

backend_test!(
    async fn settings_stored_for_a_bot_enable_its_enricher_for_that_bot_only(backend) {
        let shopify = MockServer::start().await;
        let salesforce = MockServer::start().await;
        mock_shopify(&shopify).await;
        let Some(app) = spawn(backend, &shopify, &salesforce).await else {
            return postgres::print_skip(module_path!());
        };
        let bot = app.post("/v1/bots", &app.tenant_key, json!({"name": "support"})).await;
        assert_eq!(bot.status, 201, "{}", bot.text);
        let bot = bot.json["id"].as_str().unwrap().to_string();
        configure_shopify(&app, &format!("?botId={bot}")).await;

        let tenant_wide = app.post(ENRICH, &app.tenant_key, json!({"conversation": {"email": EMAIL}})).await;
        assert_eq!(tenant_wide.status, 200, "{}", tenant_wide.text);
        assert_eq!(tenant_wide.json["enrichers"], json!([]));
        assert_eq!(tenant_wide.json["snippets"], json!([]));
        let for_bot = app.post(ENRICH, &app.tenant_key, json!({"botId": bot, "conversation": {"email": EMAIL}})).await;
        assert_eq!(for_bot.status, 200, "{}", for_bot.text);
        assert_eq!(for_bot.json["enrichers"], json!([SHOPIFY]));
        assert_eq!(for_bot.json["snippets"].as_array().unwrap().len(), 3, "{}", for_bot.text);
        // Defaults: 1000 tokens.
        assert_eq!(for_bot.json["maxTokens"], 1000);
    }
);

db_test!(
    async fn bad_enrich_requests_are_problems_pointing_at_the_field(app) {
        let key = app.tenant_key.clone();
        let cases = [
            (json!({"conversation": {}}), "/conversation"),
            (json!({"conversation": {"email": "   "}}), "/conversation"),
            (json!({"conversation": {"email": EMAIL}, "maxTokens": 0}), "/maxTokens"),
            (json!({"conversation": {"email": EMAIL}, "maxTokens": 100_001}), "/maxTokens"),
            (json!({"conversation": {"email": EMAIL}, "timeoutMs": 0}), "/timeoutMs"),
            (json!({"conversation": {"email": EMAIL}, "timeoutMs": 20_001}), "/timeoutMs"),
            (json!({"conversation": {"email": EMAIL}, "maxTokens": "lots"}), "/maxTokens"),
            (json!({"conversation": {"email": "x".repeat(321)}}), "/conversation/email"),
            (json!({"conversation": {"email": EMAIL}, "botId": "not-a-bot"}), "/botId"),
            (json!({"conversation": {"email": 42}}), "/conversation/email"),
            (json!({"maxTokens": 10}), ""),
        ];
        for (body, pointer) in cases {
            let reply = app.post(ENRICH, &key, body.clone()).await;
            reply.assert_problem(422, "validation_failed");
            assert_eq!(reply.json["errors"][0]["pointer"], pointer, "{body}: {}", reply.text);
        }
        let unknown = app.post(ENRICH, &key, json!({"conversation": {"email": EMAIL, "nickname": "bob"}})).await;
        unknown.assert_problem(422, "validation_failed");
        assert!(unknown.json["errors"][0]["message"].as_str().unwrap().contains("nickname"), "{}", unknown.text);

        let no_bot = app
            .post(ENRICH, &key, json!({"conversation": {"email": EMAIL}, "botId": "bot_01JDQ5X0000000000000000000"}))
            .await;
        no_bot.assert_problem(404, "not_found");

        let tenant = app.tenant_id.clone();
        let viewer = app.issue_key(&tenant, "viewer").await;
        app.post(ENRICH, &viewer, json!({"conversation": {"email": EMAIL}})).await.assert_problem(403, "insufficient_role");

        // Nothing configured: nothing to ask, and that is not an error.
        let empty = app.post(ENRICH, &key, json!({"conversation": {"email": EMAIL}})).await;
        assert_eq!(empty.status, 200, "{}", empty.text);
        assert_eq!(
            empty.json,
            json!({"snippets": [], "skipped": [], "enrichers": [], "maxTokens": 1000, "usedTokens": 0, "omittedSnippets": 0})
        );
    }
);
