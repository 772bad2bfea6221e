//! Every engine error as an [`ApiError`]: one `From` per error type, so handlers only use `?`.
//!
//! To add one: write its `From` here, mapping each variant to the status and stable code a
//! client should see; a database that is down or busy is always `database_unreachable`.

use bacon_engine::StoreError;
use bacon_engine::inbound::{ActivationError, ReceiveError};
use bacon_engine::plugins::registry::InvokeError;
use bacon_engine::plugins::settings::{FieldProblem, SettingsError};
use bacon_engine::plugins::triggers::TriggerError;
use bacon_engine::runs::engine::RunError;
use bacon_engine::work::QueueError;
use bacon_plugin_sdk::trigger::VerifyError;

use super::{ApiError, FieldError, RateLimit};

impl ApiError {
    /// A 422 listing engine validation `problems`, their pointers prefixed with `prefix` (the
    /// place of the validated value in the request body, `""` for the whole body).
    pub fn from_problems(detail: impl Into<String>, prefix: &str, problems: Vec<FieldProblem>) -> Self {
        let errors =
            problems.into_iter().map(|p| FieldError::new(format!("{prefix}{}", p.pointer), p.message)).collect();
        Self::Validation { detail: detail.into(), errors }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound { kind, id } => Self::NotFound { kind, id },
            StoreError::Conflict { kind } => {
                Self::Conflict { code: "conflict", detail: format!("{kind} conflicts with an existing one") }
            }
            StoreError::Stale { kind, expected, current } => Self::PreconditionFailed {
                detail: format!(
                    "the {kind} is at version {current}, not {expected}: fetch it again and reapply your change"
                ),
            },
            StoreError::Database(e) if bacon_engine::error::database_unavailable(&e) => {
                Self::DatabaseUnreachable(Some(e))
            }
            StoreError::Database(e) => Self::internal(e),
        }
    }
}

impl From<QueueError> for ApiError {
    fn from(err: QueueError) -> Self {
        match err {
            QueueError::Database(e) if bacon_engine::error::database_unavailable(&e) => {
                Self::DatabaseUnreachable(Some(e))
            }
            other => Self::internal(other),
        }
    }
}

impl From<RunError> for ApiError {
    fn from(err: RunError) -> Self {
        match err {
            RunError::Store(s) => s.into(),
            RunError::Queue(q) => q.into(),
            RunError::WrongState { .. } => Self::Conflict { code: "invalid_run_state", detail: err.to_string() },
            RunError::NotWaiting(_) => Self::Conflict { code: "not_waiting", detail: err.to_string() },
            RunError::BadGraph(_) => Self::internal(err),
            RunError::TooManyStarts { retry_after } => RateLimit::RunStarts.exceeded(retry_after),
        }
    }
}

impl From<SettingsError> for ApiError {
    fn from(err: SettingsError) -> Self {
        match err {
            SettingsError::Invalid(problems) => {
                Self::from_problems("the settings do not match the plugin's settings schema", "", problems)
            }
            SettingsError::Secret { field, .. } => Self::validation(format!("/{field}"), "the secret cannot be stored"),
            SettingsError::Store(s) => s.into(),
        }
    }
}

/// A call that could not be made. A call made and failed is not an error of the request: the
/// invoke and test-connection routes report it in a 200 body, and only convert the rest.
impl From<InvokeError> for ApiError {
    fn from(err: InvokeError) -> Self {
        match err {
            InvokeError::UnknownPlugin(id) => Self::NotFound { kind: "plugin", id: id.chars().take(64).collect() },
            InvokeError::UnknownAction { action, .. } => {
                Self::NotFound { kind: "action", id: action.chars().take(64).collect() }
            }
            InvokeError::InvalidInput(problems) => {
                Self::from_problems("the input does not match the action's input schema", "/input", problems)
            }
            InvokeError::NotConfigured(_) | InvokeError::Secret(_) => Self::Conflict {
                code: "plugin_not_configured",
                detail: format!("{err}; save the plugin's settings first (PUT /v1/plugins/{{pluginId}}/settings)"),
            },
            InvokeError::Store(s) => s.into(),
            other => Self::internal(other),
        }
    }
}

impl From<ActivationError> for ApiError {
    fn from(err: ActivationError) -> Self {
        match err {
            ActivationError::NotActivatable(detail) => Self::validation("/graph", detail),
            ActivationError::Trigger(TriggerError::Vendor(vendor)) => Self::BadGateway {
                code: "vendor_refused",
                detail: format!("the vendor refused to register the webhook: {vendor}"),
            },
            ActivationError::Trigger(TriggerError::Store(s)) | ActivationError::Store(s) => s.into(),
            ActivationError::Trigger(other) => Self::validation("/graph", other.to_string()),
        }
    }
}

impl From<ReceiveError> for ApiError {
    fn from(err: ReceiveError) -> Self {
        match err {
            ReceiveError::UnknownHook { hook_id } => {
                Self::NotFound { kind: "hook", id: hook_id.chars().take(64).collect() }
            }
            // Authentic but stale: a sender with a drifting clock must be able to tell.
            ReceiveError::Refused { reason: reason @ VerifyError::Expired, .. } => {
                Self::Unauthenticated { code: "delivery_expired", detail: reason.to_string() }
            }
            ReceiveError::Refused { reason, .. } => {
                Self::Unauthenticated { code: "delivery_refused", detail: reason.to_string() }
            }
            ReceiveError::NotConfigured(detail) => Self::Unavailable { code: "trigger_not_configured", detail },
            ReceiveError::Store(s) => s.into(),
            ReceiveError::Queue(q) => q.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    use sea_orm::{ConnAcquireErr, DbErr};

    use super::*;

    /// A queue push that failed because the database is gone is an outage, not a bug: the same
    /// request succeeds once it is back.
    #[test]
    fn a_queue_push_failing_on_an_unavailable_database_is_a_503() {
        let down = || QueueError::Database(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout));
        for error in [ApiError::from(RunError::Queue(down())), ApiError::from(ReceiveError::Queue(down()))] {
            assert_eq!(error.code(), "database_unreachable");
            let response = error.into_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        }
        let refused = RunError::Queue(QueueError::Database(DbErr::Custom("no such table: Jobs".into())));
        assert_eq!(ApiError::from(refused).into_response().status(), StatusCode::INTERNAL_SERVER_ERROR);
        let other = RunError::Queue(QueueError::Other("codec".into()));
        assert_eq!(ApiError::from(other).into_response().status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
