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

/// The `host:port` a `postgres://` URL connects to (port 5432 when it names none).
pub fn host_port(url: &str) -> String {
    let (start, end) = host_span(url);
    let host = &url[start..end];
    if host.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok()) {
        host.to_string()
    } else {
        format!("{host}:5432")
    }
}

/// The same URL connecting to `address` instead (say, a [`crate::tcp_proxy::TcpProxy`]).
pub fn via(url: &str, address: std::net::SocketAddr) -> String {
    let (start, end) = host_span(url);
    format!("{}{address}{}", &url[..start], &url[end..])
}

/// Where a URL's `host[:port]` is: after the scheme and any `user[:password]@`, before the path.
fn host_span(url: &str) -> (usize, usize) {
    let authority = url.find("://").map(|i| i + 3).unwrap_or(0);
    let end = url[authority..].find(['/', '?']).map(|i| authority + i).unwrap_or(url.len());
    let start = url[authority..end].rfind('@').map(|i| authority + i + 1).unwrap_or(authority);
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::{host_port, via, with_database};

    #[test]
    fn finds_and_replaces_the_server_address() {
        assert_eq!(host_port("postgres://postgres@127.0.0.1:5432/test"), "127.0.0.1:5432");
        assert_eq!(host_port("postgres://u:p@db/test?sslmode=disable"), "db:5432");
        let proxy = std::net::SocketAddr::from(([127, 0, 0, 1], 40000));
        assert_eq!(via("postgres://postgres@127.0.0.1:5432/x", proxy), "postgres://postgres@127.0.0.1:40000/x");
        assert_eq!(via("postgres://db/x?a=b", proxy), "postgres://127.0.0.1:40000/x?a=b");
        assert_eq!(via("postgres://u:p@db:6543", proxy), "postgres://u:p@127.0.0.1:40000");
    }

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
