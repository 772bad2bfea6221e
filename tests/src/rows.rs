//! Reading a test server's tables straight from its database.

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

/// `SELECT COUNT(*) FROM <from>`, where `from` is a table and any `WHERE` clause.
///
/// # Panics
/// When the query fails.
pub async fn count(db: &DatabaseConnection, from: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM {from}");
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await.expect("the count runs");
    row.expect("a count has a row").try_get("", "n").expect("the count is a number")
}
