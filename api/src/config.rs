//! Server configuration: defaults -> `bacon.toml` -> `BACON_*` environment (nested keys split on `__`).
//!
//! `BACON_DATABASE_URL`, `BACON_LOG_FORMAT`, `BACON_MASTER_KEY`, `BACON_MASTER_KEYS`,
//! `BACON_ADMIN_KEY` and `BACON_PUBLIC_URL` are top-level keys; `BACON_HTTP__BIND=0.0.0.0:8080` sets `http.bind`.
//! Variables under `BACON_PLUGIN_`, `BACON_SECRET_` and `BACON_TEST_` belong to other readers and
//! are ignored here. Unknown keys are errors, so a typo does not silently fall back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bacon_engine::database::{DatabaseOptions, SqliteDurability};
use bacon_engine::flows::template::TemplateLimits;
use bacon_engine::retention::Retention;
use bacon_plugin_sdk::Secret;
use bacon_plugin_sdk::egress::{EgressPolicy, InvalidRange};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The whole server configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the embedded database and key files live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; defaults to `sqlite://<data_dir>/bacon.db`.
    pub database_url: Option<String>,
    /// Log filter (tracing `EnvFilter` syntax); `RUST_LOG` wins when set.
    pub log: String,
    /// `auto` (pretty on a terminal, plain otherwise), `pretty`, `plain` or `json`.
    pub log_format: LogFormat,
    /// The server admin key; generated into `<data_dir>/admin.key` when absent.
    #[serde(skip_serializing)]
    pub admin_key: Option<Secret<String>>,
    /// Base64 of the 32-byte master key; generated into `<data_dir>/master.key` when absent.
    #[serde(skip_serializing)]
    pub master_key: Option<Secret<String>>,
    /// A fleet's keyring: comma-separated base64 master keys, the first active, the others
    /// retired (decrypt only). Exclusive with `master_key`.
    #[serde(skip_serializing)]
    pub master_keys: Option<Secret<String>>,
    /// The public base URL of this server, used to build webhook URLs.
    pub public_url: Option<String>,
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub workers: WorkersConfig,
    pub plugins: PluginsConfig,
    pub egress: EgressConfig,
    pub flows: FlowsConfig,
    pub retention: RetentionConfig,
    pub traces: TracesConfig,
    pub metrics: MetricsConfig,
}

/// What `/metrics` serves beyond its bounded families.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Also count runs started and finished, and plugin attempts, per tenant (`bacon_tenant_*`
    /// families, a `tenant` label each): for servers with tens or hundreds of tenants.
    pub per_tenant: bool,
}

/// OpenTelemetry traces, exported over OTLP/HTTP (JSON) when an endpoint is set; off by default.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracesConfig {
    /// The collector's base URL (`http://collector:4318`); spans go to `<endpoint>/v1/traces`.
    /// Unset: no spans are exported, unless the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set.
    pub otlp_endpoint: Option<String>,
    /// The `service.name` of the spans; `OTEL_SERVICE_NAME` wins when set.
    pub service_name: Option<String>,
}

/// Where plugins' outbound requests may go. Public addresses always; loopback, link-local,
/// private, multicast, unspecified and reserved addresses only in the ranges opened here.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EgressConfig {
    /// Internal ranges plugins may reach, as CIDR ranges or addresses (`10.1.2.0/24`,
    /// `127.0.0.1`). In the environment, a comma-separated list:
    /// `BACON_EGRESS__ALLOW_INTERNAL=10.1.2.0/24,127.0.0.1/32`.
    #[serde(deserialize_with = "list_or_commas")]
    pub allow_internal: Vec<String>,
}

impl EgressConfig {
    /// The policy every plugin's HTTP client gets.
    ///
    /// # Errors
    /// When an entry is neither an address nor a CIDR range.
    pub fn policy(&self) -> Result<EgressPolicy, InvalidRange> {
        EgressPolicy::allowing(&self.allow_internal)
    }
}

/// A list, or one string of comma-separated items (as environment variables give it).
fn list_or_commas<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrCommas {
        List(Vec<String>),
        Commas(String),
    }
    Ok(match ListOrCommas::deserialize(deserializer)? {
        ListOrCommas::List(list) => list,
        ListOrCommas::Commas(text) => {
            text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
        }
    })
}

/// How long inbound deliveries, finished runs and audit rows are kept, in days
/// (`docs/configuration.md`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Inbound webhook deliveries (their digests and header names; never their bodies).
    pub inbound_days: u32,
    /// Finished runs with their steps, and audit rows; unset: kept for ever.
    pub runs_days: Option<u32>,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        let defaults = Retention::default();
        Self { inbound_days: defaults.inbound_days, runs_days: defaults.runs_days }
    }
}

impl RetentionConfig {
    pub fn policy(&self) -> Retention {
        // A zero-day retention would purge what has not been processed yet.
        Retention { inbound_days: self.inbound_days.max(1), runs_days: self.runs_days.map(|days| days.max(1)) }
    }
}

/// What flow templates and the values they render may hold, in bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowsConfig {
    /// Largest value one templated string may render to; while rendering, a template may build
    /// at most 16 times this in values.
    pub max_template_bytes: usize,
    /// Largest total size of a run's variables (what its transforms set), as JSON.
    pub max_vars_bytes: usize,
    /// Largest rendered action payload (a step's input), as JSON.
    pub max_step_input_bytes: usize,
}

impl Default for FlowsConfig {
    fn default() -> Self {
        let limits = TemplateLimits::default();
        Self {
            max_template_bytes: limits.max_template_bytes,
            max_vars_bytes: limits.max_vars_bytes,
            max_step_input_bytes: limits.max_step_input_bytes,
        }
    }
}

impl FlowsConfig {
    pub fn template_limits(&self) -> TemplateLimits {
        TemplateLimits {
            max_template_bytes: self.max_template_bytes,
            max_vars_bytes: self.max_vars_bytes,
            max_step_input_bytes: self.max_step_input_bytes,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    /// Refuse to start when a built-in plugin fails validation (otherwise it is left out and reported).
    pub strict: bool,
    /// Largest output an action may return, in bytes.
    pub max_output_bytes: usize,
    /// Where a plugin's client sends its vendor requests instead of the vendor (a proxy, a
    /// sandbox, a mock), by plugin id; `BACON_PLUGIN_<NAME>__BASE_URL` wins over this.
    pub base_urls: std::collections::BTreeMap<String, String>,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self { strict: false, max_output_bytes: 4 * 1024 * 1024, base_urls: Default::default() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Auto,
    Pretty,
    Plain,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// Time a request may take before it is answered with 503.
    pub request_timeout_ms: u64,
    /// Requests a second one tenant's keys may send to this process (0: no limit); more get 429.
    pub tenant_requests_per_second: u32,
    /// Requests a tenant may send at once (0: twice its rate).
    pub tenant_burst: u32,
    /// Runs one tenant may start a second in this process, by any trigger (0: no limit); past it
    /// a start through the API gets 429, and a webhook delivery's run starts later.
    pub tenant_runs_per_second: u32,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit_bytes: 1024 * 1024,
            request_timeout_ms: 30_000,
            tenant_requests_per_second: 0,
            tenant_burst: 0,
            tenant_runs_per_second: 0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub max_connections: u32,
    /// SQLite only: `normal` (survives a crash) or `full` (survives power loss).
    pub sqlite_durability: SqliteDurability,
    pub busy_timeout_ms: u64,
    pub acquire_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            max_connections: 10,
            sqlite_durability: SqliteDurability::Normal,
            busy_timeout_ms: 5_000,
            // Under the 2 s a client should wait for a 503 while PostgreSQL is down: sqlx keeps
            // retrying a refused connection until this expires.
            acquire_timeout_ms: 1_500,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkersConfig {
    /// Whether `serve` runs workers in-process (`--no-workers` turns them off).
    pub embedded: bool,
    /// Step jobs a process executes at once.
    pub concurrency: usize,
    /// Seconds a claimed step may run before the reconciler gives it to another worker (after a
    /// crash). Must exceed the longest action timeout.
    pub lease_secs: u64,
    /// Steps of one tenant's runs running at once, across every process (0: no cap); a step
    /// past it waits, without a job, for one of its tenant's steps to end.
    pub tenant_concurrent_steps: u32,
    /// Where a `bacon-server worker` process serves its own `/metrics` (`127.0.0.1:9187`; port 0
    /// picks one); unset: it serves none. `serve` ignores it (its API serves `/metrics`).
    pub metrics_bind: Option<SocketAddr>,
}

impl Default for WorkersConfig {
    fn default() -> Self {
        Self { embedded: true, concurrency: 8, lease_secs: 300, tenant_concurrent_steps: 0, metrics_bind: None }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            database_url: None,
            log: "info".into(),
            log_format: LogFormat::Auto,
            admin_key: None,
            master_key: None,
            master_keys: None,
            public_url: None,
            http: HttpConfig::default(),
            database: DatabaseConfig::default(),
            workers: WorkersConfig::default(),
            plugins: PluginsConfig::default(),
            egress: EgressConfig::default(),
            flows: FlowsConfig::default(),
            retention: RetentionConfig::default(),
            traces: TracesConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

/// Environment prefixes that other parts of Bacon (or its tests) read.
const FOREIGN_ENV_PREFIXES: [&str; 3] = ["plugin_", "secret_", "test_"];

impl Config {
    /// The server's limits for every tenant without its own.
    pub fn tenant_limits(&self) -> bacon_engine::limits::LimitDefaults {
        bacon_engine::limits::LimitDefaults {
            requests_per_second: self.http.tenant_requests_per_second,
            request_burst: self.http.tenant_burst,
            runs_per_second: self.http.tenant_runs_per_second,
            concurrent_steps: self.workers.tenant_concurrent_steps,
        }
    }

    /// Loads defaults, then `file` (if it exists), then the environment.
    ///
    /// # Errors
    /// When a value has the wrong type or a key is unknown; the message names the key.
    pub fn load(file: &Path) -> Result<Self, Box<figment::Error>> {
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(
                Env::prefixed("BACON_")
                    .filter(|key| {
                        !FOREIGN_ENV_PREFIXES.iter().any(|p| key.as_str().to_ascii_lowercase().starts_with(p))
                    })
                    .split("__"),
            )
            .extract()
            .map_err(Box::new)
    }

    /// The database URL, defaulting to the embedded SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("bacon.db").display()))
    }

    pub fn database_options(&self) -> DatabaseOptions {
        DatabaseOptions {
            url: self.database_url(),
            max_connections: self.database.max_connections,
            sqlite_durability: self.database.sqlite_durability,
            busy_timeout: Duration::from_millis(self.database.busy_timeout_ms),
            acquire_timeout: Duration::from_millis(self.database.acquire_timeout_ms),
        }
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure returns figment::Error.
mod tests {
    use super::*;

    #[test]
    fn env_overrides_file_and_nested_keys_split_on_double_underscore() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bacon.toml", "log = \"debug\"\n[http]\nbody_limit_bytes = 10\n")?;
            jail.set_env("BACON_HTTP__BODY_LIMIT_BYTES", "20");
            jail.set_env("BACON_DATABASE_URL", "postgres://localhost/x");
            jail.set_env("BACON_PLUGIN_HTTP__ENABLED", "false");
            jail.set_env("BACON_TEST_POSTGRES_URL", "postgres://elsewhere");
            let config = Config::load(Path::new("bacon.toml")).map_err(|e| e.to_string())?;
            assert_eq!(config.log, "debug");
            assert_eq!(config.http.body_limit_bytes, 20);
            assert_eq!(config.database_url(), "postgres://localhost/x");
            jail.set_env("BACON_FLOWS__MAX_VARS_BYTES", "4096");
            let config = Config::load(Path::new("bacon.toml")).map_err(|e| e.to_string())?;
            assert_eq!(config.flows.template_limits().max_vars_bytes, 4096);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("BACON_HTTP__BINDD", "x");
            let err = Config::load(Path::new("missing.toml")).expect_err("typo must fail");
            assert!(err.to_string().contains("bindd"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn internal_ranges_are_closed_by_default_and_opened_from_a_file_or_the_environment() {
        assert!(Config::default().egress.allow_internal.is_empty());
        figment::Jail::expect_with(|jail| {
            jail.create_file("bacon.toml", "[egress]\nallow_internal = [\"10.1.2.0/24\"]\n")?;
            let config = Config::load(Path::new("bacon.toml")).map_err(|e| e.to_string())?;
            assert_eq!(config.egress.allow_internal, ["10.1.2.0/24"]);
            jail.set_env("BACON_EGRESS__ALLOW_INTERNAL", "127.0.0.1/32, ::1/128");
            let config = Config::load(Path::new("bacon.toml")).map_err(|e| e.to_string())?;
            assert_eq!(config.egress.allow_internal, ["127.0.0.1/32", "::1/128"]);
            let policy = config.egress.policy().map_err(|e| e.to_string())?;
            assert_eq!(policy.open_ranges().len(), 2);
            jail.set_env("BACON_EGRESS__ALLOW_INTERNAL", "10.0.0.0/8,intranet");
            let config = Config::load(Path::new("bacon.toml")).map_err(|e| e.to_string())?;
            let err = config.egress.policy().expect_err("not a range");
            assert!(err.to_string().contains("`intranet`"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn default_database_is_sqlite_in_the_data_dir() {
        assert_eq!(Config::default().database_url(), "sqlite://./data/bacon.db");
    }
}
