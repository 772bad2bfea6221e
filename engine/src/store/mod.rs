//! The store: the only module that queries the database. One file per aggregate.
//!
//! Every tenant-owned query takes the `TenantId` and filters on it, so an id of another tenant
//! is indistinguishable from an id that does not exist.

pub mod api_keys;
pub mod audit;
pub mod bots;
pub mod channels;
pub mod flows;
pub mod inbound;
pub mod plugin_settings;
pub mod rest_hooks;
pub mod runs;
pub mod step_slots;
pub mod tenants;
pub mod triggers;
pub mod waits;

/// One page of a cursor-paginated list. The cursor is the id of the last item (ids are ULIDs,
/// so they sort by creation).
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Page size bounds shared by every list.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
pub const MAX_PAGE_SIZE: u64 = 200;

/// Clamps a requested page size into `1..=MAX_PAGE_SIZE`.
pub fn page_size(limit: Option<u64>) -> u64 {
    limit.unwrap_or(DEFAULT_PAGE_SIZE).clamp(1, MAX_PAGE_SIZE)
}

/// Turns `limit + 1` fetched rows into a page: the extra row only says there is a next page.
pub(crate) fn into_page<T>(mut rows: Vec<T>, limit: u64, id_of: impl Fn(&T) -> String) -> Page<T> {
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().map(id_of) } else { None };
    Page { items: rows, next_cursor }
}
