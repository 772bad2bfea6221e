//! How the benchmark talks to the server: the REST API (what a user does) and a read-only look at
//! the database afterwards (when each run finished, as the server stamped it), so measuring
//! completion adds no polling load while a workload runs.

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value as DbValue};
use serde_json::{Value, json};

/// The REST API with a tenant key.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub key: String,
    pub client: reqwest::Client,
}

impl Api {
    pub fn new(base: &str, key: &str) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap_or_default();
        Self { base: base.to_string(), key: key.to_string(), client }
    }

    /// Sends a JSON request and returns the status and the JSON body (null when not JSON).
    ///
    /// # Errors
    /// Transport failures.
    pub async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<(u16, Value)> {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| format!("calling {path}"))?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// Lets the HTTP plugin call `host` (the loopback endpoint).
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn allow_host(&self, host: &str) -> anyhow::Result<()> {
        let (status, body) = self
            .send(reqwest::Method::PUT, "/v1/plugins/bacon-plugin-http/settings", Some(json!({"allowedHosts": [host]})))
            .await?;
        if status != 200 {
            bail!("PUT settings answered {status}: {body}");
        }
        Ok(())
    }

    /// Creates a flow and returns its id.
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn create_flow(&self, name: &str, graph: Value) -> anyhow::Result<String> {
        let (status, flow) =
            self.send(reqwest::Method::POST, "/v1/flows", Some(json!({"name": name, "graph": graph}))).await?;
        if status != 201 {
            bail!("POST /v1/flows answered {status}: {flow}");
        }
        flow["id"].as_str().map(str::to_string).context("the flow has an id")
    }

    /// Starts a run (202) and returns its id.
    ///
    /// # Errors
    /// Transport failures or another status than 202.
    pub async fn start_run(&self, flow: &str, n: u64) -> anyhow::Result<String> {
        let response = self
            .client
            .post(format!("{}/v1/flows/{flow}/runs", self.base))
            .bearer_auth(&self.key)
            .json(&json!({"input": {"n": n}}))
            .send()
            .await?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status != 202 {
            bail!("POST runs answered {status}: {body}");
        }
        body["id"].as_str().map(str::to_string).context("the run has an id")
    }
}

/// A run as the server recorded it.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub id: String,
    pub status: String,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Where a one-step run spent its time, as the server stamped it.
#[derive(Debug, Clone)]
pub struct Timeline {
    pub run_id: String,
    /// The run row was built (after authentication and reading the flow).
    pub run_created: DateTime<Utc>,
    /// The step row was built (the advance transaction).
    pub step_created: DateTime<Utc>,
    /// A worker claimed the step (after the job was pushed, fetched and delivered).
    pub step_started: Option<DateTime<Utc>>,
    /// The step's outcome, in the transaction that records it.
    pub step_finished: Option<DateTime<Utc>>,
    /// The run's end, in that same transaction.
    pub run_finished: Option<DateTime<Utc>>,
}

/// Reads the server's database (never writes).
pub struct Records {
    db: DatabaseConnection,
}

impl Records {
    /// Connects to the server's database.
    ///
    /// # Errors
    /// When it cannot connect.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let mut options = ConnectOptions::new(url);
        options.max_connections(2).sqlx_logging(false);
        Ok(Self { db: sea_orm::Database::connect(options).await.context("connecting to the server's database")? })
    }

    pub fn is_postgres(&self) -> bool {
        self.db.get_database_backend() == DbBackend::Postgres
    }

    /// `sql` with `?` placeholders, numbered for PostgreSQL.
    fn statement(&self, sql: &str, values: Vec<DbValue>) -> Statement {
        let backend = self.db.get_database_backend();
        let sql = if backend == DbBackend::Postgres {
            let mut n = 0;
            sql.chars()
                .map(|c| {
                    if c == '?' {
                        n += 1;
                        format!("${n}")
                    } else {
                        c.to_string()
                    }
                })
                .collect()
        } else {
            sql.to_string()
        };
        Statement::from_sql_and_values(backend, sql, values)
    }

    /// Runs of `flow` still running.
    ///
    /// # Errors
    /// Database failures.
    pub async fn running(&self, flow: &str) -> anyhow::Result<i64> {
        let row = self
            .db
            .query_one_raw(self.statement(
                "SELECT COUNT(*) AS n FROM runs WHERE flow_id = ? AND status = 'running'",
                vec![flow.into()],
            ))
            .await?
            .context("a count")?;
        Ok(row.try_get::<i64>("", "n")?)
    }

    /// The status of one run.
    ///
    /// # Errors
    /// Database failures.
    pub async fn status(&self, run: &str) -> anyhow::Result<String> {
        let row = self
            .db
            .query_one_raw(self.statement("SELECT status FROM runs WHERE id = ?", vec![run.into()]))
            .await?
            .context("the run exists")?;
        Ok(row.try_get::<String>("", "status")?)
    }

    /// Every run of `flow`.
    ///
    /// # Errors
    /// Database failures.
    pub async fn runs(&self, flow: &str) -> anyhow::Result<Vec<RunRecord>> {
        let rows = self
            .db
            .query_all_raw(
                self.statement("SELECT id, status, finished_at FROM runs WHERE flow_id = ?", vec![flow.into()]),
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(RunRecord {
                    id: row.try_get("", "id")?,
                    status: row.try_get("", "status")?,
                    finished_at: row.try_get("", "finished_at")?,
                })
            })
            .collect()
    }

    /// When each finished step of the runs of `flow` finished.
    ///
    /// # Errors
    /// Database failures.
    pub async fn steps_finished(&self, flow: &str) -> anyhow::Result<Vec<DateTime<Utc>>> {
        let rows = self
            .db
            .query_all_raw(self.statement(
                "SELECT s.finished_at FROM steps s JOIN runs r ON r.id = s.run_id WHERE r.flow_id = ?",
                vec![flow.into()],
            ))
            .await?;
        let mut finished = Vec::with_capacity(rows.len());
        for row in &rows {
            if let Some(at) = row.try_get::<Option<DateTime<Utc>>>("", "finished_at")? {
                finished.push(at);
            }
        }
        Ok(finished)
    }

    /// Each run of `flow` with its first step's timestamps (for one-step flows).
    ///
    /// # Errors
    /// Database failures.
    pub async fn timelines(&self, flow: &str) -> anyhow::Result<Vec<Timeline>> {
        let rows = self
            .db
            .query_all_raw(self.statement(
                "SELECT r.id AS run_id, r.created_at AS run_created, r.finished_at AS run_finished, \
                 s.created_at AS step_created, s.started_at AS step_started, s.finished_at AS step_finished \
                 FROM runs r JOIN steps s ON s.run_id = r.id WHERE r.flow_id = ?",
                vec![flow.into()],
            ))
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Timeline {
                    run_id: row.try_get("", "run_id")?,
                    run_created: row.try_get("", "run_created")?,
                    step_created: row.try_get("", "step_created")?,
                    step_started: row.try_get("", "step_started")?,
                    step_finished: row.try_get("", "step_finished")?,
                    run_finished: row.try_get("", "run_finished")?,
                })
            })
            .collect()
    }

    /// When the first step of a run of `flow` was claimed by a worker.
    ///
    /// # Errors
    /// Database failures.
    pub async fn first_step_started(&self, flow: &str) -> anyhow::Result<Option<DateTime<Utc>>> {
        let rows = self
            .db
            .query_all_raw(self.statement(
                "SELECT s.started_at FROM steps s JOIN runs r ON r.id = s.run_id WHERE r.flow_id = ?",
                vec![flow.into()],
            ))
            .await?;
        let mut first: Option<DateTime<Utc>> = None;
        for row in &rows {
            if let Some(at) = row.try_get::<Option<DateTime<Utc>>>("", "started_at")? {
                first = Some(first.map_or(at, |f| f.min(at)));
            }
        }
        Ok(first)
    }

    /// PostgreSQL's counters for this database (`None` on SQLite).
    ///
    /// # Errors
    /// Database failures.
    pub async fn pg_counters(&self) -> anyhow::Result<Option<PgCounters>> {
        if !self.is_postgres() {
            return Ok(None);
        }
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT d.xact_commit AS commits, d.tup_inserted + d.tup_updated + d.tup_deleted AS writes, \
                 w.wal_sync AS syncs FROM pg_stat_database d, pg_stat_wal w WHERE d.datname = current_database()",
            ))
            .await?
            .context("statistics")?;
        Ok(Some(PgCounters {
            commits: row.try_get::<i64>("", "commits")?,
            writes: row.try_get::<i64>("", "writes")?,
            syncs: row.try_get::<i64>("", "syncs")?,
        }))
    }
}

/// Cumulative PostgreSQL statistics. `commits` counts every transaction, read-only ones too
/// (each statement outside a transaction is one); `syncs` are WAL fsyncs, server-wide.
#[derive(Debug, Clone, Copy, Default)]
pub struct PgCounters {
    pub commits: i64,
    pub writes: i64,
    pub syncs: i64,
}

impl PgCounters {
    /// Per-run averages of the growth from `self` to `later`.
    pub fn per_run(self, later: Self, runs: f64) -> [f64; 3] {
        let runs = runs.max(1.0);
        [
            (later.commits - self.commits) as f64 / runs,
            (later.writes - self.writes) as f64 / runs,
            (later.syncs - self.syncs) as f64 / runs,
        ]
    }
}
