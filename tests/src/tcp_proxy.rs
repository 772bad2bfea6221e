//! [`TcpProxy`]: a loopback TCP proxy a test puts between a server and its PostgreSQL, to take the
//! database away and give it back without stopping the shared PostgreSQL server other tests use.
//!
//! [`TcpProxy::cut`] looks to the server like PostgreSQL stopped: every open connection is dropped
//! and new connections are refused (the listening socket is closed, so a connect gets
//! `ECONNREFUSED`, as from a stopped server). [`TcpProxy::restore`] listens on the same port again.

use std::net::SocketAddr;

use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Mutex;
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

/// A proxy from a loopback port to `upstream` that can be cut and restored.
pub struct TcpProxy {
    address: SocketAddr,
    upstream: String,
    running: Mutex<Option<Running>>,
}

/// The accept loop while the proxy is up; cancelling it ends every connection.
struct Running {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl TcpProxy {
    /// Starts a proxy on a free loopback port, forwarding to `upstream` (`host:port`).
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(upstream: &str) -> Self {
        let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0))).expect("a loopback port for the proxy");
        let address = listener.local_addr().expect("the proxy's address");
        let proxy = Self { address, upstream: upstream.to_string(), running: Mutex::new(None) };
        *proxy.running.lock().await = Some(proxy.serve(listener));
        proxy
    }

    /// Where clients connect: `127.0.0.1:<port>`.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Drops every connection and refuses new ones, until [`TcpProxy::restore`]. Returns once the
    /// listening socket is closed and every connection is gone.
    pub async fn cut(&self) {
        if let Some(running) = self.running.lock().await.take() {
            running.stop.cancel();
            let _ = running.task.await;
        }
    }

    /// Listens on the same port again.
    ///
    /// # Panics
    /// When the port cannot be bound again.
    pub async fn restore(&self) {
        let mut running = self.running.lock().await;
        if running.is_none() {
            let listener = listen(self.address).expect("the proxy's port is free again");
            *running = Some(self.serve(listener));
        }
    }

    fn serve(&self, listener: tokio::net::TcpListener) -> Running {
        let stop = CancellationToken::new();
        let upstream = self.upstream.clone();
        let token = stop.clone();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    () = token.cancelled() => break,
                    accepted = listener.accept() => {
                        let Ok((client, _)) = accepted else { continue };
                        connections.spawn(forward(client, upstream.clone()));
                    }
                    // Reap finished connections so the set does not grow for the whole test.
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
            drop(listener);
            // Aborts every connection and waits until each is dropped (its sockets closed).
            connections.shutdown().await;
        });
        Running { stop, task }
    }
}

/// A listener with `SO_REUSEADDR`, so the port can be bound again while closed connections of
/// the previous listener linger in `TIME_WAIT`.
fn listen(address: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(128)
}

async fn forward(mut client: TcpStream, upstream: String) {
    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}
