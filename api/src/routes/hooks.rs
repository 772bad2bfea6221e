//! `POST /hooks/{hookId}`: where vendors deliver webhooks (no bearer key: the plugin verifies the
//! delivery's signature over the raw body, headers and public URL before anything else).
//!
//! A verified delivery is stored in the inbox once per delivery id and acknowledged at once (with
//! the body the vendor expects, such as TwiML); its flow's run starts right after, off the request.
//! A refused delivery answers 401 and stores nothing but a metric.
//!
//! A `respond: "sync"` webhook trigger holds the request instead: once its run has started, the
//! caller gets what the run's `respond` node renders, or 202 with the run id when the
//! trigger's `respondTimeoutMs` passes first (`bacon_engine::inbound::Inbound::answer`).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bacon_engine::inbound::{ReceiveError, SyncAnswer, hook_url};
use bacon_engine::runs::status::RunStatus;
use bacon_plugin_sdk::trigger::InboundRequest;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::ApiError;
use crate::extract::BodyLimit;
use crate::metrics::InboundLabels;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(receive_hook))
}

/// The answer to a delivery when the vendor expects no particular body.
#[derive(Debug, Serialize, ToSchema)]
pub struct HookReceipt {
    /// `accepted`; `duplicate` (a delivery id seen before: acknowledged and ignored); or `ignored`
    /// (authentic, but holding no event for this trigger, such as a HubSpot batch of other
    /// subscription types: acknowledged so the vendor stops retrying, nothing started).
    pub status: String,
}

fn count(state: &AppState, plugin: &str, outcome: &str) {
    state.metrics.inbound.get_or_create(&InboundLabels { plugin: plugin.into(), outcome: outcome.into() }).inc();
}

/// What a synchronous webhook's run left for its caller to see when it did not respond.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HookRunStatus {
    /// The delivery's run (absent when it could not start yet: the tenant's start rate).
    pub run_id: Option<String>,
    /// `running` (the timeout passed first: 202), `succeeded`, `failed` or `cancelled`.
    pub status: String,
}

/// The HTTP answer of a synchronous webhook: the `respond` node's status, headers and body (a
/// string body as text, anything else as JSON), with `X-Bacon-Run-Id`.
fn sync_answer(answer: SyncAnswer) -> Response {
    let (run_id, mut response) = match answer {
        SyncAnswer::Responded { run_id, response } => {
            let status = response["status"].as_u64().and_then(|s| StatusCode::from_u16(s as u16).ok());
            let mut out = match &response["body"] {
                Value::String(text) => {
                    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text.clone()).into_response()
                }
                body => axum::Json(body.clone()).into_response(),
            };
            *out.status_mut() = status.unwrap_or(StatusCode::OK);
            for (name, value) in response["headers"].as_object().into_iter().flatten() {
                if let (Ok(name), Some(Ok(value))) =
                    (header::HeaderName::from_bytes(name.as_bytes()), value.as_str().map(HeaderValue::from_str))
                {
                    out.headers_mut().insert(name, value);
                }
            }
            (Some(run_id), out)
        }
        SyncAnswer::Ended(run) => {
            let status =
                if run.status == RunStatus::Succeeded { StatusCode::OK } else { StatusCode::INTERNAL_SERVER_ERROR };
            let body = HookRunStatus { run_id: Some(run.id.clone()), status: run.status.to_string() };
            (Some(run.id), (status, axum::Json(body)).into_response())
        }
        SyncAnswer::Pending { run_id } => {
            let body = HookRunStatus { run_id: run_id.clone(), status: RunStatus::Running.to_string() };
            (run_id, (StatusCode::ACCEPTED, axum::Json(body)).into_response())
        }
    };
    if let Some(value) = run_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        response.headers_mut().insert("x-bacon-run-id", value);
    }
    response
}

/// Receive a webhook delivery for an activated flow.
#[utoipa::path(post, path = "/hooks/{hookId}", tag = "inbound", operation_id = "receive_hook",
    params(("hookId" = String, Path, description = "The hook id issued when the flow was activated")),
    request_body(content = String, content_type = "*/*",
        description = "The vendor's raw body (JSON, form or XML), exactly as signed"),
    responses(
        (status = 200, description = "Accepted, a duplicate, or ignored (no event for this trigger); the vendor's expected acknowledgement (TwiML, a SOAP ack) when it has one. A `respond: \"sync\"` webhook answers with its run's `respond` node instead (its status, headers and body, and `X-Bacon-Run-Id`), or with `HookRunStatus` when the run ended without one (500 when it failed)", body = HookReceipt),
        (status = 202, description = "A `respond: \"sync\"` webhook whose run did not answer within `respondTimeoutMs`: the run goes on", body = HookRunStatus),
        (status = 401, description = "The delivery failed verification (`delivery_refused`) or was signed more than 5 minutes from now (`delivery_expired`); nothing was stored",
            body = crate::error::Problem, content_type = "application/problem+json")))]
pub async fn receive_hook(
    State(state): State<AppState>,
    Extension(limit): Extension<BodyLimit>,
    Path(hook_id): Path<String>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge { limit: limit.0 }
        } else {
            ApiError::BadRequest { code: "unreadable_body", detail: rejection.body_text() }
        }
    })?;
    let mut url = hook_url(&state.public_url, &hook_id);
    if let Some(query) = query {
        url = format!("{url}?{query}");
    }
    let request = InboundRequest {
        method: method.to_string(),
        url,
        headers: headers
            .iter()
            .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_ascii_lowercase(), v.to_string())))
            .collect(),
        body: body.to_vec(),
    };
    let receipt = state.inbound.receive(&hook_id, request).await.inspect_err(|e| {
        if let ReceiveError::Refused { plugin_id, reason } = e {
            count(&state, plugin_id, "refused");
            tracing::warn!(hook.id = %hook_id, reason = %reason, "A webhook delivery was refused.");
        }
    })?;
    let status = receipt.disposition.as_str();
    count(&state, &receipt.plugin_id, status);
    if let Some(delivery) = &receipt.sync {
        // Within the server's request timeout, so a slow flow still gets its 202.
        return Ok(sync_answer(state.inbound.answer(delivery, state.invoke_deadline).await?));
    }
    // Nothing more to do here: the delivery's work item committed with it; a worker starts its run.
    Ok(match receipt.acknowledgement {
        Some((content_type, bytes)) => {
            let mut response = (StatusCode::OK, bytes).into_response();
            if let Ok(value) = HeaderValue::from_str(&content_type) {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            response
        }
        None => (StatusCode::OK, axum::Json(HookReceipt { status: status.into() })).into_response(),
    })
}
