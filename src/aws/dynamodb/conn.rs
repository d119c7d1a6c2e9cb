//! The contact write's connections: keep-alive HTTP/1.1 straight on hyper.
//!
//! The ingest sends one `PutItem` per row, up to its write concurrency at
//! once. Through the SDK's HTTP client each went through the SDK's adapter
//! (its body type, connection capture, read-timeout wrapper) and
//! hyper-util's legacy pool (a keyed pool behind a lock, a checkout future,
//! a connecting race); paired runs measured the two at about a fifth of the
//! client's CPU per row (docs/benchmarks-ingest.md). Here a connection is a
//! hyper [`SendRequest`] kept in a stack of idle ones: a write pops one (or
//! connects), sends, reads the whole answer and pushes it back.
//!
//! What the SDK's default HTTP client does, this does too: TCP_NODELAY; the
//! connect timeout (a failed connect is [`Error::Connect`]); TLS with rustls
//! and aws-lc-rs, trusting the system's root certificates (as the SDK's
//! default client: `rustls-native-certs`, which also reads
//! `SSL_CERT_FILE`); no proxy; idle connections dropped after 90 s. A
//! connection the server closed while idle is found when it is taken, and a
//! request that could not be sent on it goes out on a new one, as
//! hyper-util's pool retries a request it never sent.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_rustls::{ConfigBuilderExt, HttpsConnector};
use hyper_util::client::legacy::connect::HttpConnector;
use tower_service::Service;

/// How long an idle connection is kept: the SDK's pool's default.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

type Sender = SendRequest<Full<Bytes>>;

/// Why an exchange failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum Error {
    /// No connection: refused, unresolvable, TLS refused, or the connect timeout.
    #[error("connecting to {endpoint}: {cause}")]
    Connect { endpoint: String, cause: String },
    /// The connection failed while the request or the answer was in flight.
    #[error("{0}")]
    Exchange(String),
    /// No answer within the read timeout.
    #[error("no answer within the read timeout ({0:?})")]
    ReadTimeout(Duration),
    /// The answer's body, after its status, could not be read whole.
    #[error("reading the answer (HTTP {status}): {cause}")]
    Body { status: u16, cause: String },
}

/// Keep-alive connections to one endpoint.
pub(super) struct Conns {
    /// `scheme://host[:port]/` of the endpoint: what the connector dials.
    origin: http::Uri,
    connector: HttpsConnector<HttpConnector>,
    read_timeout: Option<Duration>,
    idle: Mutex<Vec<(Sender, Instant)>>,
}

impl Conns {
    /// Connections to `origin` (`http` or `https`), with a connect timeout
    /// and a read timeout (from the request sent to the answer read); TLS
    /// trusts `roots`, or the system's root certificates when `None`.
    pub fn new(
        origin: http::Uri,
        (connect_timeout, read_timeout): (Option<Duration>, Option<Duration>),
        roots: Option<rustls::RootCertStore>,
    ) -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS set-up: {e}"))?;
        let https = origin.scheme_str() == Some("https");
        let tls = match roots {
            Some(roots) => builder.with_root_certificates(roots),
            // Only an https endpoint needs them: a local emulator runs where none may be installed.
            None if https => builder
                .with_native_roots()
                .map_err(|e| format!("TLS set-up: no usable root certificates on this system: {e}"))?,
            None => builder.with_root_certificates(rustls::RootCertStore::empty()),
        }
        .with_no_client_auth();
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(connect_timeout);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        Ok(Self { origin, connector, read_timeout, idle: Mutex::new(Vec::new()) })
    }

    /// Sends `request` and reads its whole answer, on an idle connection or
    /// a new one.
    pub async fn send(&self, request: http::Request<Full<Bytes>>) -> Result<(http::response::Parts, Bytes), Error> {
        let (mut sender, fresh) = match self.checkout().await {
            Some(sender) => (sender, false),
            None => (self.connect().await?, true),
        };
        let exchange = self.exchange(&mut sender, request, fresh);
        let answer = match self.read_timeout {
            Some(limit) => tokio::time::timeout(limit, exchange).await.unwrap_or(Err(Error::ReadTimeout(limit))),
            None => exchange.await,
        }?;
        if let Ok(mut idle) = self.idle.lock() {
            idle.push((sender, Instant::now()));
        }
        Ok(answer)
    }

    /// One request and its whole answer on `sender`. A request a reused
    /// connection could not send (the server had closed it) goes out once
    /// more on a new connection, which replaces `sender`.
    async fn exchange(
        &self,
        sender: &mut Sender,
        request: http::Request<Full<Bytes>>,
        fresh: bool,
    ) -> Result<(http::response::Parts, Bytes), Error> {
        let (mut request, mut fresh) = (request, fresh);
        let response = loop {
            match sender.try_send_request(request).await {
                Ok(response) => break response,
                Err(mut e) => match e.take_message() {
                    Some(unsent) if !fresh => {
                        request = unsent;
                        *sender = self.connect().await?;
                        fresh = true;
                    }
                    _ => return Err(Error::Exchange(error_chain(&e.into_error()))),
                },
            }
        };
        let (parts, body) = response.into_parts();
        let status = parts.status.as_u16();
        let bytes = body.collect().await.map_err(|e| Error::Body { status, cause: error_chain(&e) })?.to_bytes();
        Ok((parts, bytes))
    }

    /// The most recently used idle connection that is still open and ready.
    async fn checkout(&self) -> Option<Sender> {
        loop {
            let (mut sender, since) = self.idle.lock().ok()?.pop()?;
            if sender.is_closed() || since.elapsed() > IDLE_TIMEOUT {
                continue;
            }
            // Ready once the connection has finished the previous exchange.
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    /// A new connection, its driver spawned on the runtime.
    async fn connect(&self) -> Result<Sender, Error> {
        let failed = |cause: String| Error::Connect { endpoint: self.origin.to_string(), cause };
        let mut connector = self.connector.clone();
        let stream = connector.call(self.origin.clone()).await.map_err(|e| failed(error_chain(&*e)))?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(stream).await.map_err(|e| failed(error_chain(&e)))?;
        tokio::spawn(async move {
            // Its end (closed by either side, or failed) shows as a closed sender.
            let _ = connection.await;
        });
        Ok(sender)
    }
}

/// An error with its causes, as `a: b: c` (hyper's and rustls's own
/// messages name only the outermost, e.g. "client error (Connect)").
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
#[path = "conn_tests.rs"]
mod tests;
