//! A small HTTP/1 client for localhost: the Lambda invoke API of
//! `cargo lambda watch`, the eligibility API behind it, the stand-in's admin
//! endpoints, and moto's SNS query API.

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// What came back.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub status: u16,
    pub body: String,
}

impl Fetched {
    /// The body as JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_str(&self.body)
            .with_context(|| format!("HTTP {}: not JSON: {}", self.status, preview(&self.body)))
    }
}

/// The first 500 characters of `s`, for error messages.
pub fn preview(s: &str) -> String {
    let mut p: String = s.chars().take(500).collect();
    if s.chars().count() > 500 {
        p.push_str("...");
    }
    p
}

#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

impl Http {
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(3)));
        Self { client: Client::builder(TokioExecutor::new()).build(connector) }
    }

    pub async fn get(&self, url: &str, timeout: Duration) -> Result<Fetched> {
        self.send("GET", url, &[], Bytes::new(), timeout).await
    }

    pub async fn post_json(&self, url: &str, body: &serde_json::Value, timeout: Duration) -> Result<Fetched> {
        self.send("POST", url, &[("content-type", "application/json")], Bytes::from(serde_json::to_vec(body)?), timeout)
            .await
    }

    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<Fetched> {
        let mut req = http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(body)).with_context(|| format!("building {method} {url}"))?;
        let call = async {
            let resp = self.client.request(req).await?;
            let status = resp.status().as_u16();
            let bytes = resp.into_body().collect().await?.to_bytes();
            Ok::<_, anyhow::Error>(Fetched { status, body: String::from_utf8_lossy(&bytes).into_owned() })
        };
        match tokio::time::timeout(timeout, call).await {
            Ok(r) => r.with_context(|| format!("{method} {url}")),
            Err(_) => Err(anyhow!("{method} {url}: no answer within {}s", timeout.as_secs())),
        }
    }
}
