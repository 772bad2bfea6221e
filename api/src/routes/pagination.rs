//! Cursor pagination parameters shared by every list operation.

use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;

/// `?limit=&cursor=`: up to `limit` items after `cursor` (the `nextCursor` of the previous page).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// How many items to return (1 to 200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

impl ListParams {
    /// The validated page size.
    ///
    /// # Errors
    /// 400 when `limit` is outside 1..=200.
    pub fn limit(&self) -> Result<u64, ApiError> {
        match self.limit {
            None => Ok(bacon_engine::store::DEFAULT_PAGE_SIZE),
            Some(n) if (1..=bacon_engine::store::MAX_PAGE_SIZE).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::BadRequest {
                code: "invalid_query",
                detail: format!("limit must be between 1 and {}, got {n}", bacon_engine::store::MAX_PAGE_SIZE),
            }),
        }
    }
}
