//! The table the benchmark prints (Markdown, so it pastes into docs/benchmarks.md as is).

use std::time::Duration;

use crate::server::Memory;
use crate::workloads::{CpuUse, Drain, Latency, Saturation};
use crate::{Plan, Storage};

/// What was measured on one storage; `None` where the run stopped before that phase.
#[derive(Debug, Default)]
pub struct StorageResult {
    pub label: &'static str,
    pub startup_first: Option<Duration>,
    pub startup_restart: Option<Duration>,
    pub startup_worker: Option<Duration>,
    pub rss_idle: Option<Memory>,
    pub rss_w1: Option<u64>,
    pub rss_w2: Option<u64>,
    pub rss_peak_serve: Option<u64>,
    pub rss_peak_worker: Option<u64>,
    pub w1_one: Option<Latency>,
    pub w1_saturation: Option<Saturation>,
    pub w1_half: Option<Latency>,
    pub w2_one: Option<Latency>,
    pub w2_saturation: Option<Saturation>,
    pub w2_half: Option<Latency>,
    pub w3: Option<Drain>,
    pub w4_one: Option<Latency>,
    pub w4_saturation: Option<Saturation>,
    /// p50 µs of `SELECT 1` and of one committed INSERT, one at a time.
    pub round_trips: Option<[f64; 2]>,
    pub raw_noop: Option<f64>,
    pub raw_write: Option<f64>,
    pub error: Option<String>,
}

impl StorageResult {
    pub fn new(storage: Storage) -> Self {
        Self { label: storage.label(), ..Self::default() }
    }
}

/// The machine, as the table's caption.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, v)| v.trim())
        .to_string();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_gib = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!("machine: {cores} cores ({model}), {memory_gib:.0} GiB; load average before the run: {}", load.join(" "))
}

fn ms(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.0}", d.as_secs_f64() * 1000.0))
}

fn mb(bytes: Option<u64>) -> String {
    bytes.map_or("-".into(), |b| format!("{:.1}", b as f64 / 1024.0 / 1024.0))
}

fn rate(value: Option<f64>) -> String {
    value.map_or("-".into(), |v| format!("{v:.0}"))
}

fn latency(l: &Option<Latency>) -> String {
    l.as_ref().map_or("-".into(), |l| {
        let p = l.percentiles;
        let mut text = format!("{:.1} / {:.1} / {:.1} (n={})", p.p50, p.p95, p.p99, p.count);
        if l.unsuccessful > 0 {
            text.push_str(&format!(" ({} not succeeded)", l.unsuccessful));
        }
        text
    })
}

fn saturation(s: &Option<Saturation>) -> String {
    s.as_ref().map_or("-".into(), |s| {
        let mut text = format!("{:.0}", s.runs_per_second);
        if s.unsuccessful > 0 {
            text.push_str(&format!(" ({} not succeeded)", s.unsuccessful));
        }
        text
    })
}

fn cpu(c: Option<&CpuUse>) -> String {
    c.map_or("-".into(), |c| {
        format!("{:.0}% · {:.2} / {:.2} / {:.2}", c.machine_busy * 100.0, c.server_ms, c.bench_ms, c.other_ms)
    })
}

fn pg(values: Option<[f64; 3]>) -> String {
    values.map_or("-".into(), |[commits, writes, syncs]| format!("{commits:.1} / {writes:.1} / {syncs:.1}"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".into(),
    }
}

/// The table: one row per figure, one column per storage, and the DESIGN.md target.
pub fn render(results: &[StorageResult], plan: &Plan) -> String {
    let mut rows: Vec<(String, Vec<String>, &str)> = Vec::new();
    let mut row = |name: &str, target: &'static str, cell: &dyn Fn(&StorageResult) -> String| {
        rows.push((name.to_string(), results.iter().map(cell).collect(), target));
    };
    row("start-up, first start on an empty database (ms)", "", &|r| ms(r.startup_first));
    row("start-up, restart (ms)", "< 500", &|r| ms(r.startup_restart));
    row("start-up, `worker` process (ms)", "", &|r| ms(r.startup_worker));
    row("RSS idle after start (MB)", "< 30", &|r| mb(r.rss_idle.map(|m| m.rss)));
    row("RSS idle: anonymous / file-backed (MB)", "", &|r| {
        format!("{} / {}", mb(r.rss_idle.map(|m| m.anon)), mb(r.rss_idle.map(|m| m.file)))
    });
    row("RSS peak, `serve` during W1 / W2 (MB)", "", &|r| format!("{} / {}", mb(r.rss_w1), mb(r.rss_w2)));
    row("RSS peak, `worker` draining W3, all runs in flight (MB)", "< 150", &|r| mb(r.rss_peak_worker));
    row("W1 one client: p50 / p95 / p99 (ms)", "p50 < 10", &|r| latency(&r.w1_one));
    row(
        "W1 one client, p50 of each part: POST sent → run row → step row → claimed → step done → run done (ms)",
        "",
        &|r| {
            r.w1_one
                .as_ref()
                .and_then(|l| l.breakdown)
                .map_or("-".into(), |b| b.iter().map(|v| format!("{v:.1}")).collect::<Vec<_>>().join(" / "))
        },
    );
    row("W1 saturation: runs/s", ">= 1000", &|r| saturation(&r.w1_saturation));
    row("W1 saturation: machine busy · CPU ms per run server / bench / rest", "", &|r| {
        cpu(r.w1_saturation.as_ref().map(|s| &s.cpu))
    });
    row("W1 saturation, PostgreSQL per run: transactions / rows written / WAL fsyncs", "", &|r| {
        pg(r.w1_saturation.as_ref().and_then(|s| s.pg_per_run))
    });
    row("W1 half load: offered runs/s", "", &|r| rate(r.w1_half.as_ref().map(|l| l.offered)));
    row("W1 half load: p50 / p95 / p99 (ms)", "p99 < 50", &|r| latency(&r.w1_half));
    row("W2 (10 nodes) one client: p50 / p95 / p99 (ms)", "", &|r| latency(&r.w2_one));
    row("W2 one client: p50 per node (ms)", "< 2", &|r| {
        r.w2_one.as_ref().map_or("-".into(), |l| format!("{:.1}", l.percentiles.p50 / 10.0))
    });
    row("W2 saturation: runs/s", "", &|r| saturation(&r.w2_saturation));
    row("W2 saturation: machine busy · CPU ms per run server / bench / rest", "", &|r| {
        cpu(r.w2_saturation.as_ref().map(|s| &s.cpu))
    });
    row("W2 half load: offered runs/s", "", &|r| rate(r.w2_half.as_ref().map(|l| l.offered)));
    row("W2 half load: p50 / p95 / p99 (ms)", "", &|r| latency(&r.w2_half));
    let queued = format!("W3 {} queued runs drained by a `worker`: steps/s", plan.queued_runs);
    row(&queued, "", &|r| {
        r.w3.as_ref().map_or("-".into(), |d| {
            let mut text = format!("{:.0}", d.steps_per_second);
            if d.unsuccessful > 0 {
                text.push_str(&format!(" ({} of {} unfinished)", d.unsuccessful, d.unsuccessful + d.succeeded));
            }
            text
        })
    });
    row("W3: steps the reconciler re-enqueued while they waited in the queue", "", &|r| {
        r.w3.as_ref().map_or("-".into(), |d| d.reenqueued.to_string())
    });
    row("W3: machine busy · CPU ms per step worker / bench / rest", "", &|r| cpu(r.w3.as_ref().map(|d| &d.cpu)));
    row("W3, PostgreSQL per step: transactions / rows written / WAL fsyncs", "", &|r| {
        pg(r.w3.as_ref().and_then(|d| d.pg_per_run))
    });
    row("W4 (a `map` of 100 calls, 10 at a time) one client: p50 / p95 / p99 of a run (ms)", "", &|r| {
        latency(&r.w4_one)
    });
    row("W4 one client: p50 per item (ms)", "", &|r| {
        r.w4_one.as_ref().map_or("-".into(), |l| format!("{:.2}", l.percentiles.p50 / 100.0))
    });
    row("W4 saturation: runs/s · items/s", "", &|r| {
        r.w4_saturation
            .as_ref()
            .map_or("-".into(), |s| format!("{:.1} · {:.0}", s.runs_per_second, s.runs_per_second * 100.0))
    });
    row("W4 saturation: machine busy · CPU ms per item server / bench / rest", "", &|r| {
        cpu(r
            .w4_saturation
            .as_ref()
            .map(|s| CpuUse {
                machine_busy: s.cpu.machine_busy,
                server_ms: s.cpu.server_ms / 100.0,
                bench_ms: s.cpu.bench_ms / 100.0,
                other_ms: s.cpu.other_ms / 100.0,
            })
            .as_ref())
    });
    row("one statement through the pool, p50: `SELECT 1` / committed INSERT (µs)", "", &|r| {
        r.round_trips.map_or("-".into(), |[select, insert]| format!("{select:.0} / {insert:.0}"))
    });
    let raw = format!("raw apalis, {} no-op jobs: jobs/s", plan.baseline_jobs);
    row(&raw, "", &|r| rate(r.raw_noop));
    let raw_write = format!("raw apalis, {} jobs with one committed INSERT: jobs/s", plan.baseline_jobs);
    row(&raw_write, "", &|r| rate(r.raw_write));
    row("W3 / raw no-op", ">= 0.8x", &|r| ratio(r.w3.as_ref().map(|d| d.steps_per_second), r.raw_noop));
    row("W3 / raw one-write", "", &|r| ratio(r.w3.as_ref().map(|d| d.steps_per_second), r.raw_write));
    row("W1 saturation / raw one-write", "", &|r| {
        ratio(r.w1_saturation.as_ref().map(|s| s.runs_per_second), r.raw_write)
    });

    let mut out = String::new();
    out.push_str("| figure |");
    for r in results {
        out.push_str(&format!(" {} |", r.label));
    }
    out.push_str(" target |\n|---|");
    for _ in results {
        out.push_str("---|");
    }
    out.push_str("---|\n");
    for (name, cells, target) in rows {
        out.push_str(&format!("| {name} | {} | {target} |\n", cells.join(" | ")));
    }
    for r in results {
        if let Some(e) = &r.error {
            out.push_str(&format!("\n{} stopped early: {e}\n", r.label));
        }
    }
    out
}
