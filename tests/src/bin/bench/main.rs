//! `bench`: Bacon's benchmark harness (DESIGN.md section 7; how to read it: docs/benchmarks.md).
//!
//! ```sh
//! cargo run --release -p bacon-tests --bin bench            # everything, about 8 minutes
//! cargo run --release -p bacon-tests --bin bench -- --quick --only sqlite-normal
//! ```
//!
//! For each storage (SQLite `synchronous=NORMAL`, SQLite `FULL`, PostgreSQL) it starts the real
//! server (this binary re-executed as `bacon-server`, see [`server`]), drives it over loopback
//! HTTP against an in-process endpoint the HTTP plugin calls ([`endpoint`]), and measures the
//! workloads ([`workloads`]) beside a raw apalis baseline on the same storage ([`baseline`]), in
//! the order [`session`] gives; then prints one table ([`report`]). Nothing here asserts a duration.

mod baseline;
mod client;
mod endpoint;
mod report;
mod server;
mod session;
mod stats;
mod workloads;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bacon_engine::database::SqliteDurability;

use crate::endpoint::Endpoint;
use crate::session::Session;

/// The storages the benchmark runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    SqliteNormal,
    SqliteFull,
    Postgres,
}

impl Storage {
    const ALL: [Storage; 3] = [Storage::SqliteNormal, Storage::SqliteFull, Storage::Postgres];

    pub fn key(self) -> &'static str {
        match self {
            Self::SqliteNormal => "sqlite-normal",
            Self::SqliteFull => "sqlite-full",
            Self::Postgres => "postgres",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::SqliteNormal => "SQLite NORMAL",
            Self::SqliteFull => "SQLite FULL",
            Self::Postgres => "PostgreSQL",
        }
    }

    fn durability(self) -> SqliteDurability {
        if self == Self::SqliteFull { SqliteDurability::Full } else { SqliteDurability::Normal }
    }
}

/// How long each phase runs.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub one_client: Duration,
    pub saturation: Duration,
    pub warmup: Duration,
    pub half_load: Duration,
    pub queued_runs: u64,
    pub baseline_jobs: usize,
    /// Upper bound of a drain (workload 3, each baseline).
    pub drain_limit: Duration,
}

impl Plan {
    fn full() -> Self {
        Self {
            one_client: Duration::from_secs(5),
            saturation: Duration::from_secs(15),
            warmup: Duration::from_secs(3),
            half_load: Duration::from_secs(10),
            queued_runs: 10_000,
            baseline_jobs: 10_000,
            drain_limit: Duration::from_secs(60),
        }
    }

    fn quick() -> Self {
        Self {
            one_client: Duration::from_secs(2),
            saturation: Duration::from_secs(6),
            warmup: Duration::from_secs(2),
            half_load: Duration::from_secs(4),
            queued_runs: 1_000,
            baseline_jobs: 2_000,
            drain_limit: Duration::from_secs(30),
        }
    }
}

/// A part of the benchmark `--workloads` can select.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Workload(u8),
    /// The raw apalis baseline.
    Raw,
}

struct Options {
    storages: Vec<Storage>,
    parts: Vec<Part>,
    plan: Plan,
    quick: bool,
    postgres_url: String,
    perf_dir: Option<PathBuf>,
    /// Keep each storage's working directory (server logs, SQLite files).
    keep: bool,
}

const USAGE: &str = "usage: bench [--quick] [--only sqlite-normal,sqlite-full,postgres] [--workloads 1,2,3,4,raw]
             [--postgres-url URL] [--keep] [--perf DIR]

  --quick         shorter phases and 1,000 queued runs (a smoke run, about 2 minutes)
  --only LIST     run these storages only (default: all three)
  --workloads L   run these parts only (default: 1,2,3,4,raw; raw is the apalis baseline)
  --postgres-url  server to create the benchmark databases on (default: $BACON_TEST_POSTGRES_URL,
                  else postgres://postgres@127.0.0.1:5432/postgres); the databases are dropped after
  --keep          keep each storage's working directory (server logs, SQLite files) and print it
  --perf DIR      record `perf` profiles of the server during workloads 1 and 2 at saturation
                  and workload 3 into DIR (read them with `perf report -i FILE`)";

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut options = Self {
            storages: Storage::ALL.to_vec(),
            parts: vec![Part::Workload(1), Part::Workload(2), Part::Workload(3), Part::Workload(4), Part::Raw],
            plan: Plan::full(),
            quick: false,
            postgres_url: std::env::var(bacon_tests::postgres::ENV)
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
            perf_dir: None,
            keep: false,
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => {
                    options.quick = true;
                    options.plan = Plan::quick();
                }
                "--only" => {
                    let list = args.next().ok_or("--only needs a list")?;
                    options.storages = list
                        .split(',')
                        .map(|key| {
                            Storage::ALL
                                .into_iter()
                                .find(|s| s.key() == key.trim())
                                .ok_or(format!("unknown storage {key}"))
                        })
                        .collect::<Result<_, _>>()?;
                }
                "--workloads" => {
                    let list = args.next().ok_or("--workloads needs a list")?;
                    options.parts = list
                        .split(',')
                        .map(|part| match part.trim() {
                            "1" => Ok(Part::Workload(1)),
                            "2" => Ok(Part::Workload(2)),
                            "3" => Ok(Part::Workload(3)),
                            "4" => Ok(Part::Workload(4)),
                            "raw" => Ok(Part::Raw),
                            other => Err(format!("unknown workload {other}")),
                        })
                        .collect::<Result<_, _>>()?;
                }
                "--postgres-url" => options.postgres_url = args.next().ok_or("--postgres-url needs a URL")?,
                "--perf" => options.perf_dir = Some(PathBuf::from(args.next().ok_or("--perf needs a directory")?)),
                "--keep" => options.keep = true,
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown argument {other}")),
            }
        }
        Ok(options)
    }
}

fn main() -> ExitCode {
    if std::env::var_os(server::CHILD_ENV).is_some() {
        return bacon_api::cli::main();
    }
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("{message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(options))
}

async fn run(options: Options) -> ExitCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; numbers are only meaningful with --release");
    }
    let machine = report::machine();
    eprintln!("{machine}");
    if let Some(dir) = &options.perf_dir
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let endpoint = match Endpoint::start().await {
        Ok(endpoint) => endpoint,
        Err(e) => {
            eprintln!("cannot start the loopback endpoint: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut results = Vec::new();
    for storage in &options.storages {
        eprintln!("\n== {} ==", storage.label());
        let mut session = match Session::new(*storage, &options, &endpoint) {
            Ok(session) => session,
            Err(e) => {
                eprintln!("cannot prepare the {} run: {e:#}", storage.label());
                return ExitCode::FAILURE;
            }
        };
        if let Err(e) = session.run().await {
            eprintln!("  {} failed: {e:#}", storage.label());
            session.result.error = Some(format!("{e:#}"));
        }
        results.push(session.finish().await);
    }
    println!("\n{machine}");
    if options.quick {
        println!("(--quick: short phases, {} queued runs; not the numbers to quote)", options.plan.queued_runs);
    }
    println!("\n{}", report::render(&results, &options.plan));
    if results.iter().any(|r| r.error.is_some()) { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
