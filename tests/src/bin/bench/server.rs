//! The server under test: this very binary re-executed as `bacon-server` (release build, its own
//! process), with its output in a log file, and what `/proc` says about it (RSS, CPU time).
//!
//! Re-executing ourselves keeps the benchmark to one `cargo run -p bacon-tests` (cargo does not
//! build another package's binaries for us) while the server still runs `bacon_api::cli::main`,
//! exactly what `bacon-server` runs, in a process of its own.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

/// Set on the child: "run `bacon_api::cli::main` instead of the benchmark". Not `BACON_*`, which
/// the server's configuration would reject as an unknown key.
pub const CHILD_ENV: &str = "BENCH_RUN_AS_BACON_SERVER";

/// A running `bacon-server serve|worker` child.
pub struct Server {
    child: Child,
    pub pid: u32,
    /// `http://127.0.0.1:PORT` (empty for `worker`).
    pub base: String,
    log: PathBuf,
    /// From spawn to ready: `/readyz` answering 200 (`serve`), or the "workers are running" line.
    pub startup: Duration,
}

impl Server {
    /// Starts `bacon-server <args>` in `cwd` with only `env` as its `BACON_*` configuration and
    /// waits until it is ready.
    ///
    /// # Errors
    /// When it cannot start, exits, or is not ready within 60 s.
    pub async fn start(cwd: &Path, args: &[&str], env: &[(String, String)]) -> anyhow::Result<Self> {
        let log = cwd.join(format!("{}.log", args.join("-").replace("--", "")));
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&log).context("opening the log")?;
        let mut command = Command::new(std::env::current_exe().context("locating this binary")?);
        command.args(args).current_dir(cwd).stdin(Stdio::null()).kill_on_drop(true);
        command.stdout(Stdio::from(file.try_clone()?)).stderr(Stdio::from(file));
        for (key, _) in std::env::vars() {
            if key.starts_with("BACON_") || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        command.env(CHILD_ENV, "1").env("BACON_LOG_FORMAT", "plain");
        for (key, value) in env {
            command.env(key, value);
        }
        let already = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0) as usize;
        let spawned = Instant::now();
        let child = command.spawn().context("spawning the server")?;
        let pid = child.id().context("the child has a pid")?;
        let mut server = Self { child, pid, base: String::new(), log, startup: Duration::ZERO };
        let client = reqwest::Client::new();
        let deadline = spawned + Duration::from_secs(60);
        loop {
            if Instant::now() > deadline {
                bail!("the server was not ready within 60 s; its log:\n{}", server.log_tail(already));
            }
            if let Some(status) = server.child.try_wait()? {
                bail!("the server exited ({status}) before it was ready; its log:\n{}", server.log_tail(already));
            }
            let text = server.log_since(already);
            if args.first() == Some(&"worker") {
                if text.contains("Bacon workers are running") {
                    break;
                }
            } else if server.base.is_empty() {
                if let Some(at) = text.find("Bacon is listening on http://") {
                    let rest = &text[at + "Bacon is listening on ".len()..];
                    server.base = rest.split_whitespace().next().unwrap_or_default().to_string();
                    continue;
                }
            } else if let Ok(r) = client.get(format!("{}/readyz", server.base)).send().await
                && r.status().is_success()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        server.startup = spawned.elapsed();
        Ok(server)
    }

    fn log_since(&self, offset: usize) -> String {
        let bytes = std::fs::read(&self.log).unwrap_or_default();
        String::from_utf8_lossy(bytes.get(offset..).unwrap_or_default()).into_owned()
    }

    fn log_tail(&self, offset: usize) -> String {
        let text = self.log_since(offset);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// The first tenant's admin key, printed once by a first start.
    ///
    /// # Errors
    /// When the log has no such line.
    pub fn first_tenant_key(&self) -> anyhow::Result<String> {
        self.log_since(0)
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("bacon_") && !l.starts_with("bacon_admin_"))
            .map(str::to_string)
            .context("the first start prints the first tenant's key")
    }

    /// Steps the reconciler re-enqueued, as its log lines say (`steps=N`): a step still waiting
    /// in a long queue looks orphaned to it, and each re-enqueue is a duplicate job.
    pub fn reenqueued_by_reconciler(&self) -> u64 {
        self.log_since(0)
            .lines()
            .filter(|l| l.contains("Reconciler re-enqueued"))
            .filter_map(|l| l.split("steps=").nth(1))
            .filter_map(|n| n.split_whitespace().next()?.parse::<u64>().ok())
            .sum()
    }

    /// Resident memory now and at its peak so far.
    pub fn memory(&self) -> Memory {
        Memory::of(self.pid)
    }

    /// SIGTERM, then waits for the exit (SIGKILL after 30 s).
    ///
    /// # Errors
    /// When signalling fails.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        signal(self.pid, "TERM")?;
        if tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await.is_err() {
            eprintln!("  the server did not stop within 30 s after SIGTERM; killing it");
            self.child.start_kill()?;
            self.child.wait().await?;
        }
        Ok(())
    }
}

/// Sends `SIGNAL` to `pid` with `kill(1)` (the workspace forbids `unsafe`, so no libc call).
///
/// # Errors
/// When `kill` fails.
pub fn signal(pid: u32, name: &str) -> anyhow::Result<()> {
    let status = std::process::Command::new("kill").args([format!("-{name}"), pid.to_string()]).status()?;
    if !status.success() {
        bail!("kill -{name} {pid} failed");
    }
    Ok(())
}

/// `VmRSS`, its anonymous and file-backed parts, and `VmHWM` (peak RSS) from
/// `/proc/<pid>/status`, in bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    pub rss: u64,
    pub anon: u64,
    pub file: u64,
    pub peak: u64,
}

impl Memory {
    pub fn of(pid: u32) -> Self {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
                .map_or(0, |kb| kb * 1024)
        };
        Self { rss: field("VmRSS:"), anon: field("RssAnon:"), file: field("RssFile:"), peak: field("VmHWM:") }
    }
}

/// Clock ticks per second of `/proc/*/stat` (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: u64 = 100;

/// CPU time (user + system) of a process, from `/proc/<pid>/stat`.
pub fn process_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces: fields count from the last ')'.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // After ')': state is field 0, utime is 11, stime is 12.
    Duration::from_millis((ticks(11) + ticks(12)) * 1000 / TICKS_PER_SECOND)
}

/// Busy and total CPU time of the whole machine (all cores), from `/proc/stat`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MachineCpu {
    pub busy: u64,
    pub total: u64,
}

impl MachineCpu {
    pub fn now() -> Self {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let values: Vec<u64> =
            stat.lines().next().unwrap_or_default().split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
        let total: u64 = values.iter().take(8).sum();
        let idle = values.get(3).copied().unwrap_or(0) + values.get(4).copied().unwrap_or(0);
        Self { busy: total.saturating_sub(idle), total }
    }

    /// The busy share of the machine between `self` and `later`, 0..=1.
    pub fn busy_share(self, later: Self) -> f64 {
        let total = later.total.saturating_sub(self.total);
        if total == 0 { 0.0 } else { later.busy.saturating_sub(self.busy) as f64 / total as f64 }
    }

    /// Busy CPU time between `self` and `later`, summed over cores.
    pub fn busy_time(self, later: Self) -> Duration {
        Duration::from_millis(later.busy.saturating_sub(self.busy) * 1000 / TICKS_PER_SECOND)
    }
}

/// Samples a process's RSS every 100 ms and keeps the largest value; read and reset per phase.
pub struct RssSampler {
    peak: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    pub fn start(pid: u32) -> Self {
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let shared = peak.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                shared.fetch_max(Memory::of(pid).rss, std::sync::atomic::Ordering::Relaxed);
            }
        });
        Self { peak, task }
    }

    /// The largest RSS seen since the last call (or the start).
    pub fn take(&self) -> u64 {
        self.peak.swap(0, std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `perf record` attached to a process for one phase, when `--perf DIR` is given.
pub struct Profiler {
    child: Option<std::process::Child>,
}

impl Profiler {
    /// Starts sampling `pid` into `dir/<name>.perf.data` (DWARF call graphs from `.eh_frame`).
    pub fn start(dir: Option<&Path>, pid: u32, name: &str) -> Self {
        let Some(dir) = dir else { return Self { child: None } };
        let out = dir.join(format!("{name}.perf.data"));
        let child = std::process::Command::new("perf")
            .args(["record", "--quiet", "-F", "199", "--call-graph", "dwarf,16384", "-p", &pid.to_string(), "-o"])
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match child {
            Ok(child) => Self { child: Some(child) },
            Err(e) => {
                eprintln!("  could not start perf ({e}); continuing without a profile");
                Self { child: None }
            }
        }
    }

    /// Stops sampling (SIGINT lets perf write its file).
    pub fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = signal(child.id(), "INT");
            let _ = child.wait();
        }
    }
}
