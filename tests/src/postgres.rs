//! Fresh PostgreSQL databases for tests, on the server named by `BACON_TEST_POSTGRES_URL`.

use sea_orm::sqlx::{Connection, PgConnection};

pub const ENV: &str = "BACON_TEST_POSTGRES_URL";

/// The configured server URL, if any.
pub fn server_url() -> Option<String> {
    std::env::var(ENV).ok().filter(|v| !v.trim().is_empty())
}

/// Says why a PostgreSQL test did nothing.
pub fn print_skip(test: &str) {
    eprintln!("skipping {test}: {ENV} is not set (CI sets it; see README.md)");
}

/// Creates an empty database `bacon_t_<ulid>` and returns its URL, or `None` without a server.
///
/// # Panics
/// When the server is configured but cannot be reached: a broken CI set-up must fail loudly.
pub async fn fresh_database() -> Option<String> {
    let server = server_url()?;
    let name = format!("bacon_t_{}", ulid::Ulid::generate().to_string().to_lowercase());
    let mut conn = PgConnection::connect(&server)
        .await
        .unwrap_or_else(|e| panic!("{ENV} is set but PostgreSQL is unreachable: {e}"));
    // The name is ours (a ULID), not input: safe to splice.
    sea_orm::sqlx::query(sea_orm::sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("could not create test database {name}: {e}"));
    let _ = conn.close().await;
    Some(with_database(&server, &name))
}

/// Replaces the database name in a `postgres://` URL.
fn with_database(server: &str, name: &str) -> String {
    let (base, query) = match server.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn swaps_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
        assert_eq!(with_database("postgres://h/db?sslmode=disable", "x"), "postgres://h/x?sslmode=disable");
    }
}
