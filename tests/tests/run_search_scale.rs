//! Run search over 100,000 runs (issue #19, acceptance 4): a measurement, not a test of speed.
//! It seeds 100,000 runs over 100 days straight into the database (one tenant, two flows, one
//! in ten failed, one in three started by a webhook), then times `GET /v1/runs` for the newest
//! page, a one-day range, and that day's failed runs, one flow's, an error text's and the
//! webhook-started ones, each the median of 5 calls.
//! It asserts what the queries return, never how long they take.
//!
//! `cargo test -p bacon-tests --test run_search_scale -- --ignored --nocapture` (set
//! `BACON_TEST_POSTGRES_URL` for PostgreSQL too); debug builds, so the API's share is inflated.
#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

use std::time::{Duration, Instant};

use bacon_tests::{Backend, TestApp};
use sea_orm::{ActiveValue::Set, Database, EntityTrait};
use serde_json::json;

const RUNS: u64 = 100_000;
const DAYS: i64 = 100;

async fn flow(app: &TestApp, name: &str) -> String {
    let graph = json!({"nodes": [{"id": "t", "type": "trigger", "config": {}}, {"id": "x", "type": "end", "config": {}}],
        "edges": [{"id": "e", "source": "t", "target": "x"}]});
    let reply = app.post("/v1/flows", &app.tenant_key, json!({"name": name, "graph": graph})).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.json["id"].as_str().unwrap().to_string()
}

async fn seed(app: &TestApp, flows: &[String]) -> chrono::DateTime<chrono::Utc> {
    let db = Database::connect(&app.database_url).await.unwrap();
    let start = chrono::Utc::now() - chrono::Duration::days(DAYS);
    let step_ms = (DAYS * 86_400_000) / RUNS as i64;
    for batch in 0..RUNS / 1000 {
        let rows = (0..1000).map(|i| {
            let n = batch * 1000 + i;
            let at = start + chrono::Duration::milliseconds(n as i64 * step_ms);
            let id = ulid::Ulid::from_parts(at.timestamp_millis() as u64, u128::from(n)).to_string();
            let failed = n % 10 == 0;
            bacon_entities::runs::ActiveModel {
                id: Set(format!("run_{id}")),
                tenant_id: Set(app.tenant_id.clone()),
                flow_id: Set(flows[(n % 2) as usize].clone()),
                flow_version: Set(1),
                bot_id: Set(None),
                status: Set(if failed { "failed" } else { "succeeded" }.into()),
                idempotency_key: Set(None),
                input: Set(json!({"n": n})),
                trigger: Set(None),
                vars: Set(json!({})),
                error: Set(failed.then(|| json!({"message": format!("vendor said no to order {n}")}))),
                created_at: Set(at),
                updated_at: Set(at),
                started_at: Set(Some(at)),
                finished_at: Set(Some(at)),
                trigger_kind: Set(Some(if n % 3 == 0 { "webhook" } else { "manual" }.into())),
                parent_run_id: Set(None),
                parent_step_id: Set(None),
                response: Set(None),
                deadline_at: Set(None),
            }
        });
        bacon_entities::runs::Entity::insert_many(rows).exec_without_returning(&db).await.unwrap();
    }
    start
}

/// The median time of 5 calls of `query`, and the last answer's item count.
async fn timed(app: &TestApp, query: &str) -> (Duration, usize) {
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..5 {
        let started = Instant::now();
        let reply = app.get(&format!("/v1/runs?{query}"), &app.tenant_key).await;
        times.push(started.elapsed());
        assert_eq!(reply.status, 200, "{query}: {}", reply.text);
        count = reply.json["items"].as_array().unwrap().len();
    }
    times.sort();
    (times[2], count)
}

async fn measure(backend: Backend) {
    let Some(app) = bacon_tests::spawn_app(backend).await else {
        return bacon_tests::postgres::print_skip("run_search_scale::postgres");
    };
    let flows = vec![flow(&app, "a").await, flow(&app, "b").await];
    let seeding = Instant::now();
    let start = seed(&app, &flows).await;
    println!("{backend:?}: seeded {RUNS} runs in {:?}", seeding.elapsed());
    let stamp = |days: i64| {
        (start + chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true).replace('+', "%2B")
    };
    let day = format!("since={}&until={}", stamp(50), stamp(51));
    let queries = [
        ("newest page (limit 50)", "limit=50".to_string()),
        ("one day", format!("{day}&limit=100")),
        ("one day, failed", format!("{day}&status=failed&limit=100")),
        ("one day, one flow", format!("{day}&flowId={}&limit=100", flows[0])),
        ("error text, one day", format!("{day}&error=order%2050&limit=100")),
        ("one day, by webhook", format!("{day}&triggerKind=webhook&limit=100")),
        ("oldest first, whole range", "order=oldest&limit=100".to_string()),
    ];
    for (name, query) in queries {
        let (median, count) = timed(&app, &query).await;
        assert!(count > 0, "{name}: nothing found");
        println!("{backend:?}: {name}: median {median:?} for {count} runs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run it with --ignored --nocapture"]
async fn search_over_100000_runs() {
    measure(Backend::Sqlite).await;
    measure(Backend::Postgres).await;
}
