//! The front server: labgate's own HTTP/1.1 listener on the public port, which hands each
//! request to the Rocket in this process.
//!
//! Rocket 0.5 reads requests with no deadline at all (a connection that sends nothing, or
//! stops halfway through its headers or body, stays open for good) and offers no setting for
//! one. So the socket belongs to hyper, configured here with the deadlines below; each request,
//! once read whole, goes to Rocket through its in-process client (no second port, nothing
//! behind the front that anyone could connect to), and the answer goes back the same way.
//! Here too: the client's address ([`proxies`]), the open-file limit, the one log line per
//! request, and a prompt, graceful stop on SIGTERM and SIGINT.

pub mod proxies;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rocket::http::uri::{Host, Origin};
use rocket::http::{Cookie, Header, Method};
use rocket::local::asynchronous::Client;
use rocket::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use rocket::tokio::net::{TcpListener, TcpStream};
use rocket::tokio::sync::watch;
use rocket::tokio::time::{sleep, timeout, Sleep};
use rocket::{Build, Rocket};

use crate::config::Config;
use crate::error::AppError;
use crate::logging::escape;
use proxies::TrustedProxies;

/// A request's head (request line and headers) must arrive within this long of the connection
/// opening, or of the previous answer on a kept-alive connection: it bounds silent
/// connections, headers sent a byte at a time, and idle keep-alive connections alike.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// A request's body must arrive whole within this long of its head: enough for the largest
/// body labgate takes over a slow link, short enough that a stalled upload frees its slot.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(15);
/// Writing an answer may make no progress for at most this long (a client that stops reading
/// would otherwise hold the connection and its buffers for good).
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(15);
/// On SIGTERM or SIGINT, requests already being answered get this long to finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// After a failed `accept` (typically: out of file descriptors) the loop waits this long, so
/// it neither spins nor gives up; connections closing meanwhile free descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);
/// Failed accepts are logged at most this often (they come in bursts).
const ACCEPT_LOG_EVERY: Duration = Duration::from_secs(10);

/// Runs the server for `rocket` until SIGTERM or SIGINT.
pub fn serve(rocket: Rocket<Build>, config: &Config) -> Result<(), AppError> {
    raise_open_file_limit();
    let front = Settings {
        address: SocketAddr::new(config.address, config.port),
        ip_header: config.ip_header.clone(),
        trusted: config.trusted_proxies.clone(),
    };
    rocket::execute(run(rocket, front))
}

/// What the front needs from the configuration.
struct Settings {
    address: SocketAddr,
    ip_header: Option<String>,
    trusted: TrustedProxies,
}

/// The state every connection shares.
struct Front {
    client: Client,
    ip_header: Option<String>,
    trusted: TrustedProxies,
    /// The largest body any route takes (Rocket's largest data limit).
    body_cap: u64,
}

async fn run(rocket: Rocket<Build>, settings: Settings) -> Result<(), AppError> {
    let listener = TcpListener::bind(settings.address).await.map_err(|e| {
        AppError::internal(format!(
            "cannot listen on {}: {e}; choose another --port / LABGATE_PORT or stop what uses it",
            settings.address
        ))
    })?;
    let mut shutdown = Box::pin(shutdown_signal()?);
    // Runs the liftoff fairings, which log "labgate is ready".
    let client = Client::untracked(rocket)
        .await
        .map_err(|e| AppError::internal(format!("the server could not start: {e}")))?;
    let body_cap = largest_body(&client);
    let front = Arc::new(Front {
        client,
        ip_header: settings.ip_header,
        trusted: settings.trusted,
        body_cap,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let open = Arc::new(AtomicUsize::new(0));
    let mut last_logged: Option<Instant> = None;
    let mut failed_since_log = 0u64;
    loop {
        let accepted = rocket::tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let (front, stop, open) = (front.clone(), stop_rx.clone(), open.clone());
                open.fetch_add(1, Ordering::SeqCst);
                rocket::tokio::spawn(async move {
                    connection(front, stream, peer, stop).await;
                    open.fetch_sub(1, Ordering::SeqCst);
                });
            }
            Err(e) => {
                failed_since_log += 1;
                if last_logged.is_none_or(|t| t.elapsed() >= ACCEPT_LOG_EVERY) {
                    tracing::warn!(
                        "cannot accept connections: {e} ({failed_since_log} failed accept(s) \
                         since the last such line); retrying"
                    );
                    last_logged = Some(Instant::now());
                    failed_since_log = 0;
                }
                sleep(ACCEPT_PAUSE).await;
            }
        }
    }
    drop(listener);
    tracing::warn!("stopping: no new connections; finishing the requests under way");
    let _ = stop_tx.send(true);
    let deadline = Instant::now() + SHUTDOWN_GRACE;
    while open.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        sleep(Duration::from_millis(20)).await;
    }
    let front = Arc::try_unwrap(front).ok();
    if let Some(front) = front {
        front.client.terminate().await;
    }
    tracing::warn!("labgate stopped");
    Ok(())
}

/// Resolves at the first SIGTERM or SIGINT.
fn shutdown_signal() -> Result<impl Future<Output = ()>, AppError> {
    use rocket::tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())
        .map_err(|e| AppError::internal(format!("cannot watch SIGTERM: {e}")))?;
    let mut int = signal(SignalKind::interrupt())
        .map_err(|e| AppError::internal(format!("cannot watch SIGINT: {e}")))?;
    Ok(async move {
        rocket::tokio::select! {
            _ = term.recv() => tracing::warn!("received SIGTERM"),
            _ = int.recv() => tracing::warn!("received SIGINT"),
        }
    })
}

/// The largest of Rocket's data limits: no body longer than this can be taken by any route.
fn largest_body(client: &Client) -> u64 {
    let limits = &client.rocket().config().limits;
    [
        "form",
        "data-form",
        "file",
        "json",
        "msgpack",
        "string",
        "bytes",
    ]
    .iter()
    .filter_map(|name| limits.get(name))
    .map(|size| size.as_u64())
    .max()
    .unwrap_or(0)
    .max(1 << 20)
}

/// Serves one connection until it closes, breaks a deadline, or the server stops.
async fn connection(
    front: Arc<Front>,
    stream: TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(WriteStallGuard::new(stream));
    let service = service_fn(move |req| {
        let front = front.clone();
        async move { Ok::<_, Infallible>(front.answer(req, peer).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .keep_alive(true);
    let conn = builder.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let result = rocket::tokio::select! {
        result = conn.as_mut() => result,
        _ = async { stop.wait_for(|stopping| *stopping).await.is_ok() } => {
            conn.as_mut().graceful_shutdown();
            match timeout(SHUTDOWN_GRACE, conn.as_mut()).await {
                Ok(result) => result,
                Err(_) => return,
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!("connection from {peer} closed: {e}");
    }
}

impl Front {
    /// Reads the rest of the request, has Rocket answer it, and logs one line.
    async fn answer(&self, req: hyper::Request<Incoming>, peer: SocketAddr) -> Reply {
        let started = Instant::now();
        let client_ip = self.client_ip(&req, peer.ip());
        let method = req.method().clone();
        let path = log_path(req.uri().path());
        let reply = self
            .dispatch(req, SocketAddr::new(client_ip, peer.port()))
            .await;
        let status = reply.status().as_u16();
        let millis = started.elapsed().as_secs_f64() * 1000.0;
        if status >= 500 {
            // A failure (a handler's panic among them) shows at the default level too.
            tracing::warn!("{method} {path} {status} {millis:.1}ms {client_ip}");
        } else {
            tracing::debug!("{method} {path} {status} {millis:.1}ms {client_ip}");
        }
        reply
    }

    /// The client's address: the peer's, or the proxy header's when the peer is trusted.
    fn client_ip(&self, req: &hyper::Request<Incoming>, peer: IpAddr) -> IpAddr {
        let named = self.ip_header.as_deref().and_then(|name| {
            let values: Vec<&str> = req
                .headers()
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            (!values.is_empty()).then(|| values.join(","))
        });
        self.trusted.client_ip(peer, named.as_deref())
    }

    async fn dispatch(&self, req: hyper::Request<Incoming>, remote: SocketAddr) -> Reply {
        let (parts, body) = req.into_parts();
        let api = is_api_path(parts.uri.path());
        let refuse = |status: u16, message: &str| refusal(status, message, api);

        let Some(target) = parts.uri.path_and_query() else {
            return refuse(400, "the request target is not a path");
        };
        if Origin::parse(target.as_str()).is_err() {
            return refuse(400, "the request target is not a valid path");
        }
        let Ok(method) = parts.method.as_str().parse::<Method>() else {
            return refuse(400, "unknown request method");
        };
        if parts
            .headers
            .values()
            .any(|value| std::str::from_utf8(value.as_bytes()).is_err())
        {
            return refuse(400, "a header value is not UTF-8 text");
        }

        let declared = parts
            .headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.body_cap) {
            return refuse(413, "the request body is too large");
        }
        let body = match timeout(
            BODY_TIMEOUT,
            Limited::new(body, self.body_cap as usize).collect(),
        )
        .await
        {
            Ok(Ok(collected)) => collected.to_bytes(),
            Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
                return refuse(413, "the request body is too large")
            }
            Ok(Err(_)) => return refuse(400, "the request body could not be read"),
            Err(_) => return refuse(408, "the request body did not arrive in time"),
        };

        // HEAD is answered as GET (which is what Rocket does too); hyper sends the length and
        // leaves the body out.
        let dispatched = if method == Method::Head {
            Method::Get
        } else {
            method
        };
        // Target, headers and cookies are lent to Rocket's request, not copied: `parts`
        // outlives it.
        let mut request = self.client.req(dispatched, target.as_str()).remote(remote);
        for (name, value) in &parts.headers {
            let Ok(value) = std::str::from_utf8(value.as_bytes()) else {
                continue;
            };
            if name == hyper::header::COOKIE {
                for piece in value.split(';').map(str::trim) {
                    if let Ok(cookie) = Cookie::parse_encoded(piece) {
                        request = request.cookie(cookie);
                    }
                }
            } else if name == hyper::header::HOST {
                if let Ok(host) = Host::parse(value) {
                    request.inner_mut().set_host(host);
                }
            }
            request
                .inner_mut()
                .add_header(Header::new(name.as_str(), value));
        }
        request.set_body(body);
        let response = request.dispatch().await;

        let mut reply = hyper::Response::builder().status(response.status().code);
        for header in response.headers().iter() {
            let name = header.name().as_str();
            if name.eq_ignore_ascii_case("content-length")
                || name.eq_ignore_ascii_case("transfer-encoding")
            {
                continue;
            }
            reply = reply.header(name, header.value());
        }
        let body = response.into_bytes().await.unwrap_or_default();
        match reply.body(Full::new(Bytes::from(body))) {
            Ok(reply) => reply,
            Err(e) => {
                tracing::error!("an answer could not be sent on: {e}");
                refuse(500, "the answer could not be sent")
            }
        }
    }
}

type Reply = hyper::Response<Full<Bytes>>;

/// Whether a path belongs to the JSON API (the same rule as [`crate::error::is_api`]).
fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// An answer the front gives itself, before Rocket sees the request: JSON under `/api`, a
/// short page elsewhere. The connection closes after it, since the request may not have been
/// read whole.
fn refusal(status: u16, message: &str, api: bool) -> Reply {
    let (kind, body) = if api {
        (
            "application/json",
            serde_json::json!({ "error_message": message }).to_string(),
        )
    } else {
        (
            "text/html; charset=utf-8",
            format!(
                "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>labgate</title>\
                 <p>{message}</p></html>\n"
            ),
        )
    };
    let mut reply = hyper::Response::new(Full::new(Bytes::from(body)));
    *reply.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_REQUEST);
    let headers = reply.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(kind),
    );
    headers.insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    reply
}

/// The request path as logged: escaped, and with any segment that looks like a token
/// (a JWT: `eyJ...` with two dots) masked, in case a confused client puts one there.
fn log_path(path: &str) -> String {
    let masked: Vec<&str> = path
        .split('/')
        .map(|segment| {
            if segment.starts_with("eyJ") && segment.matches('.').count() == 2 {
                "[token]"
            } else {
                segment
            }
        })
        .collect();
    escape(&masked.join("/")).into_owned()
}

/// A socket whose writes fail once they have made no progress for [`WRITE_STALL_TIMEOUT`].
struct WriteStallGuard {
    stream: TcpStream,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl WriteStallGuard {
    fn new(stream: TcpStream) -> WriteStallGuard {
        WriteStallGuard {
            stream,
            stalled: None,
        }
    }

    /// After a write that could not proceed: pending, or an error once the stall is too long.
    fn on_pending<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(sleep(WRITE_STALL_TIMEOUT)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading the answer",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn progress<T>(
        &mut self,
        poll: Poll<io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        match poll {
            Poll::Pending => self.on_pending(cx),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl AsyncRead for WriteStallGuard {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteStallGuard {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_write(cx, buf);
        this.progress(poll, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        this.progress(poll, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_flush(cx);
        this.progress(poll, cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.stream).poll_shutdown(cx);
        this.progress(poll, cx)
    }
}

/// Raises the open-file soft limit to the hard limit (as nginx and PostgreSQL do), so that
/// held connections cannot exhaust a low default, and logs the limit in force.
fn raise_open_file_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    let shown = |v: Option<u64>| v.map_or("unlimited".to_owned(), |n| n.to_string());
    if limit.current != limit.maximum && limit.maximum.is_some() {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => {
                tracing::info!(
                    "open files: soft limit raised from {} to the hard limit {}",
                    shown(limit.current),
                    shown(limit.maximum)
                );
                return;
            }
            Err(e) => tracing::warn!("open files: could not raise the soft limit: {e}"),
        }
    }
    tracing::info!(
        "open files: limit {} (hard {})",
        shown(limit.current),
        shown(limit.maximum)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_paths_hide_tokens_and_escape_breaks() {
        assert_eq!(log_path("/api/sshkeys"), "/api/sshkeys");
        assert_eq!(
            log_path("/api/revoke/eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhIn0.c2ln"),
            "/api/revoke/[token]"
        );
        assert_eq!(log_path("/admin/x\nFORGED"), "/admin/x\\nFORGED");
    }

    #[test]
    fn refusals_speak_json_under_api_and_html_elsewhere() {
        let api = refusal(413, "too large", true);
        assert_eq!(api.status(), 413);
        assert_eq!(api.headers()["content-type"], "application/json");
        assert_eq!(api.headers()["connection"], "close");
        let page = refusal(400, "bad", false);
        assert!(page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
    }
}
