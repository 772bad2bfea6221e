//! Cursor pagination parameters shared by every list operation.
//!
//! A cursor is the id of the last item of the previous page. One that is not an id of the listed
//! kind can only be a client's mistake: it is a 400 `invalid_query`, never an empty page.

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
        page_size(self.limit)
    }

    /// The validated cursor, an id of `T`'s kind.
    ///
    /// # Errors
    /// 400 when it is not.
    pub fn cursor<T>(&self) -> Result<Option<&str>, ApiError>
    where
        T: std::str::FromStr<Err = bacon_engine::ids::InvalidId>,
    {
        cursor::<T>(self.cursor.as_deref())
    }
}

/// Checks that `cursor`, when given, is an id of `T`'s kind (a `nextCursor` of that list).
///
/// # Errors
/// 400 `invalid_query` naming the parameter when it is not.
pub fn cursor<T>(cursor: Option<&str>) -> Result<Option<&str>, ApiError>
where
    T: std::str::FromStr<Err = bacon_engine::ids::InvalidId>,
{
    match cursor {
        Some(text) if text.parse::<T>().is_err() => Err(ApiError::BadRequest {
            code: "invalid_query",
            detail: "`cursor` is not a cursor of this list: pass the `nextCursor` of the previous page".into(),
        }),
        other => Ok(other),
    }
}

/// The validated page size.
///
/// # Errors
/// 400 when `limit` is outside 1..=200.
pub fn page_size(limit: Option<u64>) -> Result<u64, ApiError> {
    match limit {
        None => Ok(bacon_engine::store::DEFAULT_PAGE_SIZE),
        Some(n) if (1..=bacon_engine::store::MAX_PAGE_SIZE).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::BadRequest {
            code: "invalid_query",
            detail: format!("`limit` must be between 1 and {}, got {n}", bacon_engine::store::MAX_PAGE_SIZE),
        }),
    }
}
