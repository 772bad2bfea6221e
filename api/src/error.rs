//! The one API error, rendered as `application/problem+json` (RFC 9457) with a stable `code`.
//!
//! Every domain error is mapped to HTTP here and nowhere else (engine errors in [`engine`]). 5xx
//! causes are logged here, once, with their source chain (the request span's trace layer does
//! not log failures again), and answered with a generic detail, so internals never leak.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

mod engine;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// `Retry-After` of a `database_unreachable` answer, in seconds.
pub const RETRY_DATABASE_AFTER_SECS: &str = "1";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "type": "urn:bacon:problem:validation_failed",
    "title": "Unprocessable Content",
    "status": 422,
    "detail": "the request body is not valid",
    "code": "validation_failed",
    "errors": [{"pointer": "/name", "message": "must not be empty"}]
}))]
pub struct Problem {
    /// A URI naming the problem type: `urn:bacon:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// The HTTP reason phrase of `status`.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong, for a human.
    pub detail: String,
    /// A stable, machine-readable code; clients branch on this, never on `detail`.
    pub code: String,
    /// For 422: each invalid field, located by a JSON pointer into the request body.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct FieldError {
    /// JSON pointer (RFC 6901) to the field in the request body, `""` for the whole body.
    pub pointer: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self { pointer: pointer.into(), message: message.into() }
    }
}

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("{detail}")]
    Unauthenticated { code: &'static str, detail: String },
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },
    #[error("{kind} `{id}` was not found")]
    NotFound { kind: &'static str, id: String },
    #[error("no route for {method} {path}")]
    RouteNotFound { method: String, path: String },
    #[error("method {method} is not allowed here")]
    MethodNotAllowed { method: String },
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("{detail}")]
    PreconditionFailed { detail: String },
    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{detail}")]
    UnsupportedMediaType { detail: String },
    #[error("{detail}")]
    Validation { detail: String, errors: Vec<FieldError> },
    /// The tenant sent more requests, or started more runs, than its rate allows (`limit` says
    /// which); it may again after `retry_after_secs`.
    #[error("this tenant {limit} than its limit allows; try again in {retry_after_secs} s")]
    TooManyRequests { limit: RateLimit, retry_after_secs: u64 },
    #[error("the request took longer than {timeout_ms} ms")]
    Timeout { timeout_ms: u64 },
    #[error("{detail}")]
    Unavailable { code: &'static str, detail: String },
    /// The database is down, unreachable or too busy to answer in time (`None`: a probe found it
    /// so): the same request may succeed in a moment, so the answer says when to try again.
    #[error("the database is unavailable; try again shortly")]
    DatabaseUnreachable(#[source] Option<sea_orm::DbErr>),
    /// A vendor refused what this request needed of it (its reason in `detail`).
    #[error("{detail}")]
    BadGateway { code: &'static str, detail: String },
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Which of a tenant's rates a request went past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    /// API requests a second.
    Requests,
    /// Runs started a second.
    RunStarts,
}

impl std::fmt::Display for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Requests => "sent more requests",
            Self::RunStarts => "started more runs",
        })
    }
}

impl RateLimit {
    /// The error for a caller that may try again after `wait`.
    pub fn exceeded(self, wait: std::time::Duration) -> ApiError {
        ApiError::TooManyRequests { limit: self, retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64 }
    }
}

impl ApiError {
    pub fn validation(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::Validation { detail: message.clone(), errors: vec![FieldError::new(pointer, message)] }
    }

    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(err))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } | Self::RouteNotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Timeout { .. } | Self::Unavailable { .. } | Self::DatabaseUnreachable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Unauthenticated { code, .. }
            | Self::Forbidden { code, .. }
            | Self::Conflict { code, .. }
            | Self::Unavailable { code, .. }
            | Self::BadGateway { code, .. } => code,
            Self::NotFound { .. } => "not_found",
            Self::RouteNotFound { .. } => "route_not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::PreconditionFailed { .. } => "precondition_failed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::Validation { .. } => "validation_failed",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::Timeout { .. } => "timeout",
            Self::DatabaseUnreachable(_) => "database_unreachable",
            Self::Internal(_) => "internal",
        }
    }

    pub fn to_problem(&self) -> Problem {
        let status = self.status();
        let detail = match self {
            Self::Internal(_) => "an internal error occurred; it has been logged".to_string(),
            other => other.to_string(),
        };
        let errors = match self {
            Self::Validation { errors, .. } => errors.clone(),
            _ => Vec::new(),
        };
        Problem {
            problem_type: format!("urn:bacon:problem:{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail,
            code: self.code().to_string(),
            errors,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(source) => {
                tracing::error!(error = %ErrorChain(source.as_ref()), "Request failed with an internal error.");
            }
            // Every request says so during an outage: a warning each, the operator acts on /readyz.
            Self::DatabaseUnreachable(Some(source)) => {
                tracing::warn!(error = %ErrorChain(source), "Request failed: the database is unavailable.");
            }
            // A readiness probe's 503 is its answer, not a fault of the request.
            Self::DatabaseUnreachable(None) => {}
            other if other.status().is_server_error() => {
                tracing::warn!(code = other.code(), error = %other, "Request failed.");
            }
            _ => {}
        }
        let problem = self.to_problem();
        let mut response = (self.status(), axum::Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if matches!(self, Self::Unauthenticated { .. }) {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if matches!(self, Self::DatabaseUnreachable(_)) {
            // An outage is over in seconds (a restart, a failover) or lasts until an operator acts;
            // a client retrying each second neither waits long after the former nor floods the latter.
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_DATABASE_AFTER_SECS));
        }
        if let Self::TooManyRequests { retry_after_secs, .. } = self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        if matches!(self, Self::PayloadTooLarge { .. }) {
            // The rest of the body is never read, so this connection cannot carry another request:
            // say so, or a client would reuse it and see its next request fail.
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// Displays an error with its whole `source()` chain: `outer: inner: innermost`.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bacon_engine::StoreError;
    use bacon_engine::database::{self, DatabaseOptions, SqliteDurability};
    use sea_orm::{ConnAcquireErr, ConnectionTrait, DbErr};

    use super::*;

    async fn sqlite(dir: &std::path::Path, busy_timeout: Duration) -> sea_orm::DatabaseConnection {
        let url = format!("sqlite://{}", dir.join("busy.db").display());
        let options = DatabaseOptions {
            url,
            max_connections: 2,
            sqlite_durability: SqliteDurability::Normal,
            busy_timeout,
            acquire_timeout: Duration::from_secs(5),
        };
        database::connect(&options).await.expect("a SQLite file opens")
    }

    /// A real `database is locked`: a writer holds the lock and another pool does not wait for it.
    async fn sqlite_busy() -> DbErr {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let holder = sqlite(dir.path(), Duration::from_secs(5)).await;
        holder.execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY)").await.expect("table");
        let writer = database::begin_write(&holder).await.expect("the write lock");
        writer.execute_unprepared("INSERT INTO t (id) VALUES (1)").await.expect("insert");
        let other = sqlite(dir.path(), Duration::ZERO).await;
        other.execute_unprepared("INSERT INTO t (id) VALUES (2)").await.expect_err("the file is locked")
    }

    #[tokio::test]
    async fn an_unavailable_database_is_a_503_with_retry_after() {
        let busy = sqlite_busy().await;
        assert!(busy.to_string().contains("database is locked"), "{busy}");
        for err in [DbErr::ConnectionAcquire(ConnAcquireErr::Timeout), busy] {
            let error = ApiError::from(StoreError::Database(err));
            let problem = error.to_problem();
            assert_eq!(problem.code, "database_unreachable");
            assert!(!problem.detail.contains("locked"), "the cause is logged, not shown: {}", problem.detail);
            let response = error.into_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(response.headers()[header::RETRY_AFTER], "1");
            assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        }
    }

    #[test]
    fn a_statement_the_database_refuses_stays_a_500() {
        let err = DbErr::Custom("no such column".into());
        let response = ApiError::from(StoreError::Database(err)).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }
}
