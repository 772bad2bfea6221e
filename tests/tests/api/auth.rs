//! Keys, roles and tenant isolation (issue #2, acceptance 2).

use bacon_tests::db_test;
use serde_json::json;

db_test!(
    async fn editor_key_works_inside_its_tenant(app) {
        let tenant = app.create_tenant("Acme").await;
        let editor = app.issue_key(&tenant, "editor").await;

        let created = app.post("/v1/bots", &editor, json!({"name": "Support", "description": "orders"})).await;
        assert_eq!(created.status, 201, "{}", created.text);
        let bot_id = created.json["id"].as_str().unwrap().to_string();
        assert!(bot_id.starts_with("bot_"));

        let got = app.get(&format!("/v1/bots/{bot_id}"), &editor).await;
        assert_eq!(got.status, 200);
        assert_eq!(got.json["name"], "Support");
        let listed = app.get("/v1/bots", &editor).await;
        assert_eq!(listed.json["items"].as_array().unwrap().len(), 1);
        let tenant_view = app.get(&format!("/v1/tenants/{tenant}"), &editor).await;
        assert_eq!(tenant_view.status, 200);
        assert_eq!(tenant_view.json["name"], "Acme");

        // An editor cannot manage keys; an admin of the tenant can.
        app.post(&format!("/v1/tenants/{tenant}/api-keys"), &editor, json!({"name": "x", "role": "viewer"}))
            .await
            .assert_problem(403, "insufficient_role");
        let admin = app.issue_key(&tenant, "admin").await;
        let by_admin =
            app.post(&format!("/v1/tenants/{tenant}/api-keys"), &admin, json!({"name": "x", "role": "viewer"})).await;
        assert_eq!(by_admin.status, 201, "{}", by_admin.text);
        // The key is shown once: listing never contains it.
        let keys = app.get(&format!("/v1/tenants/{tenant}/api-keys"), &admin).await;
        assert_eq!(keys.status, 200);
        assert!(!keys.text.contains(&editor) && !keys.text.contains(&admin));
        assert_eq!(keys.json["items"].as_array().unwrap().len(), 3);

        assert_eq!(app.delete(&format!("/v1/bots/{bot_id}"), &editor).await.status, 204);
        app.get(&format!("/v1/bots/{bot_id}"), &editor).await.assert_problem(404, "not_found");
    }
);

db_test!(
    async fn missing_malformed_and_revoked_keys_get_401(app) {
        let reply = app.call("GET", "/v1/bots", None, None).await;
        reply.assert_problem(401, "missing_credentials");

        let malformed = app.call("GET", "/v1/bots", Some("not-a-key"), None).await;
        malformed.assert_problem(401, "invalid_credentials");
        let unknown_key = format!("bacon_{}", "A".repeat(43));
        app.call("GET", "/v1/bots", Some(&unknown_key), None).await.assert_problem(401, "invalid_credentials");
        let wrong_admin = format!("bacon_admin_{}", "A".repeat(43));
        app.call("GET", "/v1/tenants", Some(&wrong_admin), None).await.assert_problem(401, "invalid_credentials");

        let tenant = app.create_tenant("Revocable").await;
        let listed = app.get(&format!("/v1/tenants/{tenant}/api-keys"), &app.admin_key).await;
        assert_eq!(listed.json["items"].as_array().unwrap().len(), 0);
        let editor = app.issue_key(&tenant, "editor").await;
        assert_eq!(app.get("/v1/bots", &editor).await.status, 200);
        let keys = app.get(&format!("/v1/tenants/{tenant}/api-keys"), &app.admin_key).await;
        let key_id = keys.json["items"][0]["id"].as_str().unwrap().to_string();
        let revoked = app.delete(&format!("/v1/tenants/{tenant}/api-keys/{key_id}"), &app.admin_key).await;
        assert_eq!(revoked.status, 204);
        app.get("/v1/bots", &editor).await.assert_problem(401, "invalid_credentials");
        let keys = app.get(&format!("/v1/tenants/{tenant}/api-keys"), &app.admin_key).await;
        assert!(keys.json["items"][0]["revokedAt"].is_string());
    }
);

db_test!(
    async fn viewer_gets_403_on_writes_and_reads_fine(app) {
        let tenant = app.create_tenant("Viewers").await;
        let viewer = app.issue_key(&tenant, "viewer").await;
        app.post("/v1/bots", &viewer, json!({"name": "nope"})).await.assert_problem(403, "insufficient_role");
        assert_eq!(app.get("/v1/bots", &viewer).await.json["items"].as_array().unwrap().len(), 0);
        // Tenant keys cannot manage tenants; the server admin key cannot act inside a tenant.
        app.post("/v1/tenants", &viewer, json!({"name": "x"})).await.assert_problem(403, "server_admin_required");
        app.get("/v1/bots", &app.admin_key).await.assert_problem(403, "tenant_key_required");
    }
);

db_test!(
    async fn nothing_of_tenant_a_is_visible_to_tenant_b(app) {
        let a = app.create_tenant("A").await;
        let b = app.create_tenant("B").await;
        let a_key = app.issue_key(&a, "admin").await;
        let b_key = app.issue_key(&b, "admin").await;
        let bot = app.post("/v1/bots", &a_key, json!({"name": "A's bot"})).await;
        let bot_id = bot.json["id"].as_str().unwrap().to_string();

        app.get(&format!("/v1/bots/{bot_id}"), &b_key).await.assert_problem(404, "not_found");
        app.delete(&format!("/v1/bots/{bot_id}"), &b_key).await.assert_problem(404, "not_found");
        assert_eq!(app.get("/v1/bots", &b_key).await.json["items"].as_array().unwrap().len(), 0);
        app.get(&format!("/v1/tenants/{a}"), &b_key).await.assert_problem(404, "not_found");
        app.get(&format!("/v1/tenants/{a}/api-keys"), &b_key).await.assert_problem(404, "not_found");
        app.post(&format!("/v1/tenants/{a}/api-keys"), &b_key, json!({"name": "steal", "role": "admin"}))
            .await
            .assert_problem(404, "not_found");
        let a_keys = app.get(&format!("/v1/tenants/{a}/api-keys"), &a_key).await;
        let a_key_id = a_keys.json["items"][0]["id"].as_str().unwrap().to_string();
        app.delete(&format!("/v1/tenants/{a}/api-keys/{a_key_id}"), &b_key).await.assert_problem(404, "not_found");
        app.delete(&format!("/v1/tenants/{b}/api-keys/{a_key_id}"), &b_key).await.assert_problem(404, "not_found");
        // A's bot and key are untouched.
        assert_eq!(app.get(&format!("/v1/bots/{bot_id}"), &a_key).await.status, 200);
        assert_eq!(app.get("/v1/bots", &a_key).await.status, 200);
    }
);

db_test!(
    async fn lists_are_cursor_paginated(app) {
        for i in 0..5 {
            assert_eq!(app.post("/v1/bots", &app.tenant_key, json!({"name": format!("bot {i}")})).await.status, 201);
        }
        let first = app.get("/v1/bots?limit=2", &app.tenant_key).await;
        assert_eq!(first.json["items"].as_array().unwrap().len(), 2);
        let mut names = Vec::new();
        let mut cursor = first.json["nextCursor"].as_str().map(str::to_string);
        names.extend(first.json["items"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap().to_string()));
        while let Some(c) = cursor {
            let page = app.get(&format!("/v1/bots?limit=2&cursor={c}"), &app.tenant_key).await;
            names.extend(page.json["items"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap().to_string()));
            cursor = page.json["nextCursor"].as_str().map(str::to_string);
        }
        assert_eq!(names, ["bot 0", "bot 1", "bot 2", "bot 3", "bot 4"]);
        app.get("/v1/bots?limit=0", &app.tenant_key).await.assert_problem(400, "invalid_query");
        app.get("/v1/bots?limit=abc", &app.tenant_key).await.assert_problem(400, "invalid_query");
    }
);

db_test!(
    async fn a_bad_cursor_or_status_filter_is_a_400_not_an_empty_page(app) {
        let bot = app.post("/v1/bots", &app.tenant_key, json!({"name": "b"})).await;
        let bot_id = bot.json["id"].as_str().unwrap().to_string();
        let tenant = app.tenant_id.clone();
        let lists = [
            ("/v1/bots", &app.tenant_key),
            ("/v1/flows", &app.tenant_key),
            ("/v1/runs", &app.tenant_key),
            ("/v1/audit", &app.tenant_key),
            ("/v1/tenants", &app.admin_key),
            (&format!("/v1/tenants/{tenant}/api-keys") as &str, &app.tenant_key),
        ];
        for (list, key) in lists {
            assert_eq!(app.get(list, key).await.status, 200, "{list}");
            // Garbage, and a real id of another kind (a bot's id is no cursor of the flow list).
            let other_kind = if list == "/v1/bots" { tenant.as_str() } else { bot_id.as_str() };
            for cursor in ["zzz", other_kind] {
                let reply = app.get(&format!("{list}?cursor={cursor}"), key).await;
                reply.assert_problem(400, "invalid_query");
                assert!(reply.json["detail"].as_str().unwrap().contains("`cursor`"), "{list}: {}", reply.text);
            }
        }
        let own = app.get(&format!("/v1/bots?cursor={bot_id}"), &app.tenant_key).await;
        assert_eq!((own.status, own.json["items"].as_array().unwrap().len()), (200, 0), "{}", own.text);

        let unknown = app.get("/v1/runs?status=done", &app.tenant_key).await;
        unknown.assert_problem(400, "invalid_query");
        assert!(unknown.json["detail"].as_str().unwrap().contains("`status`"), "{}", unknown.text);
        for status in ["running", "succeeded", "failed", "cancelled"] {
            assert_eq!(app.get(&format!("/v1/runs?status={status}"), &app.tenant_key).await.status, 200, "{status}");
        }
    }
);
