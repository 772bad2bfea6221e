//! The loopback endpoint the HTTP plugin calls: answers every request with a small JSON body at
//! once and counts the requests, so the benchmark measures Bacon rather than a slow vendor.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;

/// A running endpoint.
pub struct Endpoint {
    /// `http://127.0.0.1:PORT`
    pub uri: String,
    hits: Arc<AtomicU64>,
}

async fn answer(State(hits): State<Arc<AtomicU64>>) -> impl IntoResponse {
    let n = hits.fetch_add(1, Ordering::Relaxed);
    ([("content-type", "application/json")], format!("{{\"ok\":true,\"n\":{n}}}"))
}

impl Endpoint {
    /// Binds `127.0.0.1:0` and serves on the current runtime.
    ///
    /// # Errors
    /// When the port cannot be bound.
    pub async fn start() -> anyhow::Result<Self> {
        let hits = Arc::new(AtomicU64::new(0));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let uri = format!("http://{}", listener.local_addr()?);
        let app = Router::new().fallback(answer).with_state(hits.clone());
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("the loopback endpoint stopped: {e}");
            }
        });
        Ok(Self { uri, hits })
    }

    /// Requests answered so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// The shared counter, for tasks that outlive a borrow of the endpoint.
    pub fn hits_handle(&self) -> Arc<AtomicU64> {
        self.hits.clone()
    }
}
