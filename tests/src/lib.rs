//! Test support for Bacon's end-to-end tests: a real server on port 0 against a fresh database.
//!
//! - [`spawn_app`] starts the server in-process (real HTTP on loopback, real SQLite file or real
//!   PostgreSQL database), with known admin keys.
//! - [`db_test!`] writes one test body and runs it on SQLite and on PostgreSQL; the PostgreSQL
//!   variant prints why it skips when `BACON_TEST_POSTGRES_URL` is unset.
//! - [`process`] runs the real `bacon-server` binary as a child process.
//! - [`tcp_proxy`] takes a test server's PostgreSQL away and gives it back (an outage).
//! - [`rows`] counts rows of a test server's tables.
//! - [`twilio`] signs deliveries as Twilio does.
//! - [`wait`] waits for a condition with a deadline (never a bare sleep).

pub mod app;
pub mod logs;
pub mod postgres;
pub mod process;
pub mod rows;
pub mod tcp_proxy;
pub mod testkit_plugin;
pub mod twilio;
pub mod wait;

pub use app::{Backend, TestApp, spawn_app};

/// An HTTP client for tests. Installs ring as the rustls provider first (reqwest is built
/// without one, so that the whole tree has a single crypto library).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Runs one async test body on every backend: `db_test!(async fn name(app) { ... });`
#[macro_export]
macro_rules! db_test {
    ($(#[$meta:meta])* async fn $name:ident($app:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: $crate::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::spawn_app($crate::Backend::Sqlite).await.expect("sqlite app")).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match $crate::spawn_app($crate::Backend::Postgres).await {
                    Some(app) => run(app).await,
                    None => $crate::postgres::print_skip(concat!(module_path!(), "::postgres")),
                }
            }
        }
    };
}

/// Like [`db_test!`] for a body that builds its own app (say, with a configuration pointing at a
/// mock it started first): `backend_test!(async fn name(backend) { ... });`. Use
/// [`app::spawn_app_with`]; on `None` (no PostgreSQL) print the skip and return.
#[macro_export]
macro_rules! backend_test {
    ($(#[$meta:meta])* async fn $name:ident($backend:ident) $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($backend: $crate::Backend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run($crate::Backend::Postgres).await
            }
        }
    };
}
