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
