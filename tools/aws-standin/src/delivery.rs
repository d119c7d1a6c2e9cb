//! How the stand-in delivers its notification (an SNS Lambda event).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::export::NotificationMessage;

/// One notification as delivered: the CAS message and the SNS Lambda event carrying it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub data_set_request_id: String,
    /// The CAS message (the SNS `Message`, parsed).
    pub message: NotificationMessage,
    /// The SNS Lambda event (JSON shape of `aws_lambda_events::sns::SnsEvent`).
    pub sns_event: serde_json::Value,
}

impl Notification {
    /// The SNS event as the `aws_lambda_events` type an ingest handler takes.
    pub fn sns_event(&self) -> aws_lambda_events::sns::SnsEvent {
        serde_json::from_value(self.sns_event.clone()).expect("the stand-in builds valid SNS events")
    }
}

/// The future a [`Delivery::Callback`] returns: `Ok(detail)` or `Err(reason)`, recorded as the
/// delivery status.
pub type CallbackFuture = Pin<Box<dyn Future<Output = Result<String, String>> + Send>>;
/// A delivery callback.
pub type Callback = Arc<dyn Fn(Notification) -> CallbackFuture + Send + Sync>;

/// Where notifications go. Delivery happens after the API response, in the background, as the
/// real service does; every notification is also recorded in the request log either way.
#[derive(Clone, Default)]
pub enum Delivery {
    /// Only record it (see `GET /_admin/requests`, `Running::wait_for_delivery`).
    #[default]
    None,
    /// HTTP POST of the SNS event (JSON) to a URL, e.g. `cargo lambda watch`'s
    /// `http://127.0.0.1:9000/2015-03-31/functions/ingest-export/invocations`. Delivered when the
    /// answer is 2xx without an `X-Amz-Function-Error` header. `http://` only.
    Http { url: String, timeout: Duration },
    /// Send to an in-process channel (a test hands the event to the ingest handler itself).
    Channel(mpsc::UnboundedSender<Notification>),
    /// Call an async callback; its result is recorded as the delivery status.
    Callback(Callback),
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Delivery::None => f.write_str("Delivery::None"),
            Delivery::Http { url, timeout } => write!(f, "Delivery::Http({url}, {timeout:?})"),
            Delivery::Channel(_) => f.write_str("Delivery::Channel"),
            Delivery::Callback(_) => f.write_str("Delivery::Callback"),
        }
    }
}

impl Delivery {
    /// HTTP delivery with a 5 minute timeout (`cargo lambda watch` may compile on first invoke).
    pub fn http(url: impl Into<String>) -> Self {
        Delivery::Http { url: url.into(), timeout: Duration::from_secs(300) }
    }

    /// Channel delivery and its receiving end.
    pub fn channel() -> (Self, mpsc::UnboundedReceiver<Notification>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Delivery::Channel(tx), rx)
    }

    /// Callback delivery.
    pub fn callback<F, Fut>(f: F) -> Self
    where
        F: Fn(Notification) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, String>> + Send + 'static,
    {
        Delivery::Callback(Arc::new(move |n| Box::pin(f(n))))
    }

    pub(crate) async fn deliver(&self, notification: Notification) -> DeliveryStatus {
        match self {
            Delivery::None => DeliveryStatus::Recorded,
            Delivery::Channel(tx) => match tx.send(notification) {
                Ok(()) => DeliveryStatus::Delivered { detail: "sent to channel".into() },
                Err(_) => DeliveryStatus::Failed { error: "channel receiver dropped".into() },
            },
            Delivery::Callback(cb) => match cb(notification).await {
                Ok(detail) => DeliveryStatus::Delivered { detail },
                Err(error) => DeliveryStatus::Failed { error },
            },
            Delivery::Http { url, timeout } => post_event(url, *timeout, &notification.sns_event).await,
        }
    }
}

/// POSTs an SNS Lambda event to `url` (a Lambda Invoke URL): delivered when
/// the answer is 2xx without an `X-Amz-Function-Error` header.
pub(crate) async fn post_event(url: &str, timeout: Duration, event: &serde_json::Value) -> DeliveryStatus {
    match tokio::time::timeout(timeout, post_json(url, event)).await {
        Err(_) => DeliveryStatus::Failed { error: format!("POST {url} timed out after {timeout:?}") },
        Ok(Err(e)) => DeliveryStatus::Failed { error: format!("POST {url} failed: {e}") },
        Ok(Ok((status, function_error, body))) => {
            let body = truncate(&body, 2000);
            if !(200..300).contains(&status) {
                DeliveryStatus::Failed { error: format!("POST {url} answered HTTP {status}: {body}") }
            } else if let Some(fe) = function_error {
                DeliveryStatus::Failed { error: format!("function error ({fe}): {body}") }
            } else {
                DeliveryStatus::Delivered { detail: format!("HTTP {status}: {body}") }
            }
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.char_indices().nth(max).map_or_else(|| s.to_string(), |(i, _)| format!("{}...", &s[..i]))
}

async fn post_json(url: &str, body: &serde_json::Value) -> Result<(u16, Option<String>, String), String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("bad URL: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err("only http:// URLs are supported".into());
    }
    let client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = http::Request::post(uri)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(body).expect("event serializes"))))
        .map_err(|e| e.to_string())?;
    let resp = client.request(req).await.map_err(|e| format!("{e} ({e:?})"))?;
    let status = resp.status().as_u16();
    let function_error = resp.headers().get("x-amz-function-error").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = resp.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((status, function_error, String::from_utf8_lossy(&body).into_owned()))
}

/// What happened to a notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum DeliveryStatus {
    /// Not delivered yet (export still running or delivery in flight).
    Pending,
    /// [`Delivery::None`]: recorded only.
    Recorded,
    Delivered {
        detail: String,
    },
    Failed {
        error: String,
    },
}

impl DeliveryStatus {
    pub fn is_done(&self) -> bool {
        !matches!(self, DeliveryStatus::Pending)
    }
}
