//! Inbound deliveries at rest (issue #18): the inbox keeps a delivery's body digest and header
//! names, never the body or header values; its event is sealed until its run starts and cleared
//! after; and deliveries, finished runs and audit rows go once past their retention.

use bacon_engine::retention::{self, Retention};
use bacon_plugin_sdk::testing::wiremock::matchers::path;
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_tests::rows::count;
use bacon_tests::{Backend, db_test};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use sha2::Digest;

use super::triggers::{create_flow, deliver, flow_with_trigger, succeeded_runs};

/// Every row of every table of ours, as text (PostgreSQL), or the database file (SQLite).
async fn dump(app: &bacon_tests::TestApp, db: &DatabaseConnection) -> String {
    match app.backend {
        Backend::Sqlite => {
            let mut bytes = Vec::new();
            for file in ["bacon.db", "bacon.db-wal"] {
                bytes.extend(std::fs::read(app.data_dir().join(file)).unwrap_or_default());
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Backend::Postgres => {
            let backend = db.get_database_backend();
            let tables = db
                .query_all_raw(Statement::from_string(
                    backend,
                    "SELECT table_schema || '.' || table_name AS name FROM information_schema.tables \
                     WHERE table_schema IN ('public', 'apalis') AND table_type = 'BASE TABLE'",
                ))
                .await
                .unwrap();
            let mut text = String::new();
            for table in tables {
                let name: String = table.try_get("", "name").unwrap();
                let sql = format!("SELECT row_to_json(t)::text AS row FROM {name} t");
                for row in db.query_all_raw(Statement::from_string(backend, sql)).await.unwrap() {
                    text.push_str(&row.try_get::<String>("", "row").unwrap());
                    text.push('\n');
                }
            }
            text
        }
    }
}

db_test!(
    async fn a_delivery_leaves_a_digest_and_header_names_and_goes_after_its_retention(app) {
        // One vendor call, so the run has an audit row for the retention to purge.
        let vendor = MockServer::start().await;
        Mock::given(path("/ok")).respond_with(ResponseTemplate::new(200)).mount(&vendor).await;
        let put = app
            .put("/v1/plugins/bacon-plugin-http/settings", &app.tenant_key, json!({"allowedHosts": [vendor.uri()]}))
            .await;
        assert_eq!(put.status, 200, "{}", put.text);
        let call = json!({"id": "call", "type": "plugin_action", "config": {"pluginId": "bacon-plugin-http",
            "actionName": "request", "payload": {"method": "GET", "url": format!("{}/ok", vendor.uri())}}});
        let flow = create_flow(&app, flow_with_trigger(json!({"kind": "webhook"}), vec![call])).await;
        let activated = app.post(&format!("/v1/flows/{flow}/activate"), &app.tenant_key, json!({})).await;
        assert_eq!(activated.status, 200, "{}", activated.text);
        let url = activated.json["hookUrl"].as_str().unwrap();
        let hook = &url[url.find("/hooks/").unwrap()..];
        let header_canary = "cnryHEADER-8f2e\"q\\w/e+&";
        let body = json!({"order": 7, "note": "cnryBODY-51aa"}).to_string().into_bytes();
        let headers = [
            ("content-type", "application/json".to_string()),
            ("authorization", format!("Bearer {header_canary}")),
            ("idempotency-key", "delivery-1".to_string()),
        ];
        let reply = deliver(&app, hook, &headers, body.clone()).await;
        assert!(reply.status < 300, "{} {}", reply.status, reply.text);
        let runs = succeeded_runs(&app, &flow, 1).await;
        assert_eq!(runs.len(), 1);

        let db = Database::connect(&app.database_url).await.unwrap();
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT CAST(headers AS TEXT) AS headers, body_sha256, CAST(event AS TEXT) AS event, status FROM inbound_events",
            ))
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        let headers: Value = serde_json::from_str(&rows[0].try_get::<String>("", "headers").unwrap()).unwrap();
        let mut names: Vec<&str> = headers.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        names.sort_unstable();
        assert!(names.contains(&"authorization") && names.contains(&"idempotency-key"), "{names:?}");
        assert!(!headers.to_string().contains("Bearer"), "header values are not kept: {headers}");
        let digest: Vec<u8> = rows[0].try_get("", "body_sha256").unwrap();
        assert_eq!(digest, sha2::Sha256::digest(&body).to_vec());
        assert_eq!(rows[0].try_get::<Option<String>>("", "event").unwrap(), None, "cleared once its run started");
        assert_eq!(rows[0].try_get::<String>("", "status").unwrap(), "processed");
        // The body went into the run (a plain webhook's input is its body); the inbox kept none of
        // it, and no table holds the credential in any encoding.
        let dumped = dump(&app, &db).await;
        for form in [header_canary.to_string(), serde_json::to_string(header_canary).unwrap()] {
            assert!(!dumped.contains(&form), "the credential is stored: {form}");
        }

        // Retention: nothing goes before its time; a week later the delivery goes, and with a
        // one-day retention for runs, the finished run, its steps and its audit rows go too.
        let now = chrono::Utc::now();
        let kept = retention::purge(&db, &Retention::default(), now).await.unwrap();
        assert_eq!(kept, retention::Purged::default());
        let week = now + chrono::Duration::days(8);
        let purged = retention::purge(&db, &Retention::default(), week).await.unwrap();
        assert_eq!(purged.inbound_events, 1);
        assert_eq!((purged.runs, purged.audit_rows, count(&db, "runs").await), (0, 0, 1), "runs are kept by default");
        let purged = retention::purge(&db, &Retention { inbound_days: 7, runs_days: Some(1) }, week).await.unwrap();
        assert_eq!(purged.runs, 1);
        assert_eq!(purged.audit_rows, 1);
        let left = [count(&db, "runs").await, count(&db, "steps").await, count(&db, "audit_log").await];
        assert_eq!((left, count(&db, "inbound_events").await), ([0, 0, 0], 0));
        let run = runs[0]["id"].as_str().unwrap();
        assert_eq!(app.get(&format!("/v1/runs/{run}"), &app.tenant_key).await.status, 404);
    }
);

db_test!(
    async fn a_tenants_own_retention_wins_for_its_rows_and_only_the_server_admin_sets_it(app) {
        let other = app.post("/v1/tenants", &app.admin_key, json!({"name": "Other"})).await;
        assert_eq!(other.status, 201, "{}", other.text);
        assert_eq!(other.json["retention"], json!({"inboundDays": null, "runsDays": null}));
        let path = format!("/v1/tenants/{}/retention", app.tenant_id);

        let by_tenant = app.put(&path, &app.tenant_key, json!({"inboundDays": 1})).await;
        assert_eq!(by_tenant.status, 403, "{}", by_tenant.text);
        for (body, pointer) in [
            (json!({"inboundDays": 0}), "/inboundDays"),
            (json!({"runsDays": 36501}), "/runsDays"),
            (json!({"runsDays": -1}), "/runsDays"),
            (json!({"keepForever": true}), ""),
        ] {
            let refused = app.put(&path, &app.admin_key, body.clone()).await;
            assert_eq!(refused.status, 422, "{body}: {}", refused.text);
            if !pointer.is_empty() {
                assert_eq!(refused.json["errors"][0]["pointer"], pointer, "{body}: {}", refused.text);
            }
        }
        let unchanged = app.get(&format!("/v1/tenants/{}", app.tenant_id), &app.tenant_key).await;
        assert_eq!(unchanged.json["retention"], json!({"inboundDays": null, "runsDays": null}), "a refusal changes nothing");

        let set = app.put(&path, &app.admin_key, json!({"inboundDays": 1, "runsDays": 2})).await;
        assert_eq!(set.status, 200, "{}", set.text);
        assert_eq!(set.json["retention"], json!({"inboundDays": 1, "runsDays": 2}));
        let seen = app.get(&format!("/v1/tenants/{}", app.tenant_id), &app.tenant_key).await;
        assert_eq!(seen.json["retention"], set.json["retention"]);

        // A delivery for each tenant, purged 3 days later: this tenant's (1 day) goes, the other's
        // (the server's 7 days) stays.
        let other_key = app.issue_key(other.json["id"].as_str().unwrap(), "editor").await;
        for key in [&app.tenant_key, &other_key] {
            let graph = flow_with_trigger(json!({"kind": "webhook"}), vec![]);
            let flow = app.post("/v1/flows", key, json!({"name": "hooked", "graph": graph})).await;
            assert_eq!(flow.status, 201, "{}", flow.text);
            let flow = flow.json["id"].as_str().unwrap();
            let activated = app.post(&format!("/v1/flows/{flow}/activate"), key, json!({})).await;
            let url = activated.json["hookUrl"].as_str().unwrap();
            let reply = deliver(&app, &url[url.find("/hooks/").unwrap()..], &[], b"{}".to_vec()).await;
            assert!(reply.status < 300, "{}", reply.text);
        }
        let db = Database::connect(&app.database_url).await.unwrap();
        let later = chrono::Utc::now() + chrono::Duration::days(3);
        let purged = retention::purge(&db, &Retention::default(), later).await.unwrap();
        assert_eq!(purged.inbound_events, 1);
        let left = db
            .query_all_raw(Statement::from_string(db.get_database_backend(), "SELECT tenant_id FROM inbound_events"))
            .await
            .unwrap();
        let left: Vec<String> = left.iter().map(|r| r.try_get("", "tenant_id").unwrap()).collect();
        assert_eq!(left, [other.json["id"].as_str().unwrap()]);

        let cleared = app.put(&path, &app.admin_key, json!({"inboundDays": null, "runsDays": null})).await;
        assert_eq!(cleared.json["retention"], json!({"inboundDays": null, "runsDays": null}));
        let missing = app.put("/v1/tenants/ten_01J00000000000000000000000/retention", &app.admin_key, json!({})).await;
        assert_eq!(missing.status, 404, "{}", missing.text);
    }
);
