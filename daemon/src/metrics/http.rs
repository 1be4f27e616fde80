//! `--metrics-listen ADDR:PORT`: `/metrics` over HTTP/1.1 for Prometheus.
//!
//! hyper serves each connection; the response is rendered from one status
//! snapshot asked of the runtime, like `isinit status`. Nothing runs between
//! scrapes: no cache, no refresh timer. A connection is closed after one
//! response (no keep-alive, so no idle connection waits with a timer on it)
//! and may take at most [`SCRAPE_TIMEOUT`]; at most [`MAX_SCRAPERS`] are
//! served at once, so a port scanner or a stuck client cannot pile up tasks.

use super::{CONTENT_TYPE, render, render_usage};
use crate::runtime::Command;
use crate::server::Context;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE as CONTENT_TYPE_HEADER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};

/// Connections served at once; more are closed at once.
pub const MAX_SCRAPERS: usize = 8;
/// How long one connection may take from accept to the end of its response.
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds the metrics listener if one was asked for, before the daemon
/// declares itself ready, so a port in use stops the start with a clear
/// error instead of a daemon silently without metrics.
pub async fn bind(addr: Option<SocketAddr>) -> Result<Option<TcpListener>, crate::Failure> {
    let Some(addr) = addr else { return Ok(None) };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| crate::Failure::new(format!("cannot listen for metrics on {addr}: {e}")))?;
    // The bound address, so that port 0 (any free port) can be found out.
    let bound = listener.local_addr().unwrap_or(addr);
    tracing::info!("serving metrics at http://{bound}/metrics");
    Ok(Some(listener))
}

/// Serves scrapes on `listener`, if there is one, for the daemon's life.
pub fn spawn(listener: Option<TcpListener>, ctx: Context) {
    if let Some(listener) = listener {
        tokio::spawn(serve(listener, ctx));
    }
}

/// Accepts scrapers until the task is dropped.
pub async fn serve(listener: TcpListener, ctx: Context) {
    let slots = Arc::new(Semaphore::new(MAX_SCRAPERS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!("metrics: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::debug!("metrics: {peer} refused: {MAX_SCRAPERS} scrapes in progress");
            continue;
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let service = service_fn(|req| {
                let ctx = ctx.clone();
                async move { Ok::<_, Infallible>(respond(&ctx, &req).await) }
            });
            let conn = http1::Builder::new().keep_alive(false).serve_connection(TokioIo::new(stream), service);
            match tokio::time::timeout(SCRAPE_TIMEOUT, conn).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!("metrics: {peer}: {e}"),
                Err(_) => tracing::debug!("metrics: {peer} took longer than {SCRAPE_TIMEOUT:?}; closed"),
            }
            drop(permit);
        });
    }
}

async fn respond(ctx: &Context, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    if req.uri().path() != "/metrics" {
        return plain(StatusCode::NOT_FOUND, "isinit serves its metrics at /metrics\n");
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        r.headers_mut().insert(ALLOW, hyper::header::HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let (reply, rx) = oneshot::channel();
    let snapshot = match ctx.commands.send(Command::Status { reply }).await {
        Ok(()) => rx.await.ok(),
        Err(_) => None,
    };
    let Some(mut snap) = snapshot else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "the daemon is exiting\n");
    };
    snap.daemon.clients_connected = ctx.slots.connected();
    let mut text = render(&snap);
    let (reply, rx) = oneshot::channel();
    if ctx.commands.send(Command::LiveGroups { reply }).await.is_ok()
        && let Ok(sources) = rx.await
        && let Some(usage) = ctx.usage.sample(sources).await
    {
        text.push_str(&render_usage(&snap, &usage));
    }
    let mut r = Response::new(Full::new(Bytes::from(text)));
    r.headers_mut().insert(CONTENT_TYPE_HEADER, hyper::header::HeaderValue::from_static(CONTENT_TYPE));
    r
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE_HEADER, hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}
