//! A fault-injecting proxy in front of DynamoDB (Local): it speaks HTTP,
//! forwards every request unchanged to the real endpoint, and does to the
//! write requests (`PutItem`, `UpdateItem`, `DeleteItem`,
//! `TransactWriteItems`, `BatchWriteItem`, by their `X-Amz-Target`) what a
//! slow, overloaded or failing database does ([`Fault`]). The unmodified
//! SDK talks to it as to DynamoDB: point a client's endpoint at
//! [`FaultProxy::endpoint`]. Reads pass untouched.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// What the proxy does to write requests.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// An overloaded engine: writes are served one at a time, each taking
    /// `per_item` per item it writes (a transaction of 100: 100 times
    /// that), so that concurrent writes queue behind one another.
    Serial { per_item: Duration },
    /// An outage: from the `after_writes`-th write on, every write is
    /// answered HTTP 500 `InternalServerError` for `lasting`, then the
    /// database recovers.
    Outage { after_writes: u64, lasting: Duration },
    /// Steady trouble: one write in `error_every` is answered 500, and one
    /// in `delay_every` is held for `delay` (past the client's attempt
    /// timeout) before it is forwarded.
    Flaky { error_every: u64, delay_every: u64, delay: Duration },
}

/// What the proxy did, so far.
#[derive(Debug, Default)]
pub struct FaultStats {
    /// Write requests received (each attempt of the client counts).
    pub writes: AtomicU64,
    /// Writes answered 500.
    pub errors: AtomicU64,
    /// Writes held back (the delay of [`Fault::Flaky`]).
    pub delayed: AtomicU64,
}

/// A running proxy; it stops when dropped.
pub struct FaultProxy {
    endpoint: String,
    stats: Arc<FaultStats>,
    task: tokio::task::JoinHandle<()>,
}

struct State {
    upstream: String,
    fault: Fault,
    client: Client<HttpConnector, Full<Bytes>>,
    stats: Arc<FaultStats>,
    /// One write at a time ([`Fault::Serial`]).
    engine: tokio::sync::Mutex<()>,
    /// When the outage started ([`Fault::Outage`]).
    outage_from: std::sync::OnceLock<Instant>,
}

/// DynamoDB's answer to a request that failed on its side.
pub const INTERNAL_SERVER_ERROR: &str =
    r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}"#;

const WRITES: [&str; 5] = ["PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"];

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://host:port`) on a free local port.
    pub async fn start(upstream: &str, fault: Fault) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the fault proxy")?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let stats = Arc::new(FaultStats::default());
        let state = Arc::new(State {
            upstream: upstream.trim_end_matches('/').to_owned(),
            fault,
            client: Client::builder(TokioExecutor::new()).build_http(),
            stats: stats.clone(),
            engine: tokio::sync::Mutex::new(()),
            outage_from: std::sync::OnceLock::new(),
        });
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
                    // A client that gives up (an attempt timeout) closes its
                    // connection: nothing to report.
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(sock), service).await;
                });
            }
        });
        Ok(Self { endpoint, stats, task })
    }

    /// `http://127.0.0.1:<port>`: the endpoint for the SDK client.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn stats(&self) -> &FaultStats {
        &self.stats
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(answer(StatusCode::BAD_REQUEST, Bytes::new())),
    };
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or_default()
        .to_owned();
    if !WRITES.contains(&operation.as_str()) {
        return Ok(forward(&state, parts, body).await);
    }
    let n = state.stats.writes.fetch_add(1, Ordering::SeqCst) + 1;
    match state.fault {
        Fault::Serial { per_item } => {
            let _engine = state.engine.lock().await;
            tokio::time::sleep(per_item * items(&operation, &body)).await;
            Ok(forward(&state, parts, body).await)
        }
        Fault::Outage { after_writes, lasting } => {
            if n >= after_writes {
                let from = *state.outage_from.get_or_init(Instant::now);
                if from.elapsed() < lasting {
                    return Ok(server_error(&state));
                }
            }
            Ok(forward(&state, parts, body).await)
        }
        Fault::Flaky { error_every, delay_every, delay } => {
            if n.is_multiple_of(error_every.max(1)) {
                return Ok(server_error(&state));
            }
            if n % delay_every.max(1) == 1 {
                state.stats.delayed.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
            }
            Ok(forward(&state, parts, body).await)
        }
    }
}

/// The items a write request writes.
fn items(operation: &str, body: &[u8]) -> u32 {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let n = match operation {
        "TransactWriteItems" => json["TransactItems"].as_array().map_or(1, Vec::len),
        "BatchWriteItem" => {
            json["RequestItems"].as_object().map_or(1, |t| t.values().filter_map(|v| v.as_array()).map(Vec::len).sum())
        }
        _ => 1,
    };
    n.max(1) as u32
}

fn server_error(state: &State) -> Response<Full<Bytes>> {
    state.stats.errors.fetch_add(1, Ordering::SeqCst);
    answer(StatusCode::INTERNAL_SERVER_ERROR, Bytes::from_static(INTERNAL_SERVER_ERROR.as_bytes()))
}

fn answer(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    r.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("application/x-amz-json-1.0"));
    r
}

/// The request, unchanged (headers, signature and body), to the upstream;
/// its answer, unchanged.
async fn forward(state: &State, mut parts: hyper::http::request::Parts, body: Bytes) -> Response<Full<Bytes>> {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = match format!("{}{path}", state.upstream).parse() {
        Ok(uri) => uri,
        Err(_) => return answer(StatusCode::BAD_GATEWAY, Bytes::new()),
    };
    let upstream = match state.client.request(Request::from_parts(parts, Full::new(body))).await {
        Ok(r) => r,
        Err(_) => return answer(StatusCode::BAD_GATEWAY, Bytes::new()),
    };
    let (parts, body) = upstream.into_parts();
    match body.collect().await {
        Ok(b) => Response::from_parts(parts, Full::new(b.to_bytes())),
        Err(_) => answer(StatusCode::BAD_GATEWAY, Bytes::new()),
    }
}
