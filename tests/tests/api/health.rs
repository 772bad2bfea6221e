use bacon_tests::{TestApp, db_test};

db_test!(
    async fn health_readiness_and_metrics(app) {
        let health = app.call("GET", "/healthz", None, None).await;
        assert_eq!(health.status, 200);
        assert_eq!(health.json["status"], "ok");

        let ready = app.call("GET", "/readyz", None, None).await;
        assert_eq!(ready.status, 200, "{}", ready.text);
        let expected = match app.backend {
            bacon_tests::Backend::Sqlite => "sqlite",
            bacon_tests::Backend::Postgres => "postgres",
        };
        assert_eq!(ready.json["database"], expected);

        let metrics = app.call("GET", "/metrics", None, None).await;
        assert_eq!(metrics.status, 200);
        assert!(metrics.content_type.starts_with("application/openmetrics-text"));
        assert!(
            metrics.text.contains("bacon_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"} 1"),
            "{}",
            metrics.text
        );
        let _: &TestApp = &app;
    }
);

db_test!(
    async fn unknown_routes_and_methods_are_problems(app) {
        app.call("GET", "/v1/nothing-here", None, None).await.assert_problem(404, "route_not_found");
        app.call("PATCH", "/v1/bots", Some(&app.tenant_key), None).await.assert_problem(405, "method_not_allowed");
    }
);

/// A SQLite server whose data directory is deleted under it is not ready: its connections would
/// go on writing to the unlinked file, and everything would be lost at the next restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_server_whose_database_file_vanished_is_not_ready() {
    let app = bacon_tests::spawn_app(bacon_tests::Backend::Sqlite).await.unwrap();
    assert_eq!(app.call("GET", "/readyz", None, None).await.status, 200);
    let file = app.database_url.trim_start_matches("sqlite://").to_string();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{file}{suffix}"));
    }
    app.call("GET", "/readyz", None, None).await.assert_problem(503, "database_unreachable");
}
