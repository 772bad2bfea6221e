//! Per-tenant request rates (issue #19, acceptance 3): a tenant over its rate gets 429
//! `rate_limited` with `Retry-After`, another tenant and the server admin are not held back, and
//! the tenant gets through again once its wait is over.

use std::time::Duration;

use bacon_tests::{Backend, app::spawn_app_with, wait};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_over_its_rate_gets_429_with_retry_after_and_others_do_not() {
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.http.tenant_requests_per_second = 2;
        c.http.tenant_burst = 3;
    })
    .await
    .expect("SQLite needs no set-up");
    let other = app.create_tenant("Other").await;
    let other_key = app.issue_key(&other, "viewer").await;

    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(app.get("/v1/flows", &app.tenant_key).await.status);
    }
    assert_eq!(&statuses[..3], [200, 200, 200], "the burst: {statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    let refused = app.get("/v1/flows", &app.tenant_key).await;
    refused.assert_problem(429, "rate_limited");
    let retry_after: u64 = refused.retry_after.as_deref().and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!((1..=2).contains(&retry_after), "Retry-After {retry_after}");

    assert_eq!(app.get("/v1/flows", &other_key).await.status, 200, "another tenant has its own rate");
    for _ in 0..10 {
        assert_eq!(app.get("/v1/tenants", &app.admin_key).await.status, 200, "the server admin is not limited");
    }
    wait::until("the tenant to get through again", Duration::from_secs(10), || async {
        (app.get("/v1/flows", &app.tenant_key).await.status == 200).then_some(())
    })
    .await;
}
