//! The real `bacon-server` binary: first start on the embedded default, restart, graceful
//! shutdown (issue #2, acceptance 1).

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

use std::time::Duration;

use bacon_tests::process::ServerProcess;

async fn get(url: &str, key: Option<&str>) -> (u16, serde_json::Value) {
    let mut request = bacon_tests::http_client().get(url);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// Starts the server in `cwd` (with `env`), checks health and readiness, returns the output.
async fn start_check_stop(cwd: &std::path::Path, env: &[(&str, &str)]) -> (Vec<String>, serde_json::Value) {
    let mut server = ServerProcess::start(cwd, &["serve"], env);
    let base = server.wait_for_listening().await;
    assert_eq!(get(&format!("{base}/healthz"), None).await.0, 200);
    let (status, ready) = get(&format!("{base}/readyz"), None).await;
    assert_eq!(status, 200, "{ready}");
    let admin_key = std::fs::read_to_string(cwd.join("data/admin.key")).expect("admin key file");
    let (status, tenants) = get(&format!("{base}/v1/tenants"), Some(admin_key.trim())).await;
    assert_eq!(status, 200, "{tenants}");
    server.terminate(Duration::from_secs(30)).await;
    (server.output.clone(), tenants)
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("file exists").permissions().mode() & 0o777
}

async fn first_start_then_restart(env: &[(&str, &str)], expect_sqlite_file: bool) {
    let cwd = tempfile::tempdir().unwrap();
    let (first_output, tenants) = start_check_stop(cwd.path(), env).await;
    let printed = first_output.join("\n");
    assert!(printed.contains("Its admin API key is shown only this once"), "{printed}");
    assert!(printed.contains("The server admin key (manages tenants) was written to ./data/admin.key"), "{printed}");
    assert_eq!(tenants["items"].as_array().unwrap().len(), 1);
    let first_tenant = tenants["items"][0]["id"].clone();
    assert_eq!(mode(&cwd.path().join("data/master.key")), 0o600);
    assert_eq!(mode(&cwd.path().join("data/admin.key")), 0o600);
    assert_eq!(mode(&cwd.path().join("data")), 0o700);
    assert_eq!(cwd.path().join("data/bacon.db").exists(), expect_sqlite_file);
    let master_key = std::fs::read(cwd.path().join("data/master.key")).unwrap();

    let (second_output, tenants) = start_check_stop(cwd.path(), env).await;
    let printed = second_output.join("\n");
    assert!(!printed.contains("shown only this once"), "no second bootstrap key:\n{printed}");
    assert!(!printed.contains("was written to"), "the admin key file is reused:\n{printed}");
    assert_eq!(tenants["items"].as_array().unwrap().len(), 1, "the same database");
    assert_eq!(tenants["items"][0]["id"], first_tenant);
    assert_eq!(std::fs::read(cwd.path().join("data/master.key")).unwrap(), master_key, "the same key file");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_default_first_start_and_restart_on_sqlite() {
    first_start_then_restart(&[("BACON_HTTP__BIND", "127.0.0.1:0")], true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_start_and_restart_on_postgres() {
    let Some(url) = bacon_tests::postgres::fresh_database().await else {
        return bacon_tests::postgres::print_skip("first_start_and_restart_on_postgres");
    };
    first_start_then_restart(&[("BACON_HTTP__BIND", "127.0.0.1:0"), ("BACON_DATABASE_URL", &url)], false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_configuration_fails_with_a_clear_message() {
    let cwd = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(cwd.path(), &["serve"], &[("BACON_HTTP__BINDD", "x")]);
    let status = server.exit(Duration::from_secs(60)).await.0;
    assert!(!status.success());
    let printed = server.output.join("\n");
    assert!(printed.contains("invalid configuration") && printed.contains("bindd"), "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_json_logs_stdout_holds_only_json_and_the_first_key_goes_to_stderr() {
    let cwd = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(
        cwd.path(),
        &["serve"],
        &[("BACON_LOG_FORMAT", "json"), ("BACON_HTTP__BIND", "127.0.0.1:0")],
    );
    server.wait_for_listening().await;
    server.wait_for_line("Workers started", Duration::from_secs(30)).await;
    server.terminate(Duration::from_secs(30)).await;
    let key =
        server.output.iter().map(|l| l.trim()).find(|l| l.starts_with("bacon_")).expect("the first key is printed");
    let stdout = server.stdout();
    assert!(!stdout.is_empty(), "logs are on stdout");
    for line in &stdout {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON log line: {line}"));
        assert!(parsed["level"].is_string(), "{line}");
        assert!(!line.contains(key), "a log shipper would collect the first tenant's key: {line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_admin_key_stops_the_server_before_it_writes_anything() {
    let cwd = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(
        cwd.path(),
        &["serve"],
        &[("BACON_ADMIN_KEY", "letmein"), ("BACON_HTTP__BIND", "127.0.0.1:0")],
    );
    let status = server.exit(Duration::from_secs(60)).await.0;
    assert!(!status.success());
    let printed = server.output.join("\n");
    assert!(printed.contains("bacon_admin_") && printed.contains("43 base64url"), "{printed}");
    assert!(!printed.contains("letmein"), "the bad key is not echoed: {printed}");
    assert!(!cwd.path().join("data").exists(), "nothing was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_create_prints_its_key_once_and_logs_are_json_on_request() {
    let cwd = tempfile::tempdir().unwrap();
    let mut run =
        ServerProcess::start(cwd.path(), &["tenant", "create", "--name", "Acme"], &[("BACON_LOG_FORMAT", "json")]);
    let status = run.exit(Duration::from_secs(60)).await.0;
    assert!(status.success(), "{}", run.output.join("\n"));
    let printed = run.output.join("\n");
    assert!(printed.contains("Created tenant `Acme` (ten_"), "{printed}");
    let key_line = run.output.iter().find(|l| l.trim_start().starts_with("bacon_")).expect("the key is printed");
    assert_eq!(key_line.trim().len(), "bacon_".len() + 43);
    let log_lines: Vec<&String> = run.output.iter().filter(|l| l.starts_with('{')).collect();
    assert!(!log_lines.is_empty(), "{printed}");
    for line in log_lines {
        let parsed: serde_json::Value = serde_json::from_str(line).expect("each log line is JSON");
        assert!(parsed["level"].is_string() && parsed["timestamp"].is_string(), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_env_override_changes_a_plugin_default_visible_in_the_api() {
    let cwd = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(
        cwd.path(),
        &["serve"],
        &[("BACON_HTTP__BIND", "127.0.0.1:0"), ("BACON_PLUGIN_HTTP__DEFAULTS__TIMEOUT_MS", "2500")],
    );
    let base = server.wait_for_listening().await;
    let key = server.first_tenant_key();
    let (status, plugin) = get(&format!("{base}/v1/plugins/bacon-plugin-http"), Some(&key)).await;
    assert_eq!(status, 200, "{plugin}");
    assert_eq!(plugin["settingsSchema"]["default"]["timeoutMs"], 2500);
    let (_, settings) = get(&format!("{base}/v1/plugins/bacon-plugin-http/settings"), Some(&key)).await;
    assert_eq!(settings["values"]["timeoutMs"], 2500);
    server.terminate(Duration::from_secs(30)).await;
}

/// Issue #3, acceptance 3: `keys rotate` while the server runs.
async fn rotate_keys_while_serving(env: &[(&str, &str)]) {
    use bacon_plugin_sdk::testing::wiremock::matchers::{header, path};
    use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
    let vendor = MockServer::start().await;
    Mock::given(path("/health"))
        .and(header("authorization", "Bearer rotate-me-secret"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&vendor)
        .await;
    let cwd = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(cwd.path(), &["serve"], env);
    let base = server.wait_for_listening().await;
    let key = server.first_tenant_key();
    let client = bacon_tests::http_client();
    let settings = serde_json::json!({
        "allowedHosts": [vendor.uri()], "baseUrl": vendor.uri(), "healthPath": "/health", "bearerToken": "rotate-me-secret"
    });
    let put = client.put(format!("{base}/v1/plugins/bacon-plugin-http/settings")).bearer_auth(&key).json(&settings);
    assert_eq!(put.send().await.unwrap().status(), 200);
    let test_connection = || async {
        let reply = client
            .post(format!("{base}/v1/plugins/bacon-plugin-http/test-connection"))
            .bearer_auth(&key)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        reply.json::<serde_json::Value>().await.unwrap()
    };
    assert_eq!(test_connection().await["ok"], true);
    // Two more kinds of sealed secret: a REST-hook target URL and a signed webhook's secret.
    let subscribe = client.post(format!("{base}/v1/plugins/bacon-plugin-zapier/hooks")).bearer_auth(&key).json(
        &serde_json::json!({"target_url": "https://hooks.zapier.com/hooks/standard/1/abc/", "event": "run.failed"}),
    );
    assert_eq!(subscribe.send().await.unwrap().status(), 201);
    let graph = serde_json::json!({"nodes": [{"id": "in", "type": "trigger", "config": {"kind": "webhook", "signed": true}},
        {"id": "done", "type": "end", "config": {}}], "edges": [{"id": "e", "source": "in", "target": "done"}]});
    let flow: serde_json::Value = client
        .post(format!("{base}/v1/flows"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"name": "signed", "graph": graph}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let activated: serde_json::Value = client
        .post(format!("{base}/v1/flows/{}/activate", flow["id"].as_str().unwrap()))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let signing_secret = activated["signingSecret"].as_str().unwrap().to_string();
    let hook_url = activated["hookUrl"].as_str().unwrap().to_string();

    let mut rotate = ServerProcess::start(cwd.path(), &["keys", "rotate"], env);
    let status = rotate.exit(Duration::from_secs(60)).await.0;
    assert!(status.success(), "{}", rotate.output.join("\n"));
    let printed = rotate.output.join("\n");
    assert!(printed.contains("Re-encrypted 3 secrets in 3 rows"), "{printed}");
    let new_id = std::fs::read_to_string(cwd.path().join("data/master.key")).unwrap();
    let new_id = bacon_engine::secrets::keyfiles::key_id(&bacon_engine::secrets::keyfiles::parse_key(&new_id).unwrap());

    // Every stored secret is under the new key, and the running server still decrypts it.
    let url = env.iter().find(|(k, _)| *k == "BACON_DATABASE_URL").map(|(_, v)| v.to_string());
    let url = url.unwrap_or_else(|| format!("sqlite://{}", cwd.path().join("data/bacon.db").display()));
    let db = sea_orm::Database::connect(&url).await.unwrap();
    let rows = bacon_engine::store::plugin_settings::all_with_ids(&db).await.unwrap();
    let sealed: Vec<String> =
        rows.iter().flat_map(|(_, _, r)| r.secrets.values().map(|v| v.as_str().unwrap().to_string())).collect();
    assert_eq!(sealed.len(), 1);
    assert!(sealed[0].starts_with(&format!("v2:{new_id}:")), "{sealed:?} not under {new_id}");
    assert_eq!(test_connection().await["ok"], true, "test-connection works after the rotation");
    let targets = bacon_engine::store::rest_hooks::all(&db).await.unwrap();
    assert!(targets[0].sealed_target_url.starts_with(&format!("v2:{new_id}:")));
    let triggers = bacon_engine::store::triggers::all(&db).await.unwrap();
    assert!(triggers[0].config["signingSecret"].as_str().unwrap().starts_with(&format!("v2:{new_id}:")));
    // The running server still verifies a delivery signed with the (re-encrypted) secret.
    let body = br#"{"after": "rotation"}"#.to_vec();
    let timestamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().to_string();
    let signature = {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(signing_secret.as_bytes()).unwrap();
        mac.update(format!("v1:{timestamp}:").as_bytes());
        mac.update(&body);
        format!("v1={}", hex::encode(mac.finalize().into_bytes()))
    };
    let path = &hook_url[hook_url.find("/hooks/").unwrap()..];
    let delivered = client
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .header("x-bacon-signature", signature)
        .header("x-bacon-timestamp", timestamp)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), 200, "{}", delivered.text().await.unwrap());
    server.terminate(Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_reencrypts_online_on_sqlite() {
    rotate_keys_while_serving(&[("BACON_HTTP__BIND", "127.0.0.1:0")]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_reencrypts_online_on_postgres() {
    let Some(url) = bacon_tests::postgres::fresh_database().await else {
        return bacon_tests::postgres::print_skip("keys_rotate_reencrypts_online_on_postgres");
    };
    rotate_keys_while_serving(&[("BACON_HTTP__BIND", "127.0.0.1:0"), ("BACON_DATABASE_URL", &url)]).await;
}

/// Issue #18: a fleet rotates its master key with `BACON_MASTER_KEYS`, no key files and no
/// downtime. Two servers share one database: while one encrypts under the new key and the other
/// still under the old, each reads what the other wrote; `keys rotate` re-encrypts everything
/// under the new key, after which the old one can leave the list.
async fn fleet_rotation(database_url: &str) {
    use bacon_plugin_sdk::testing::wiremock::matchers::{header, path};
    use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
    let vendor = MockServer::start().await;
    for token in ["old-key-token", "new-key-token"] {
        Mock::given(path("/health"))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .respond_with(ResponseTemplate::new(200))
            .mount(&vendor)
            .await;
    }
    let generate = || async {
        let cwd = tempfile::tempdir().unwrap();
        let mut run = ServerProcess::start(cwd.path(), &["keys", "generate"], &[]);
        let status = run.exit(Duration::from_secs(60)).await.0;
        assert!(status.success(), "{}", run.output.join("\n"));
        run.stdout()[0].trim().to_string()
    };
    let (old, new) = (generate().await, generate().await);
    assert_ne!(old, new);
    let start = |keys: String| {
        let url = database_url.to_string();
        async move {
            let cwd = tempfile::tempdir().unwrap();
            let env = [
                ("BACON_HTTP__BIND", "127.0.0.1:0"),
                ("BACON_DATABASE_URL", url.as_str()),
                ("BACON_MASTER_KEYS", keys.as_str()),
            ];
            let mut server = ServerProcess::start(cwd.path(), &["serve"], &env);
            let base = server.wait_for_listening().await;
            (server, base, cwd)
        }
    };
    let (mut first, first_base, _first_dir) = start(format!("{old},{new}")).await;
    let key = first.first_tenant_key();
    assert!(!_first_dir.path().join("data/master.key").exists(), "no key file when the keys are given");
    let client = bacon_tests::http_client();
    let put = |base: String, token: &'static str| {
        let (client, key, vendor) = (client.clone(), key.clone(), vendor.uri());
        async move {
            let settings = serde_json::json!({"allowedHosts": [vendor], "baseUrl": vendor, "healthPath": "/health", "bearerToken": token});
            let reply = client
                .put(format!("{base}/v1/plugins/bacon-plugin-http/settings"))
                .bearer_auth(&key)
                .json(&settings)
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 200);
        }
    };
    let connects = |base: String| {
        let (client, key) = (client.clone(), key.clone());
        async move {
            let reply = client
                .post(format!("{base}/v1/plugins/bacon-plugin-http/test-connection"))
                .bearer_auth(&key)
                .json(&serde_json::json!({}))
                .send()
                .await
                .unwrap();
            reply.json::<serde_json::Value>().await.unwrap()["ok"] == true
        }
    };
    put(first_base.clone(), "old-key-token").await;
    // The second server already encrypts under the new key; the first still under the old one.
    let (mut second, second_base, _second_dir) = start(format!("{new},{old}")).await;
    assert!(connects(second_base.clone()).await, "the second server reads what the first wrote under the old key");
    put(second_base.clone(), "new-key-token").await;
    assert!(connects(first_base.clone()).await, "the first server reads what the second wrote under the new key");

    let cwd = tempfile::tempdir().unwrap();
    let keys = format!("{new},{old}");
    let env = [("BACON_DATABASE_URL", database_url), ("BACON_MASTER_KEYS", keys.as_str())];
    let mut rotate = ServerProcess::start(cwd.path(), &["keys", "rotate"], &env);
    let status = rotate.exit(Duration::from_secs(60)).await.0;
    assert!(status.success(), "{}", rotate.output.join("\n"));
    assert!(rotate.output.join("\n").contains("Re-encrypted"), "{}", rotate.output.join("\n"));
    first.terminate(Duration::from_secs(30)).await;
    second.terminate(Duration::from_secs(30)).await;

    // Everything is under the new key: a server that knows only the new key reads it all.
    let (mut last, last_base, _last_dir) = start(new.clone()).await;
    assert!(connects(last_base).await, "after the rotation the old key is not needed");
    last.terminate(Duration::from_secs(30)).await;

    // Both settings at once is a clear start-up error.
    let both =
        [("BACON_MASTER_KEYS", new.as_str()), ("BACON_MASTER_KEY", old.as_str()), ("BACON_HTTP__BIND", "127.0.0.1:0")];
    let mut refused = ServerProcess::start(cwd.path(), &["serve"], &both);
    let status = refused.exit(Duration::from_secs(60)).await.0;
    assert!(!status.success());
    assert!(refused.output.join("\n").contains("not both"), "{}", refused.output.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_rotates_its_master_key_through_the_key_list_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    fleet_rotation(&format!("sqlite://{}", dir.path().join("shared.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_rotates_its_master_key_through_the_key_list_on_postgres() {
    let Some(url) = bacon_tests::postgres::fresh_database().await else {
        return bacon_tests::postgres::print_skip("a_fleet_rotates_its_master_key_through_the_key_list_on_postgres");
    };
    fleet_rotation(&url).await;
}
