//! find_contact, create_case and query: the exact requests Salesforce receives, and its errors.

use std::time::Duration;

use bacon_plugin_salesforce::definition;
use bacon_plugin_sdk::testing::run_action;
use bacon_plugin_sdk::testing::wiremock::matchers::{body_json, header, method, path, query_param};
use bacon_plugin_sdk::testing::wiremock::{Mock, ResponseTemplate};
use serde_json::json;

use crate::support::{TOKEN, contact_record, mount_token, page, settings, start};

const CONTACT_SOQL_HEAD: &str =
    "SELECT Id, FirstName, LastName, Email, Phone, AccountId, Account.Name FROM Contact WHERE Email = ";
const CONTACT_SOQL_TAIL: &str = " ORDER BY LastModifiedDate DESC LIMIT 1";

#[tokio::test]
async fn find_contact_sends_one_soql_query_and_parses_the_contact() {
    let server = start().await;
    mount_token(&server, TOKEN, 1).await;
    Mock::given(method("GET"))
        .and(path("/services/data/v62.0/query"))
        .and(query_param("q", format!("{CONTACT_SOQL_HEAD}'john@example.com'{CONTACT_SOQL_TAIL}")))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(vec![contact_record()], 1, None)))
        .expect(1)
        .mount(&server)
        .await;
    let out = run_action(
        &definition(),
        "find_contact",
        settings(&server),
        &server.uri(),
        json!({"email": "john@example.com"}),
    )
    .await
    .unwrap();
    assert_eq!(
        out,
        json!({"found": true, "contact": {
            "id": "003RO0000035WQgYAM", "firstName": "John", "lastName": "Smith", "email": "john@example.com",
            "phone": "+1 415 555 0100", "accountId": "001RO000001abcdIAA", "accountName": "Acme Corp"
        }})
    );
}

/// Acceptance 3: quotes, backslashes and `' OR Id != '` stay inside one literal. The expected
/// SOQL is written out by hand, not computed by the code under test.
#[tokio::test]
async fn find_contact_escapes_every_input_into_one_literal() {
    let cases = [
        ("o'brien@example.com", r"'o\'brien@example.com'"),
        (r"back\slash@example.com", r"'back\\slash@example.com'"),
        ("' OR Id != '", r"'\' OR Id != \''"),
        (r"x\' OR Id != '", r"'x\\\' OR Id != \''"),
        ("a\"b\nc@example.com", r#"'a\"b\nc@example.com'"#),
    ];
    let server = start().await;
    mount_token(&server, TOKEN, 1).await;
    for (_, literal) in cases {
        Mock::given(method("GET"))
            .and(path("/services/data/v62.0/query"))
            .and(query_param("q", format!("{CONTACT_SOQL_HEAD}{literal}{CONTACT_SOQL_TAIL}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(page(vec![], 0, None)))
            .expect(1)
            .mount(&server)
            .await;
    }
    for (email, _) in cases {
        let out = run_action(&definition(), "find_contact", settings(&server), &server.uri(), json!({"email": email}))
            .await
            .unwrap();
        assert_eq!(out, json!({"found": false, "contact": null}), "{email}");
    }
}

#[tokio::test]
async fn create_case_posts_the_record_and_returns_its_id() {
    let server = start().await;
    mount_token(&server, TOKEN, 1).await;
    Mock::given(method("POST"))
        .and(path("/services/data/v62.0/sobjects/Case/"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "Subject": "Order 1001 arrived damaged",
            "Description": "The box was crushed.",
            "ContactId": "003RO0000035WQgYAM",
            "Origin": "Web",
            "Status": "New",
            "Product__c": "GC1040"
        })))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": "500RO00000AbCdEYAV", "success": true, "errors": []})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let out = run_action(
        &definition(),
        "create_case",
        settings(&server),
        &server.uri(),
        json!({
            "subject": "Order 1001 arrived damaged",
            "description": "The box was crushed.",
            "contactId": "003RO0000035WQgYAM",
            "origin": "Web",
            "status": "New",
            "fields": {"Product__c": "GC1040"}
        }),
    )
    .await
    .unwrap();
    assert_eq!(out, json!({"id": "500RO00000AbCdEYAV", "success": true}));
}

#[tokio::test]
async fn create_case_reports_salesforce_validation_errors() {
    let server = start().await;
    mount_token(&server, TOKEN, 1).await;
    Mock::given(method("POST"))
        .and(path("/services/data/v62.0/sobjects/Case/"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!([{
            "message": "Status: bad value for restricted picklist field: Nope",
            "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "fields": ["Status"]
        }])))
        .expect(1)
        .mount(&server)
        .await;
    let err = run_action(
        &definition(),
        "create_case",
        settings(&server),
        &server.uri(),
        json!({"subject": "x", "status": "Nope"}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), "invalid_input");
    assert_eq!(
        err.message(),
        "Salesforce answered 400 INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: \
         Status: bad value for restricted picklist field: Nope (fields: Status)"
    );
}

#[tokio::test]
async fn query_binds_params_and_follows_next_records_url() {
    let server = start().await;
    mount_token(&server, TOKEN, 1).await;
    let next = "/services/data/v62.0/query/01gRO0000016PIAYA2-2";
    Mock::given(method("GET"))
        .and(path("/services/data/v62.0/query"))
        .and(query_param(
            "q",
            r"SELECT Id, Subject FROM Case WHERE Subject = 'it\'s broken' AND Status IN ('New', 'Working')",
        ))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            vec![json!({"Id": "500A", "Subject": "it's broken"}), json!({"Id": "500B", "Subject": "it's broken"})],
            3,
            Some(next),
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(next))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            vec![json!({"Id": "500C", "Subject": "it's broken"})],
            3,
            None,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let out = run_action(
        &definition(),
        "query",
        settings(&server),
        &server.uri(),
        json!({
            "soql": "SELECT Id, Subject FROM Case WHERE Subject = :subject AND Status IN :statuses",
            "params": {"subject": "it's broken", "statuses": ["New", "Working"]}
        }),
    )
    .await
    .unwrap();
    assert_eq!(out["totalSize"], 3);
    assert_eq!(out["truncated"], false);
    let ids: Vec<&str> = out["records"].as_array().unwrap().iter().map(|r| r["Id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["500A", "500B", "500C"]);
}

#[tokio::test]
async fn query_stops_at_max_records() {
    let server = start().await;
    mount_token(&server, TOKEN, 1).await;
    let (second, third) = ("/services/data/v62.0/query/01gX-2", "/services/data/v62.0/query/01gX-4");
    Mock::given(path("/services/data/v62.0/query"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            vec![json!({"Id": "1"}), json!({"Id": "2"})],
            6,
            Some(second),
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path(second))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            vec![json!({"Id": "3"}), json!({"Id": "4"})],
            6,
            Some(third),
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path(third)).respond_with(ResponseTemplate::new(500)).expect(0).mount(&server).await;
    let out = run_action(
        &definition(),
        "query",
        settings(&server),
        &server.uri(),
        json!({"soql": "SELECT Id FROM Account", "maxRecords": 3}),
    )
    .await
    .unwrap();
    assert_eq!(out["records"], json!([{"Id": "1"}, {"Id": "2"}, {"Id": "3"}]));
    assert_eq!(out["truncated"], true);
    assert_eq!(out["totalSize"], 6);
}

#[tokio::test]
async fn a_malformed_query_is_invalid_input_with_salesforce_s_message() {
    let server = start().await;
    mount_token(&server, TOKEN, 1).await;
    Mock::given(path("/services/data/v62.0/query"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!([{
            "message": "\nSELECT Id FORM Account\n          ^\nERROR at Row:1:Column:11\nunexpected token: FORM",
            "errorCode": "MALFORMED_QUERY"
        }])))
        .expect(1)
        .mount(&server)
        .await;
    let err =
        run_action(&definition(), "query", settings(&server), &server.uri(), json!({"soql": "SELECT Id FORM Account"}))
            .await
            .unwrap_err();
    assert_eq!(err.kind(), "invalid_input");
    assert!(err.message().starts_with("Salesforce answered 400 MALFORMED_QUERY:"), "{err}");
    assert!(err.message().contains("unexpected token: FORM"), "{err}");
}

#[tokio::test]
async fn a_missing_param_is_refused_before_any_request() {
    let server = start().await;
    mount_token(&server, TOKEN, 0).await;
    let err = run_action(
        &definition(),
        "query",
        settings(&server),
        &server.uri(),
        json!({"soql": "SELECT Id FROM Contact WHERE Email = :email"}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), "invalid_input");
    assert!(err.message().contains("`:email`"), "{err}");
}

#[tokio::test]
async fn request_limit_exceeded_is_rate_limited() {
    let server = start().await;
    mount_token(&server, TOKEN, 1).await;
    Mock::given(path("/services/data/v62.0/query"))
        .respond_with(
            ResponseTemplate::new(403).insert_header("sforce-limit-info", "api-usage=100001/100000").set_body_json(
                json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = run_action(&definition(), "find_contact", settings(&server), &server.uri(), json!({"email": "a@b.com"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "rate_limited");
    assert!(err.is_retryable());
    assert_eq!(err.message(), "Salesforce answered 403 REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.");
}

#[tokio::test]
async fn a_429_with_retry_after_is_rate_limited_for_that_long() {
    let server = start().await;
    mount_token(&server, TOKEN, 1).await;
    Mock::given(path("/services/data/v62.0/sobjects/Case/"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "7")
                .set_body_json(json!([{"message": "Too many requests", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = run_action(&definition(), "create_case", settings(&server), &server.uri(), json!({"subject": "x"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "rate_limited");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
}
