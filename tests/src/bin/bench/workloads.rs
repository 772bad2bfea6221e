//! The workloads of DESIGN.md section 7, driven over the REST API: one client in a loop,
//! saturation, a paced (open-loop) rate, and a queue filled for the workers to drain.
//!
//! Completion times are the runs' `finished_at`, stamped by the server in the transaction that
//! ends the run (just before its commit), read from the database after the phase; a run's
//! latency is that minus the moment the client sent its `POST .../runs` (same machine, same clock).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::{Mutex, Semaphore};

use crate::Plan;
use crate::client::{Api, PgCounters, Records, RunRecord, Timeline};
use crate::endpoint::Endpoint;
use crate::server::{MachineCpu, Server, process_cpu};
use crate::stats::Percentiles;

/// Runs in flight (submitted, their calls not yet answered) the saturation phase keeps at most:
/// enough that the workers (8 by default, fetching 20-50 jobs at a time) never wait for work, few
/// enough that the queue stays short (the longer the queue, the longer the ramp-up).
const SATURATION_BACKLOG: u64 = 128;
/// Concurrent `POST .../runs` requests at saturation.
const SATURATION_CLIENTS: usize = 16;
/// How long to wait for the runs of a phase to finish once submission stops.
const SETTLE_LIMIT: Duration = Duration::from_secs(60);

fn call(endpoint: &Endpoint, id: &str, body: Value) -> Value {
    json!({"id": id, "type": "plugin_action", "config": {
        "pluginId": "bacon-plugin-http", "actionName": "request",
        "payload": {"method": "POST", "url": format!("{}/{id}", endpoint.uri), "body": body}}})
}

/// Workload 1: trigger -> one HTTP call -> end.
pub fn one_action_graph(endpoint: &Endpoint) -> Value {
    json!({
        "nodes": [
            {"id": "start", "type": "trigger", "config": {}},
            call(endpoint, "call", json!({"n": "{{ input.n }}"})),
            {"id": "done", "type": "end", "config": {}}
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "call"},
            {"id": "e2", "source": "call", "target": "done"}
        ]
    })
}

/// Items of workload 4's `map`.
pub const MAP_ITEMS: u64 = 100;

/// Workload 4: a `map` of [`MAP_ITEMS`] items (its default concurrency, 10), one HTTP call per
/// item, then a transform that reads the 100 results.
pub fn map_graph(endpoint: &Endpoint) -> Value {
    json!({
        "nodes": [
            {"id": "start", "type": "trigger", "config": {}},
            {"id": "each", "type": "map", "config": {"items": format!("range({MAP_ITEMS}) | list"), "graph": {
                "nodes": [call(endpoint, "item", json!({"n": "{{ input.n }}", "item": "{{ item }}"}))]}}},
            {"id": "count", "type": "transform", "config": {"set": {"results": "{{ nodes.each.output.results | length }}"}}}
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "each"},
            {"id": "e2", "source": "each", "target": "count"}
        ]
    })
}

/// Workload 2: ten nodes: trigger, three HTTP calls, two conditions, three transforms, end.
pub fn ten_node_graph(endpoint: &Endpoint) -> Value {
    let transform = |id: &str, set: Value| json!({"id": id, "type": "transform", "config": {"set": set}});
    let condition =
        |id: &str, expression: &str| json!({"id": id, "type": "condition", "config": {"expression": expression}});
    json!({
        "nodes": [
            {"id": "start", "type": "trigger", "config": {}},
            call(endpoint, "a", json!({"n": "{{ input.n }}"})),
            condition("a_ok", "nodes.a.output.status == 200"),
            transform("set_a", json!({"orderId": "{{ input.n }}", "statusA": "{{ nodes.a.output.status }}"})),
            call(endpoint, "b", json!({"order": "{{ vars.orderId }}"})),
            condition("b_ok", "nodes.b.output.status == 200 and vars.statusA == 200"),
            transform("set_b", json!({"statusB": "{{ nodes.b.output.status }}"})),
            call(endpoint, "c", json!({"order": "{{ vars.orderId }}", "a": "{{ vars.statusA }}", "b": "{{ vars.statusB }}"})),
            transform("set_c", json!({"done": "{{ nodes.c.output.status == 200 }}"})),
            {"id": "done", "type": "end", "config": {}}
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "a"},
            {"id": "e2", "source": "a", "target": "a_ok"},
            {"id": "e3", "source": "a_ok", "target": "set_a", "when": "true"},
            {"id": "e4", "source": "set_a", "target": "b"},
            {"id": "e5", "source": "b", "target": "b_ok"},
            {"id": "e6", "source": "b_ok", "target": "set_b", "when": "true"},
            {"id": "e7", "source": "set_b", "target": "c"},
            {"id": "e8", "source": "c", "target": "set_c"},
            {"id": "e9", "source": "set_c", "target": "done"}
        ]
    })
}

/// Runs started by a phase: id -> when the client sent the request.
type Sent = Arc<Mutex<HashMap<String, DateTime<Utc>>>>;

/// Waits until no run of `flow` is running (or [`SETTLE_LIMIT`]) and returns the records.
async fn settle(records: &Records, flow: &str) -> anyhow::Result<Vec<RunRecord>> {
    let started = Instant::now();
    while records.running(flow).await? > 0 && started.elapsed() < SETTLE_LIMIT {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    records.runs(flow).await
}

/// Latencies (ms) of the finished runs in `sent`, and how many did not succeed.
fn latencies(runs: &[RunRecord], sent: &HashMap<String, DateTime<Utc>>) -> (Vec<f64>, usize) {
    let mut values = Vec::new();
    let mut unsuccessful = 0;
    for run in runs {
        let Some(at) = sent.get(&run.id) else { continue };
        match (&run.finished_at, run.status.as_str()) {
            (Some(done), "succeeded") => values.push((*done - *at).num_microseconds().unwrap_or(0) as f64 / 1000.0),
            _ => unsuccessful += 1,
        }
    }
    (values, unsuccessful)
}

/// Latency of a phase.
#[derive(Debug, Clone, Default)]
pub struct Latency {
    pub percentiles: Percentiles,
    /// For one-step flows, the median of each part of a run's latency (ms): request sent -> run
    /// row, -> step row, -> step claimed by a worker, -> step finished, -> run finished.
    pub breakdown: Option<[f64; 5]>,
    /// Runs started per second (offered).
    pub offered: f64,
    /// Runs that did not succeed (failed, or still running after the settle limit).
    pub unsuccessful: usize,
}

/// One client: start a run, wait until it is done (polling the database every millisecond),
/// start the next; for `duration`.
///
/// # Errors
/// API or database failures.
pub async fn one_client(api: &Api, records: &Records, flow: &str, duration: Duration) -> anyhow::Result<Latency> {
    let mut sent = HashMap::new();
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < duration {
        let at = Utc::now();
        let id = api.start_run(flow, n).await?;
        sent.insert(id.clone(), at);
        let waiting = Instant::now();
        while records.status(&id).await? == "running" && waiting.elapsed() < SETTLE_LIMIT {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        n += 1;
    }
    let runs = records.runs(flow).await?;
    let (values, unsuccessful) = latencies(&runs, &sent);
    let breakdown = breakdown(&records.timelines(flow).await?, &sent);
    Ok(Latency {
        percentiles: Percentiles::of(values),
        breakdown,
        offered: n as f64 / duration.as_secs_f64(),
        unsuccessful,
    })
}

/// The median of each part of one-step runs' latency; `None` for flows of several steps.
fn breakdown(timelines: &[Timeline], sent: &HashMap<String, DateTime<Utc>>) -> Option<[f64; 5]> {
    let ms = |from: DateTime<Utc>, to: DateTime<Utc>| (to - from).num_microseconds().unwrap_or(0) as f64 / 1000.0;
    let mut parts: [Vec<f64>; 5] = Default::default();
    let mut runs = HashMap::new();
    for t in timelines {
        *runs.entry(t.run_id.as_str()).or_insert(0) += 1;
    }
    for t in timelines {
        let (Some(at), Some(started), Some(finished), Some(ended)) =
            (sent.get(&t.run_id), t.step_started, t.step_finished, t.run_finished)
        else {
            continue;
        };
        if runs[t.run_id.as_str()] != 1 {
            return None;
        }
        let stamps = [*at, t.run_created, t.step_created, started, finished, ended];
        for (i, part) in parts.iter_mut().enumerate() {
            part.push(ms(stamps[i], stamps[i + 1]));
        }
    }
    if parts[0].is_empty() {
        return None;
    }
    Some(parts.map(|p| Percentiles::of(p).p50))
}

/// Where the CPU went during a measured window, per completed run.
#[derive(Debug, Clone, Default)]
pub struct CpuUse {
    /// Busy share of the whole machine (all cores), 0..=1.
    pub machine_busy: f64,
    /// CPU milliseconds per completed run: the server process, this benchmark (client and
    /// loopback endpoint), and everything else (PostgreSQL, the kernel's work for others, other users).
    pub server_ms: f64,
    pub bench_ms: f64,
    pub other_ms: f64,
}

/// Counters read at the start and end of a measured window.
#[derive(Clone, Copy)]
struct Snapshot {
    machine: MachineCpu,
    server: Duration,
    bench: Duration,
    pg: Option<PgCounters>,
}

impl Snapshot {
    async fn take(server_pid: u32, records: &Records) -> Self {
        Self {
            machine: MachineCpu::now(),
            server: process_cpu(server_pid),
            bench: process_cpu(std::process::id()),
            pg: records.pg_counters().await.ok().flatten(),
        }
    }

    fn cpu_per_run(&self, later: &Self, runs: f64) -> CpuUse {
        let runs = runs.max(1.0);
        let ms = |d: Duration| d.as_secs_f64() * 1000.0 / runs;
        let server = later.server.saturating_sub(self.server);
        let bench = later.bench.saturating_sub(self.bench);
        let machine = self.machine.busy_time(later.machine);
        CpuUse {
            machine_busy: self.machine.busy_share(later.machine),
            server_ms: ms(server),
            bench_ms: ms(bench),
            other_ms: ms(machine.saturating_sub(server + bench)),
        }
    }
}

/// The server under test and the ways to reach it.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub api: &'a Api,
    pub records: &'a Records,
    pub server: &'a Server,
    pub endpoint: &'a Endpoint,
}

/// Throughput at saturation.
#[derive(Debug, Clone, Default)]
pub struct Saturation {
    pub runs_per_second: f64,
    pub unsuccessful: usize,
    pub cpu: CpuUse,
    /// PostgreSQL per completed run: transactions, rows written, WAL fsyncs.
    pub pg_per_run: Option<[f64; 3]>,
}

/// Keeps the server saturated for `duration`: [`SATURATION_CLIENTS`] clients start runs as fast
/// as the API answers while fewer than [`SATURATION_BACKLOG`] runs wait for their calls. Counts
/// the steps that finished between `warmup` and `duration`, divided by the steps per run.
///
/// # Errors
/// API or database failures.
pub async fn saturate(target: &Target<'_>, flow: &str, calls_per_run: u64, plan: &Plan) -> anyhow::Result<Saturation> {
    let Target { api, records, server, endpoint } = *target;
    let (duration, warmup) = (plan.saturation, plan.warmup);
    let submitted = Arc::new(AtomicU64::new(0));
    let hits_before = endpoint.hits();
    let started = Instant::now();
    let window_start = Utc::now() + chrono::Duration::from_std(warmup)?;
    let window_end = Utc::now() + chrono::Duration::from_std(duration)?;
    let mut clients = Vec::new();
    for client in 0..SATURATION_CLIENTS {
        let (api, flow, submitted, hits) = (api.clone(), flow.to_string(), submitted.clone(), endpoint.hits_handle());
        clients.push(tokio::spawn(async move {
            let mut n = client as u64;
            while started.elapsed() < duration {
                let done = (hits.load(Ordering::Relaxed) - hits_before) / calls_per_run;
                if submitted.load(Ordering::Relaxed).saturating_sub(done) >= SATURATION_BACKLOG {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                }
                submitted.fetch_add(1, Ordering::Relaxed);
                api.start_run(&flow, n).await?;
                n += SATURATION_CLIENTS as u64;
            }
            anyhow::Ok(())
        }));
    }
    tokio::time::sleep(warmup).await;
    let first = Snapshot::take(server.pid, records).await;
    tokio::time::sleep(duration.saturating_sub(started.elapsed())).await;
    let last = Snapshot::take(server.pid, records).await;
    for client in clients {
        client.await??;
    }
    let runs = settle(records, flow).await?;
    let unsuccessful = runs.iter().filter(|r| r.status != "succeeded").count();
    // Steps finished in the window, not runs: a run started before the window may finish in it,
    // and while the queue fills, fewer runs finish than steps do.
    let steps = records.steps_finished(flow).await?;
    let in_window =
        steps.iter().filter(|at| **at >= window_start && **at < window_end).count() as f64 / calls_per_run as f64;
    let seconds = (window_end - window_start).num_milliseconds() as f64 / 1000.0;
    Ok(Saturation {
        runs_per_second: in_window / seconds,
        unsuccessful,
        cpu: first.cpu_per_run(&last, in_window),
        pg_per_run: first.pg.zip(last.pg).map(|(a, b)| a.per_run(b, in_window)),
    })
}

/// Open loop: starts `rate` runs per second, on schedule whatever the answers, for `duration`.
///
/// # Errors
/// API or database failures.
pub async fn paced(api: &Api, records: &Records, flow: &str, rate: f64, duration: Duration) -> anyhow::Result<Latency> {
    let sent: Sent = Arc::default();
    let in_flight = Arc::new(Semaphore::new(512));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1.0)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut tasks = Vec::new();
    let mut n = 0;
    while started.elapsed() < duration {
        tick.tick().await;
        let permit = in_flight.clone().acquire_owned().await?;
        let (api, flow, sent) = (api.clone(), flow.to_string(), sent.clone());
        tasks.push(tokio::spawn(async move {
            let at = Utc::now();
            let id = api.start_run(&flow, n).await?;
            sent.lock().await.insert(id, at);
            drop(permit);
            anyhow::Ok(())
        }));
        n += 1;
    }
    for task in tasks {
        task.await??;
    }
    let runs = settle(records, flow).await?;
    let sent = sent.lock().await;
    let (values, unsuccessful) = latencies(&runs, &sent);
    Ok(Latency {
        percentiles: Percentiles::of(values),
        breakdown: None,
        offered: n as f64 / duration.as_secs_f64(),
        unsuccessful,
    })
}

/// Starts `count` runs as fast as the API takes them (32 at a time) and returns how long it took.
///
/// # Errors
/// API failures.
pub async fn fill(api: &Api, flow: &str, count: u64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for _ in 0..32 {
        let (api, flow, next) = (api.clone(), flow.to_string(), next.clone());
        clients.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    return anyhow::Ok(());
                }
                api.start_run(&flow, n).await?;
            }
        }));
    }
    for client in clients {
        client.await??;
    }
    Ok(started.elapsed())
}

/// Workload 3's result.
#[derive(Debug, Clone, Default)]
pub struct Drain {
    pub steps_per_second: f64,
    /// Duplicate jobs the reconciler added while the queue drained.
    pub reenqueued: u64,
    pub succeeded: usize,
    pub unsuccessful: usize,
    pub cpu: CpuUse,
    pub pg_per_run: Option<[f64; 3]>,
}

/// Waits (at most `limit`) for a worker process to finish every queued run of `flow`; the rate
/// counts from the first step's claim to the last run's end.
///
/// # Errors
/// Database failures.
pub async fn drain(records: &Records, worker: &Server, flow: &str, limit: Duration) -> anyhow::Result<Drain> {
    let first = Snapshot::take(worker.pid, records).await;
    let started = Instant::now();
    while records.running(flow).await? > 0 && started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = Snapshot::take(worker.pid, records).await;
    let runs = records.runs(flow).await?;
    let succeeded: Vec<&RunRecord> = runs.iter().filter(|r| r.status == "succeeded").collect();
    let begin = records.first_step_started(flow).await?;
    let end = succeeded.iter().filter_map(|r| r.finished_at).max();
    let seconds = match (begin, end) {
        (Some(b), Some(e)) => (e - b).num_microseconds().unwrap_or(0) as f64 / 1e6,
        _ => 0.0,
    };
    Ok(Drain {
        steps_per_second: if seconds > 0.0 { succeeded.len() as f64 / seconds } else { 0.0 },
        reenqueued: worker.reenqueued_by_reconciler(),
        succeeded: succeeded.len(),
        unsuccessful: runs.len() - succeeded.len(),
        cpu: first.cpu_per_run(&last, succeeded.len() as f64),
        pg_per_run: first.pg.zip(last.pg).map(|(a, b)| a.per_run(b, succeeded.len() as f64)),
    })
}
