//! The egress policy on the wire: a loopback listener counts the connections it accepts, and a
//! refused request must leave it at zero.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bacon_plugin_sdk::egress::EgressPolicy;
use bacon_plugin_sdk::http::HttpClient;
use reqwest::Method;
use tokio::io::AsyncWriteExt;

/// A loopback HTTP server answering 200 to anything, counting the connections it accepts.
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let port = listener.local_addr().expect("bound").port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buf).await;
                let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
            });
        }
    });
    (port, accepted)
}

fn client(policy: EgressPolicy) -> HttpClient {
    HttpClient::with_egress(&["*".into()], Duration::from_secs(5), policy)
}

async fn get(client: &HttpClient, url: &str) -> Result<reqwest::Response, bacon_plugin_sdk::ActionError> {
    let request = client.request(Method::GET, url)?;
    client.send_any(request).await
}

#[tokio::test]
async fn loopback_literals_and_names_are_refused_before_any_connection() {
    let (port, accepted) = counting_listener().await;
    let client = client(EgressPolicy::public_only());
    for url in [
        format!("http://127.0.0.1:{port}/admin"),
        format!("http://[::ffff:127.0.0.1]:{port}/admin"),
        format!("http://2130706433:{port}/admin"),
        format!("http://localhost:{port}/admin"),
    ] {
        let err = get(&client, &url).await.expect_err(&url);
        assert_eq!(err.kind(), "egress_refused", "{url}: {err}");
        assert!(!err.is_retryable(), "{url}");
        assert!(err.message().contains("loopback"), "{url}: {err}");
        assert!(!err.message().contains("/admin"), "the path is not repeated: {err}");
    }
    let named = get(&client, &format!("http://localhost:{port}/")).await.unwrap_err();
    assert!(named.message().contains("host `localhost` resolves only to addresses"), "{named}");
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "no connection reached the listener");
}

#[tokio::test]
async fn the_metadata_address_is_refused_at_once() {
    let client = client(EgressPolicy::public_only());
    let started = Instant::now();
    let err = get(&client, "http://169.254.169.254/latest/meta-data/").await.unwrap_err();
    assert_eq!(err.kind(), "egress_refused");
    assert!(err.message().contains("link-local"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(1), "no connection was attempted");
}

#[tokio::test]
async fn an_opened_range_is_reachable_and_others_stay_closed() {
    let (port, accepted) = counting_listener().await;
    let opened = client(EgressPolicy::allowing(&["127.0.0.1/32"]).unwrap());
    let response = get(&opened, &format!("http://localhost:{port}/")).await.expect("loopback opened");
    assert_eq!(response.status(), 200);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    let other = client(EgressPolicy::allowing(&["10.0.0.0/8"]).unwrap());
    let err = get(&other, &format!("http://127.0.0.1:{port}/")).await.unwrap_err();
    assert_eq!(err.kind(), "egress_refused");
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "the refused call made no connection");
}
