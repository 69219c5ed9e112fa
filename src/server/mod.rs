//! HTTP servers: the miner (`/search`, `/health`, `/metrics`) and the validator's gateway
//! (`/health`, `/capabilities`, `/search`, `/search/stream`).

pub mod gateway;
pub mod metrics;
pub mod miner;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

/// Serves `app` until `shutdown` resolves, then lets requests in flight finish for up to
/// `grace` (never forever: a stuck connection must not keep the process alive).
pub async fn serve_with_grace(
    app: axum::Router,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(
        async move {
            shutdown.await;
            let _ = tx.send(());
        },
    );
    let server = tokio::spawn(async move { server.await });
    tokio::select! {
        r = server => r.map_err(std::io::Error::other)?,
        _ = async {
            let _ = rx.await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace_s = grace.as_secs(), "requests still running after the shutdown grace period; exiting");
            Ok(())
        }
    }
}
