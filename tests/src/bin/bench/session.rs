//! One storage's run of the benchmark, in order: first start, workloads 1 and 2 on `serve`,
//! workload 3 (an API-only server fills the queue, then a `worker` process drains it), a restart,
//! and the raw apalis baseline on fresh databases of the same kind.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use bacon_engine::database::SqliteDurability;
use tempfile::TempDir;

use crate::baseline::{self, Handler};
use crate::client::{Api, Records};
use crate::endpoint::Endpoint;
use crate::report::StorageResult;
use crate::server::{Profiler, RssSampler, Server};
use crate::workloads;
use crate::{Options, Part, Storage};

/// Everything one storage's run shares.
pub struct Session<'a> {
    storage: Storage,
    options: &'a Options,
    endpoint: &'a Endpoint,
    dir: TempDir,
    env: Vec<(String, String)>,
    /// PostgreSQL databases this session created (dropped by [`Session::finish`]).
    databases: Vec<String>,
    pub result: StorageResult,
}

impl<'a> Session<'a> {
    pub fn new(storage: Storage, options: &'a Options, endpoint: &'a Endpoint) -> anyhow::Result<Self> {
        let mut dir = tempfile::Builder::new().prefix("bacon-bench-").tempdir()?;
        if options.keep {
            dir.disable_cleanup(true);
            eprintln!("  working directory: {}", dir.path().display());
        }
        let durability = match storage.durability() {
            SqliteDurability::Normal => "normal",
            SqliteDurability::Full => "full",
        };
        let env = vec![
            ("BACON_HTTP__BIND".to_string(), "127.0.0.1:0".to_string()),
            ("BACON_DATABASE__SQLITE_DURABILITY".to_string(), durability.to_string()),
            // The benchmark's vendor mock listens on loopback, which plugins reach only when opened.
            ("BACON_EGRESS__ALLOW_INTERNAL".to_string(), "127.0.0.1/32".to_string()),
        ];
        Ok(Self { storage, options, endpoint, dir, env, databases: Vec::new(), result: StorageResult::new(storage) })
    }

    fn cwd(&self) -> &Path {
        self.dir.path()
    }

    /// Runs every selected part; fills `result` as it goes, so a failure keeps what was measured.
    ///
    /// # Errors
    /// The first failure.
    pub async fn run(&mut self) -> anyhow::Result<()> {
        let server_db = if self.storage == Storage::Postgres {
            let url = self.create_pg_database().await?;
            self.env.push(("BACON_DATABASE_URL".to_string(), url.clone()));
            url
        } else {
            format!("sqlite://{}", self.cwd().join("data/bacon.db").display())
        };
        let server = Server::start(self.cwd(), &["serve"], &self.env).await?;
        self.result.startup_first = Some(server.startup);
        eprintln!("  started in {:?} (empty database)", server.startup);
        let key = server.first_tenant_key()?;
        let api = Api::new(&server.base, &key);
        let records = Records::connect(&server_db).await?;
        api.allow_host(&self.endpoint.uri).await?;
        let one = workloads::one_action_graph(self.endpoint);
        let ten = workloads::ten_node_graph(self.endpoint);
        let map = workloads::map_graph(self.endpoint);
        let mut flows = HashMap::new();
        for (name, graph) in [
            ("w1-one", &one),
            ("w1-saturation", &one),
            ("w1-half", &one),
            ("w2-one", &ten),
            ("w2-saturation", &ten),
            ("w2-half", &ten),
            ("w3", &one),
            ("w4-one", &map),
            ("w4-saturation", &map),
        ] {
            flows.insert(name, api.create_flow(name, graph.clone()).await?);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        self.result.rss_idle = Some(server.memory());

        self.workloads_1_and_2(&server, &api, &records, &flows).await?;
        if self.options.parts.contains(&Part::Workload(4)) {
            self.workload_4(&server, &api, &records, &flows).await?;
        }
        self.result.rss_peak_serve = Some(server.memory().peak);
        server.stop().await?;

        if self.options.parts.contains(&Part::Workload(3)) {
            self.workload_3(&key, &flows["w3"], &records).await?;
        }

        let restarted = Server::start(self.cwd(), &["serve"], &self.env).await?;
        self.result.startup_restart = Some(restarted.startup);
        eprintln!("  restarted in {:?}", restarted.startup);
        restarted.stop().await?;
        drop(records);

        if self.options.parts.contains(&Part::Raw) {
            self.raw_apalis().await?;
        }
        Ok(())
    }

    async fn workloads_1_and_2(
        &mut self,
        server: &Server,
        api: &Api,
        records: &Records,
        flows: &HashMap<&str, String>,
    ) -> anyhow::Result<()> {
        let plan = &self.options.plan;
        let sampler = RssSampler::start(server.pid);
        for (workload, calls) in [(1u8, 1u64), (2, 3)] {
            if !self.options.parts.contains(&Part::Workload(workload)) {
                continue;
            }
            let flow = |phase: &str| &flows[format!("w{workload}-{phase}").as_str()];
            let one = workloads::one_client(api, records, flow("one"), plan.one_client).await?;
            eprintln!("  W{workload} one client: p50 {:.1} ms, p99 {:.1} ms", one.percentiles.p50, one.percentiles.p99);
            let profile = format!("{}-w{workload}-saturation", self.storage.key());
            let profiler = Profiler::start(self.options.perf_dir.as_deref(), server.pid, &profile);
            let target = workloads::Target { api, records, server, endpoint: self.endpoint };
            let saturated = workloads::saturate(&target, flow("saturation"), calls, plan).await?;
            profiler.stop();
            eprintln!(
                "  W{workload} saturation: {:.0} runs/s (machine {:.0}% busy)",
                saturated.runs_per_second,
                saturated.cpu.machine_busy * 100.0
            );
            let rate = saturated.runs_per_second / 2.0;
            let half = workloads::paced(api, records, flow("half"), rate, plan.half_load).await?;
            eprintln!(
                "  W{workload} at {:.0} runs/s: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
                half.offered, half.percentiles.p50, half.percentiles.p95, half.percentiles.p99
            );
            let rss = Some(sampler.take());
            let r = &mut self.result;
            if workload == 1 {
                (r.w1_one, r.w1_saturation, r.w1_half, r.rss_w1) = (Some(one), Some(saturated), Some(half), rss);
            } else {
                (r.w2_one, r.w2_saturation, r.w2_half, r.rss_w2) = (Some(one), Some(saturated), Some(half), rss);
            }
        }
        Ok(())
    }

    /// Workload 4: `map` runs of 100 items, one client after another, then at saturation.
    async fn workload_4(
        &mut self,
        server: &Server,
        api: &Api,
        records: &Records,
        flows: &HashMap<&str, String>,
    ) -> anyhow::Result<()> {
        let plan = &self.options.plan;
        let one = workloads::one_client(api, records, &flows["w4-one"], plan.one_client).await?;
        eprintln!("  W4 one client: p50 {:.1} ms per 100-item run", one.percentiles.p50);
        let target = workloads::Target { api, records, server, endpoint: self.endpoint };
        let saturated = workloads::saturate(&target, &flows["w4-saturation"], workloads::MAP_ITEMS, plan).await?;
        eprintln!("  W4 saturation: {:.1} runs/s", saturated.runs_per_second);
        (self.result.w4_one, self.result.w4_saturation) = (Some(one), Some(saturated));
        Ok(())
    }

    /// Workload 3: fills the queue through an API-only server, then times a `worker` process.
    async fn workload_3(&mut self, key: &str, flow: &str, records: &Records) -> anyhow::Result<()> {
        let plan = &self.options.plan;
        let api_only = Server::start(self.cwd(), &["serve", "--no-workers"], &self.env).await?;
        let filled = workloads::fill(&Api::new(&api_only.base, key), flow, plan.queued_runs).await?;
        eprintln!("  W3 queued {} runs through the API in {:.1} s", plan.queued_runs, filled.as_secs_f64());
        api_only.stop().await?;
        let worker = Server::start(self.cwd(), &["worker"], &self.env).await?;
        self.result.startup_worker = Some(worker.startup);
        let sampler = RssSampler::start(worker.pid);
        let profile = format!("{}-w3-drain", self.storage.key());
        let profiler = Profiler::start(self.options.perf_dir.as_deref(), worker.pid, &profile);
        let drained = workloads::drain(records, &worker, flow, plan.drain_limit).await?;
        profiler.stop();
        self.result.rss_peak_worker = Some(worker.memory().peak.max(sampler.take()));
        eprintln!("  W3 drained {} runs: {:.0} steps/s", drained.succeeded, drained.steps_per_second);
        self.result.w3 = Some(drained);
        worker.stop().await
    }

    /// The raw apalis baseline, each handler on a fresh database.
    async fn raw_apalis(&mut self) -> anyhow::Result<()> {
        let plan = &self.options.plan;
        let url = if self.storage == Storage::Postgres {
            self.create_pg_database().await?
        } else {
            format!("sqlite://{}", self.cwd().join("round-trips.db").display())
        };
        let trips = baseline::round_trips(&url, self.storage.durability()).await?;
        eprintln!("  round trips: SELECT 1 {:.0} µs, committed INSERT {:.0} µs", trips[0], trips[1]);
        self.result.round_trips = Some(trips);
        for handler in [Handler::Noop, Handler::OneWrite] {
            let url = if self.storage == Storage::Postgres {
                self.create_pg_database().await?
            } else {
                let file = format!("baseline-{handler:?}.db").to_lowercase();
                format!("sqlite://{}", self.cwd().join(file).display())
            };
            let rate =
                baseline::measure(&url, self.storage.durability(), handler, plan.baseline_jobs, plan.drain_limit)
                    .await?;
            eprintln!("  raw apalis, {handler:?} handler: {rate:.0} jobs/s");
            match handler {
                Handler::Noop => self.result.raw_noop = Some(rate),
                Handler::OneWrite => self.result.raw_write = Some(rate),
            }
        }
        Ok(())
    }

    /// Creates an empty database `bacon_bench_<ulid>` and returns its URL.
    async fn create_pg_database(&mut self) -> anyhow::Result<String> {
        use sea_orm::sqlx::{Connection, PgConnection};
        let server_url = &self.options.postgres_url;
        let name = format!("bacon_bench_{}", ulid::Ulid::generate().to_string().to_lowercase());
        let mut conn = PgConnection::connect(server_url).await.context("connecting to PostgreSQL")?;
        // The name is ours (a ULID), not input: safe to splice.
        sea_orm::sqlx::query(sea_orm::sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        let _ = conn.close().await;
        self.databases.push(name.clone());
        with_database(server_url, &name)
    }

    /// Drops the PostgreSQL databases this session created and returns the result.
    pub async fn finish(self) -> StorageResult {
        use sea_orm::sqlx::{Connection, PgConnection};
        for name in &self.databases {
            let dropped = async {
                let mut conn = PgConnection::connect(&self.options.postgres_url).await?;
                sea_orm::sqlx::query(sea_orm::sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await?;
                conn.close().await
            };
            if let Err(e) = dropped.await {
                eprintln!("  could not drop database {name}: {e}");
            }
        }
        self.result
    }
}

/// `server_url` with its database name replaced by `name`.
fn with_database(server_url: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = server_url.split_once('?').map_or((server_url, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map(|i| i + 3).context("a postgres:// URL")?;
    let base = base[authority..].find('/').map_or(base, |slash| &base[..authority + slash]);
    Ok(match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    })
}
