//! [`spawn_app`]: the real server, in-process, on port 0, against a fresh database.

use std::net::SocketAddr;

use bacon_api::config::{Config, LogFormat};
use bacon_api::startup::Application;
use bacon_engine::tenancy::{ADMIN_KEY_PREFIX, generate_key};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Which database a test app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running server and what a test needs to talk to it. Stops when dropped.
pub struct TestApp {
    pub address: SocketAddr,
    pub backend: Backend,
    /// The server admin key (manages tenants).
    pub admin_key: String,
    /// The admin key of the first tenant created on start.
    pub tenant_key: String,
    pub tenant_id: String,
    pub database_url: String,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    _data_dir: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestApp {
    /// The server's data directory (its key files; the SQLite file on SQLite).
    pub fn data_dir(&self) -> &std::path::Path {
        self._data_dir.path()
    }
}

/// Internal ranges a test server opens: loopback, where the wiremock vendors listen. Tests of the
/// egress policy itself clear it (`config.egress.allow_internal.clear()`).
pub const TEST_ALLOW_INTERNAL: [&str; 2] = ["127.0.0.0/8", "::1/128"];

/// The configuration a test server starts with: a temporary data dir, port 0, and loopback
/// opened to plugins ([`TEST_ALLOW_INTERNAL`]).
pub fn test_config(data_dir: &std::path::Path, database_url: String, admin_key: &str) -> Config {
    let mut config = Config {
        data_dir: data_dir.to_path_buf(),
        database_url: Some(database_url),
        admin_key: Some(admin_key.to_string().into()),
        log_format: LogFormat::Plain,
        ..Config::default()
    };
    config.http.bind = SocketAddr::from(([127, 0, 0, 1], 0));
    config.egress.allow_internal = TEST_ALLOW_INTERNAL.iter().map(|r| r.to_string()).collect();
    config
}

/// Starts a server on `backend`; `None` for PostgreSQL when `BACON_TEST_POSTGRES_URL` is unset.
///
/// # Panics
/// When the server cannot start: the test cannot proceed.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

/// Like [`spawn_app`], letting the test adjust the configuration first.
///
/// # Panics
/// When the server cannot start.
pub async fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
    crate::logs::capture();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let data_dir = tempfile::tempdir().expect("temporary data dir");
    let database_url = match backend {
        Backend::Sqlite => format!("sqlite://{}", data_dir.path().join("bacon.db").display()),
        Backend::Postgres => crate::postgres::fresh_database().await?,
    };
    let admin_key = generate_key(ADMIN_KEY_PREFIX).plaintext.into_inner();
    let mut config = test_config(data_dir.path(), database_url.clone(), &admin_key);
    adjust(&mut config);
    let mut plugins = bacon_api::catalog::builtin_plugins();
    plugins.push(crate::testkit_plugin::factory());
    let app = Application::build_with_plugins(&config, plugins).await.expect("the server starts");
    let address = app.local_addr().expect("bound address");
    let first = app.first_tenant.as_ref().expect("a fresh database gets a first tenant");
    let tenant_key = first.plaintext.plaintext.expose().clone();
    let tenant_id = first.tenant.id.to_string();
    let shutdown = CancellationToken::new();
    tokio::spawn(app.run(shutdown.clone()));
    Some(TestApp {
        address,
        backend,
        admin_key,
        tenant_key,
        tenant_id,
        database_url,
        client: crate::http_client(),
        shutdown,
        _data_dir: data_dir,
    })
}

/// A response read whole: status, content type and body (JSON when it parses).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    /// The `Connection` header, if any.
    pub connection: Option<String>,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
    pub text: String,
    pub json: Value,
}

impl Reply {
    /// Asserts the reply is a problem+json with this status and code, and returns it.
    ///
    /// # Panics
    /// When it is not.
    pub fn assert_problem(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.text);
        assert_eq!(self.content_type, "application/problem+json", "body: {}", self.text);
        assert_eq!(self.json["code"], code, "body: {}", self.text);
        assert_eq!(self.json["status"], status);
        assert!(self.json["detail"].as_str().is_some_and(|d| !d.is_empty()), "a detail for humans");
        self
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// Sends a request with an optional bearer key and JSON body.
    ///
    /// # Panics
    /// When the request cannot be sent at all.
    pub async fn call(&self, method: &str, path: &str, key: Option<&str>, body: Option<Value>) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        read(request.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, key: &str) -> Reply {
        self.call("GET", path, Some(key), None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> Reply {
        self.call("POST", path, Some(key), Some(body)).await
    }

    pub async fn put(&self, path: &str, key: &str, body: Value) -> Reply {
        self.call("PUT", path, Some(key), Some(body)).await
    }

    pub async fn delete(&self, path: &str, key: &str) -> Reply {
        self.call("DELETE", path, Some(key), None).await
    }

    /// Creates a tenant with the server admin key and returns its id.
    ///
    /// # Panics
    /// When the server refuses.
    pub async fn create_tenant(&self, name: &str) -> String {
        let reply = self.post("/v1/tenants", &self.admin_key.clone(), serde_json::json!({ "name": name })).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json["id"].as_str().expect("tenant id").to_string()
    }

    /// Issues a key with `role` for `tenant` (with the server admin key) and returns the key.
    ///
    /// # Panics
    /// When the server refuses.
    pub async fn issue_key(&self, tenant: &str, role: &str) -> String {
        let reply = self
            .post(
                &format!("/v1/tenants/{tenant}/api-keys"),
                &self.admin_key.clone(),
                serde_json::json!({ "name": format!("{role} key"), "role": role }),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json["key"].as_str().expect("key").to_string()
    }

    /// Saves a flow named `name` with `graph` (with the tenant key) and returns its id.
    ///
    /// # Panics
    /// When the server refuses.
    pub async fn create_flow(&self, name: &str, graph: Value) -> String {
        let reply =
            self.post("/v1/flows", &self.tenant_key.clone(), serde_json::json!({"name": name, "graph": graph})).await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json["id"].as_str().expect("flow id").to_string()
    }

    /// Starts a run of `flow` with `input` and returns its id.
    ///
    /// # Panics
    /// When the server does not answer 202.
    pub async fn start_run(&self, flow: &str, input: Value) -> String {
        let reply = self
            .post(&format!("/v1/flows/{flow}/runs"), &self.tenant_key.clone(), serde_json::json!({"input": input}))
            .await;
        assert_eq!(reply.status, 202, "{}", reply.text);
        reply.json["id"].as_str().expect("run id").to_string()
    }

    /// Waits (up to 60 s) for run `run` to end, and returns it with its steps.
    ///
    /// # Panics
    /// When it is still running at the deadline.
    pub async fn run_ended(&self, run: &str) -> Value {
        crate::wait::until(&format!("run {run} to end"), std::time::Duration::from_secs(60), || async {
            let reply = self.get(&format!("/v1/runs/{run}"), &self.tenant_key.clone()).await;
            (reply.json["status"] != "running").then_some(reply.json)
        })
        .await
    }
}

/// Reads a response whole.
///
/// # Panics
/// When the body cannot be read.
pub async fn read(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let connection =
        response.headers().get(reqwest::header::CONNECTION).and_then(|v| v.to_str().ok()).map(str::to_string);
    let retry_after =
        response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let text = response.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, content_type, connection, retry_after, text, json }
}
