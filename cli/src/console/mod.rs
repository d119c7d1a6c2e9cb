//! `psc console`: a small web page on 127.0.0.1 whose data calls this
//! process forwards to the API, signed like every other `psc` command.
//!
//! * The page (`cli/assets/console.html`, one self-contained file embedded in
//!   the binary) is served at `/?token=<per-launch token>`; its data calls are
//!   `GET /api/<API path>?<query>` with the token in the `X-Psc-Token` header,
//!   answered with the API's status and body unchanged: JSON, or the
//!   subscriber report's CSV (`format=csv`: `text/csv`, its `X-Next-Cursor`
//!   passed on), which the page joins into one download.
//! * Everything else is refused before it reaches the API ([`gate`]): a
//!   `Host` other than `127.0.0.1:<port>` / `localhost:<port>` (DNS
//!   rebinding), a missing or wrong token (other local processes, other
//!   sites), any method but `GET`, any path that is not one of the API's own
//!   routes.
//! * Nothing is stored in the browser: no cookie, no storage; every answer is
//!   `Cache-Control: no-store` under a strict Content-Security-Policy.

mod gate;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use psc_bridge::api::{ErrorBody, ErrorDetail};
use tokio::net::TcpListener;

use crate::client::Client;
use crate::target::Auth;

pub use gate::{api_path, host_is_loopback, query_param, same_token};

/// The page, with `__NONCE__` where each answer puts its CSP nonce and
/// `__TARGET__` where it names the API.
const PAGE: &str = include_str!("../../assets/console.html");

/// The header the page sends its token in.
pub const TOKEN_HEADER: &str = "x-psc-token";

/// A bound console, not serving yet.
pub struct Console {
    listener: TcpListener,
    state: Arc<State>,
}

struct State {
    client: Arc<Client>,
    token: String,
    port: u16,
    /// `__TARGET__`: the API's URL and how requests to it are authenticated.
    target: String,
}

impl Console {
    /// Binds 127.0.0.1:`port` (0: a free port) with a fresh token.
    pub async fn bind(client: Arc<Client>, port: u16) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.with_context(|| {
            if port == 0 {
                "binding a free port of 127.0.0.1".to_owned()
            } else {
                format!("binding 127.0.0.1:{port} (in use? give another --port, or --port 0 for a free one)")
            }
        })?;
        let port = listener.local_addr()?.port();
        let token = uuid::Uuid::new_v4().simple().to_string();
        let how = match &client.target.auth {
            Auth::SigV4 { region } => format!("signed with your AWS credentials (SigV4, {region})"),
            Auth::Bearer(_) => "with your bearer token".to_owned(),
            Auth::None => "unsigned (local)".to_owned(),
        };
        let target = html_escape(&format!("{} ({how})", client.target.api_url));
        Ok(Self { listener, state: Arc::new(State { client, token, port, target }) })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.state.port
    }

    /// This launch's token.
    pub fn token(&self) -> &str {
        &self.state.token
    }

    /// The page's URL, token included.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/?token={}", self.state.port, self.state.token)
    }

    /// Serves until `shutdown` completes; connections still open then are
    /// dropped.
    pub async fn serve_until(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                _ = &mut shutdown => return Ok(()),
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => a,
                    // Out of file descriptors and the like: pause, go on.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let state = Arc::clone(&self.state);
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let state = Arc::clone(&state);
                    async move { Ok::<_, std::convert::Infallible>(handle(&state, peer, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    }
}

/// Serves the console on 127.0.0.1:`port` (0: a free port) until Ctrl-C.
pub async fn run(client: Arc<Client>, port: u16) -> anyhow::Result<()> {
    let how = match &client.target.auth {
        Auth::SigV4 { region } => format!("signs with your AWS credentials (SigV4, execute-api, {region})"),
        Auth::Bearer(_) => "sends your bearer token (--token / PSC_TOKEN)".to_owned(),
        Auth::None => "sends unsigned requests (a local target)".to_owned(),
    };
    let api = client.target.api_url.clone();
    let console = Console::bind(client, port).await?;
    println!("{}", console.url());
    eprintln!("psc console: open the URL above; it {how} to {api}. Ctrl-C to stop.");
    console
        .serve_until(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    eprintln!("psc console: stopped");
    Ok(())
}

async fn handle(state: &State, _peer: SocketAddr, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok());
    if !host.is_some_and(|h| host_is_loopback(h, state.port)) {
        return text(StatusCode::FORBIDDEN, "refused: this console only answers http://127.0.0.1:<port>/\n");
    }
    if req.method() != Method::GET {
        let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "refused: the console only answers GET\n");
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET"));
        return r;
    }
    let path = req.uri().path();
    let query = req.uri().query();
    if let Some(rest) = path.strip_prefix("/api/") {
        let token = req.headers().get(TOKEN_HEADER).and_then(|t| t.to_str().ok()).unwrap_or("");
        if !same_token(token, &state.token) {
            return text(
                StatusCode::FORBIDDEN,
                "refused: missing or wrong console token (open the URL psc console printed)\n",
            );
        }
        let Some(api) = api_path(rest) else {
            return api_json(
                StatusCode::NOT_FOUND,
                error_body(
                    "NotFound",
                    "the console only forwards the API's routes: accounts/..., contacts..., sync, products/.../subscribers",
                ),
                None,
            );
        };
        let csv = query.and_then(|q| query_param(q, "format")).is_some_and(|f| f == "csv");
        let path_and_query = match query {
            Some(q) => format!("{api}?{q}"),
            None => api.to_owned(),
        };
        let accept = if csv { "text/csv" } else { "application/json" };
        return match state.client.get_accepting(&path_and_query, accept).await {
            Ok(a) => {
                let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::BAD_GATEWAY);
                // Only a CSV the API says is CSV goes out as CSV; anything
                // else as JSON (never as a type the browser would render).
                let is_csv = a.content_type.as_deref().is_some_and(|t| t.starts_with("text/csv"));
                let mut r = api_json(status, a.body.into(), a.retry_after.as_deref());
                if is_csv {
                    set(&mut r, header::CONTENT_TYPE, "text/csv; charset=utf-8");
                }
                if let Some(v) = a.next_cursor.as_deref().and_then(|c| HeaderValue::from_str(c).ok()) {
                    r.headers_mut().insert("x-next-cursor", v);
                }
                r
            }
            Err(e) => api_json(StatusCode::BAD_GATEWAY, error_body("ConsoleUpstream", &e.to_string()), None),
        };
    }
    if path == "/" || path == "/index.html" {
        let token = query.and_then(|q| gate::query_param(q, "token")).unwrap_or_default();
        if !same_token(&token, &state.token) {
            return text(
                StatusCode::FORBIDDEN,
                "refused: missing or wrong console token: open the URL `psc console` printed (a new one each launch)\n",
            );
        }
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let mut r = Response::new(Full::new(Bytes::from(
            PAGE.replace("__NONCE__", &nonce).replace("__TARGET__", &state.target),
        )));
        set(&mut r, header::CONTENT_TYPE, "text/html; charset=utf-8");
        secure(&mut r, &nonce);
        return r;
    }
    text(StatusCode::NOT_FOUND, "not found\n")
}

/// The console's own error, in the API's error shape (`ConsoleUpstream`:
/// the API could not be asked).
fn error_body(code: &str, message: &str) -> Bytes {
    let body = ErrorBody {
        error: ErrorDetail { code: code.to_owned(), field: None, message: message.to_owned(), request_id: None },
        freshness: None,
    };
    serde_json::to_vec(&body).unwrap_or_default().into()
}

fn api_json(status: StatusCode, body: Bytes, retry_after: Option<&str>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    set(&mut r, header::CONTENT_TYPE, "application/json");
    if let Some(v) = retry_after.and_then(|v| HeaderValue::from_str(v).ok()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    secure(&mut r, "");
    r
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    set(&mut r, header::CONTENT_TYPE, "text/plain; charset=utf-8");
    secure(&mut r, "");
    r
}

fn set(r: &mut Response<Full<Bytes>>, name: header::HeaderName, value: &'static str) {
    r.headers_mut().insert(name, HeaderValue::from_static(value));
}

/// The headers of every answer. `nonce`: the page's inline script and style
/// (empty for the other answers, which run nothing).
fn secure(r: &mut Response<Full<Bytes>>, nonce: &str) {
    let csp = if nonce.is_empty() {
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'".to_owned()
    } else {
        format!(
            "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; \
             img-src data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
}

fn html_escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}
