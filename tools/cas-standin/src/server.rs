//! The HTTP server: the `StartSupportDataExport` endpoint, the background export, and the admin
//! endpoints.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::delivery::{Delivery, DeliveryStatus, Notification};
use crate::export::{AccountIdHeader, ExportPlan, sns_event_json, write_csv_with_header};
use crate::record::{
    Contact, OperationType, Record, format_timestamp, parse_timestamp, timestamp_serde, truncate_to_millis,
};
use crate::store::Store;
use crate::wire::{self, ApiError, CONTENT_TYPE, SERVICE_EXCEPTION, START_SUPPORT_DATA_EXPORT_TARGET, TARGET_PREFIX};

/// The real service's lag: exports cover changes up to 15 minutes before the request.
pub const DEFAULT_LAG: Duration = Duration::from_secs(15 * 60);

const MAX_BODY: usize = 1024 * 1024;

/// An error the API answers with instead of processing a request (`POST /_admin/error-next`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InjectedError {
    /// Error type (`__type` / `x-amzn-ErrorType`); default `MarketplaceCommerceAnalyticsException`.
    #[serde(rename = "type", default = "default_error_type")]
    pub error_type: String,
    #[serde(default = "default_error_message")]
    pub message: String,
    /// HTTP status; default 500 for `MarketplaceCommerceAnalyticsException`, `InternalFailure` and
    /// `ServiceUnavailable`, 400 otherwise.
    #[serde(default)]
    pub status: Option<u16>,
    /// How many requests in a row get it (default 1). The SDK retries 5xx and throttling errors
    /// (3 attempts by default): inject 3 to make one SDK call fail with default retry settings.
    #[serde(default = "default_count")]
    pub count: u32,
}

fn default_error_type() -> String {
    SERVICE_EXCEPTION.to_string()
}
fn default_error_message() -> String {
    "Injected fault (cas-standin)".to_string()
}
fn default_count() -> u32 {
    1
}

impl InjectedError {
    /// `count` requests answered with a 500 `MarketplaceCommerceAnalyticsException`.
    pub fn service_fault(message: impl Into<String>, count: u32) -> Self {
        InjectedError { error_type: SERVICE_EXCEPTION.into(), message: message.into(), status: Some(500), count }
    }

    fn api_error(&self) -> ApiError {
        let status = self.status.unwrap_or(match self.error_type.as_str() {
            SERVICE_EXCEPTION | "InternalFailure" | "ServiceUnavailable" => 500,
            _ => 400,
        });
        ApiError::new(status, self.error_type.clone(), self.message.clone())
    }
}

/// Where an accepted export writes and what it covers.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportSummary {
    #[serde(with = "timestamp_serde")]
    pub coverage_start: OffsetDateTime,
    #[serde(with = "timestamp_serde")]
    pub coverage_end: OffsetDateTime,
    pub bucket_name: String,
    pub data_set_key: String,
    pub meta_data_key: String,
    /// Set when the export was told to fail (`fail-next`).
    pub injected_failure: Option<String>,
    /// Rows in the CSV, once written.
    pub rows: Option<usize>,
    /// Whether both objects were written.
    pub written: bool,
}

/// One request received on the API endpoint, and what became of it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestEntry {
    /// `x-amzn-RequestId` of the answer (also the `dataSetRequestId` when accepted).
    pub request_id: String,
    #[serde(with = "timestamp_serde")]
    pub received_at: OffsetDateTime,
    pub target: Option<String>,
    /// Credential scope of the `Authorization` header, when it had the right shape.
    pub credential: Option<wire::Credential>,
    /// HTTP status of the answer.
    pub status: u16,
    pub error: Option<ApiError>,
    /// The request body as received (when it was JSON).
    pub parameters: Option<serde_json::Value>,
    pub data_set_request_id: Option<String>,
    pub export: Option<ExportSummary>,
    pub notification: Option<Notification>,
    pub delivery: Option<DeliveryStatus>,
}

struct Shared {
    store: Store,
    lag: Mutex<Duration>,
    delivery: Delivery,
    s3: aws_sdk_s3::Client,
    seed: bool,
    required_region: Option<String>,
    account_id_header: AccountIdHeader,
    fail_next: Mutex<Option<String>>,
    error_next: Mutex<Option<InjectedError>>,
    log: Mutex<Vec<RequestEntry>>,
    version: watch::Sender<u64>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn bump(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    fn push(&self, entry: RequestEntry) {
        lock(&self.log).push(entry);
        self.bump();
    }

    fn update(&self, request_id: &str, f: impl FnOnce(&mut RequestEntry)) {
        if let Some(e) = lock(&self.log).iter_mut().rev().find(|e| e.request_id == request_id) {
            f(e);
        }
        self.bump();
    }

    fn find(&self, request_id: &str) -> Option<RequestEntry> {
        lock(&self.log).iter().rev().find(|e| e.request_id == request_id).cloned()
    }

    fn take_injected_error(&self) -> Option<ApiError> {
        let mut slot = lock(&self.error_next);
        let injected = slot.as_mut()?;
        let err = injected.api_error();
        injected.count = injected.count.saturating_sub(1);
        if injected.count == 0 {
            *slot = None;
        }
        Some(err)
    }
}

/// Entry point: `StandIn::builder()`.
pub struct StandIn;

impl StandIn {
    pub fn builder() -> StandInBuilder {
        StandInBuilder::default()
    }
}

/// Configures and starts a stand-in server.
pub struct StandInBuilder {
    lag: Duration,
    delivery: Delivery,
    s3: Option<aws_sdk_s3::Client>,
    seed: bool,
    store: Option<Store>,
    required_region: Option<String>,
    account_id_header: AccountIdHeader,
}

impl Default for StandInBuilder {
    fn default() -> Self {
        StandInBuilder {
            lag: DEFAULT_LAG,
            delivery: Delivery::None,
            s3: None,
            seed: true,
            store: None,
            required_region: None,
            account_id_header: AccountIdHeader::AwsCustomerId,
        }
    }
}

impl StandInBuilder {
    /// Exports cover changes up to `request time - lag` (default 15 minutes; tests use 0).
    pub fn lag(mut self, lag: Duration) -> Self {
        self.lag = lag;
        self
    }

    /// Where notifications go (default [`Delivery::None`]: recorded only).
    pub fn delivery(mut self, delivery: Delivery) -> Self {
        self.delivery = delivery;
        self
    }

    /// The S3 client exports are written with (default: [`crate::s3_client_from_env`]).
    pub fn s3_client(mut self, client: aws_sdk_s3::Client) -> Self {
        self.s3 = Some(client);
        self
    }

    /// Seed the store with the guide's static test data set (default true; ignored when a store is
    /// given with [`StandInBuilder::store`]). Also what `POST /_admin/reset` does by default.
    pub fn seed_guide_data(mut self, seed: bool) -> Self {
        self.seed = seed;
        self
    }

    /// Use this store (shared with the caller) instead of a new one.
    pub fn store(mut self, store: Store) -> Self {
        self.store = Some(store);
        self
    }

    /// Reject requests whose credential scope names another region (the real service exists in
    /// us-east-1 only). Default: any region.
    pub fn require_region(mut self, region: impl Into<String>) -> Self {
        self.required_region = Some(region.into());
        self
    }

    /// Spelling of the CSV's account id column (default `AWS Customer Id`, as in the guide).
    pub fn account_id_header(mut self, header: AccountIdHeader) -> Self {
        self.account_id_header = header;
        self
    }

    /// Binds `addr` (use port 0 for any free port) and starts serving.
    pub async fn start(self, addr: impl ToSocketAddrs) -> std::io::Result<Running> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let s3 = match self.s3 {
            Some(c) => c,
            None => crate::s3_client_from_env().await,
        };
        let store = match self.store {
            Some(s) => s,
            None if self.seed => Store::with_guide_data(),
            None => Store::new(),
        };
        let (version, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            store,
            lag: Mutex::new(self.lag),
            delivery: self.delivery,
            s3,
            seed: self.seed,
            required_region: self.required_region,
            account_id_header: self.account_id_header,
            fail_next: Mutex::new(None),
            error_next: Mutex::new(None),
            log: Mutex::new(Vec::new()),
            version,
            tasks: Mutex::new(Vec::new()),
        });
        let (stop_tx, stop_rx) = watch::channel(false);
        let server = tokio::spawn(accept_loop(listener, shared.clone(), stop_rx));
        info!(addr = %local_addr, lag_secs = self.lag.as_secs(), delivery = ?shared.delivery, records = shared.store.len(), "cas-standin started");
        Ok(Running { addr: local_addr, shared, stop: stop_tx, server })
    }
}

/// A running stand-in. Dropping it stops the server (in-flight exports keep running);
/// [`Running::shutdown`] also waits for them.
pub struct Running {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
}

impl Running {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`: the value for `AWS_ENDPOINT_URL_MARKETPLACE_COMMERCE_ANALYTICS`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The store the exports read (a shared handle).
    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    /// The next accepted request delivers `success:false` with `message` and writes no files.
    pub fn fail_next(&self, message: impl Into<String>) {
        *lock(&self.shared.fail_next) = Some(message.into());
    }

    /// The next `count` API requests are answered with this error.
    pub fn inject_error(&self, error: InjectedError) {
        *lock(&self.shared.error_next) = if error.count == 0 { None } else { Some(error) };
    }

    pub fn lag(&self) -> Duration {
        *lock(&self.shared.lag)
    }

    pub fn set_lag(&self, lag: Duration) {
        *lock(&self.shared.lag) = lag;
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RequestEntry> {
        lock(&self.shared.log).clone()
    }

    /// One request by its request id.
    pub fn request(&self, request_id: &str) -> Option<RequestEntry> {
        self.shared.find(request_id)
    }

    pub fn clear_requests(&self) {
        lock(&self.shared.log).clear();
    }

    /// Waits until the request's notification has been delivered (or recorded, or failed to be
    /// delivered) and returns its entry; a rejected request's entry is returned at once. `None`
    /// on timeout.
    pub async fn wait_for_delivery(&self, request_id: &str, timeout: Duration) -> Option<RequestEntry> {
        let mut rx = self.shared.version.subscribe();
        tokio::time::timeout(timeout, async {
            loop {
                if let Some(e) = self.shared.find(request_id) {
                    match &e.delivery {
                        None => return Some(e),
                        Some(d) if d.is_done() => return Some(e),
                        _ => {}
                    }
                }
                if rx.changed().await.is_err() {
                    return None;
                }
            }
        })
        .await
        .ok()
        .flatten()
    }

    /// Waits for every export started so far to finish (files written, notification delivered).
    pub async fn wait_idle(&self) {
        wait_tasks(&self.shared).await;
    }

    /// Stops accepting, closes connections, and waits for in-flight exports.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        wait_tasks(&self.shared).await;
        info!("cas-standin stopped");
    }
}

async fn wait_tasks(shared: &Shared) {
    loop {
        let tasks: Vec<_> = std::mem::take(&mut *lock(&shared.tasks));
        if tasks.is_empty() {
            return;
        }
        for t in tasks {
            let _ = t.await;
        }
    }
}

async fn wait_stop(mut stop: watch::Receiver<bool>) {
    // An Err (sender dropped: the `Running` is gone) also means stop.
    let _ = stop.wait_for(|s| *s).await;
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    let stopped = wait_stop(stop.clone());
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let shared = shared.clone();
                    let stop = stop.clone();
                    tokio::spawn(async move {
                        let svc = service_fn(move |req| {
                            let shared = shared.clone();
                            async move { Ok::<_, Infallible>(route(shared, req).await) }
                        });
                        let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
                        tokio::pin!(conn);
                        let stopped = tokio::select! {
                            _ = conn.as_mut() => false,
                            _ = wait_stop(stop) => true,
                        };
                        if stopped {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    });
                }
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = &mut stopped => break,
        }
    }
}

type Resp = Response<Full<Bytes>>;

fn json_response(status: u16, value: &impl Serialize) -> Resp {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec_pretty(value).expect("serializes"))))
        .expect("valid response")
}

fn admin_error(status: u16, message: impl Into<String>) -> Resp {
    json_response(status, &serde_json::json!({ "error": message.into() }))
}

fn api_error_response(request_id: &str, e: &ApiError) -> Resp {
    Response::builder()
        .status(e.status)
        .header(http::header::CONTENT_TYPE, CONTENT_TYPE)
        .header("x-amzn-RequestId", request_id)
        .header("x-amzn-ErrorType", e.error_type.as_str())
        .body(Full::new(Bytes::from(e.body())))
        .expect("valid response")
}

async fn read_body(body: Incoming) -> Result<Bytes, String> {
    Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| format!("could not read the request body: {e}"))
}

async fn route(shared: Arc<Shared>, req: Request<Incoming>) -> Resp {
    let path = req.uri().path().to_string();
    if path == "/" {
        return api(shared, req).await;
    }
    if let Some(rest) = path.strip_prefix("/_admin/") {
        let segments: Vec<String> = rest.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
        return admin(shared, req, segments).await;
    }
    admin_error(404, format!("no route for {path}"))
}

// ---------------------------------------------------------------------------------------------
// The API endpoint.

async fn api(shared: Arc<Shared>, req: Request<Incoming>) -> Resp {
    let received_at = truncate_to_millis(OffsetDateTime::now_utc());
    let request_id = uuid::Uuid::new_v4().to_string();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let target = header("x-amz-target");
    let authorization = header("authorization");
    let amz_date = header("x-amz-date").or_else(|| header("date"));
    let content_type = header("content-type");
    let method = req.method().clone();
    let body = read_body(req.into_body()).await;

    let mut entry = RequestEntry {
        request_id: request_id.clone(),
        received_at,
        target: target.clone(),
        credential: None,
        status: 0,
        error: None,
        parameters: body.as_ref().ok().and_then(|b| serde_json::from_slice(b).ok()),
        data_set_request_id: None,
        export: None,
        notification: None,
        delivery: None,
    };

    let outcome = (|| {
        if method != Method::POST {
            return Err(ApiError::new(
                405,
                "UnknownOperationException",
                format!("{method} is not supported; use POST"),
            ));
        }
        let credential = wire::check_authorization(
            authorization.as_deref(),
            amz_date.as_deref(),
            shared.required_region.as_deref(),
        )?;
        entry.credential = Some(credential);
        match target.as_deref() {
            Some(START_SUPPORT_DATA_EXPORT_TARGET) => {}
            Some(t) if t.starts_with(TARGET_PREFIX) => {
                return Err(ApiError::new(
                    400,
                    "UnknownOperationException",
                    format!("{t} is not emulated by cas-standin (only StartSupportDataExport is)"),
                ));
            }
            _ => {
                return Err(ApiError::new(400, "UnknownOperationException", "Unknown or missing X-Amz-Target"));
            }
        }
        wire::check_content_type(content_type.as_deref())?;
        let body = body.as_ref().map_err(|e| ApiError::serialization(e.clone()))?;
        if let Some(injected) = shared.take_injected_error() {
            return Err(injected);
        }
        wire::parse_request(body)
    })();

    match outcome {
        Err(e) => {
            warn!(request_id, error_type = %e.error_type, status = e.status, message = %e.message, "request rejected");
            entry.status = e.status;
            entry.error = Some(e.clone());
            shared.push(entry);
            api_error_response(&request_id, &e)
        }
        Ok(request) => {
            let lag = *lock(&shared.lag);
            let fail = lock(&shared.fail_next).take();
            let plan = ExportPlan::new(request_id.clone(), request, received_at, lag);
            info!(
                request_id,
                data_set_type = plan.request.data_set_type.as_str(),
                coverage_start = %format_timestamp(plan.coverage_start),
                coverage_end = %format_timestamp(plan.coverage_end),
                injected_failure = fail.is_some(),
                "export requested"
            );
            entry.status = 200;
            entry.data_set_request_id = Some(request_id.clone());
            entry.export = Some(ExportSummary {
                coverage_start: plan.coverage_start,
                coverage_end: plan.coverage_end,
                bucket_name: plan.data_set.bucket_name.clone(),
                data_set_key: plan.data_set.key.clone(),
                meta_data_key: plan.metadata.key.clone(),
                injected_failure: fail.clone(),
                rows: None,
                written: false,
            });
            entry.delivery = Some(DeliveryStatus::Pending);
            shared.push(entry);
            let task = tokio::spawn(run_export(shared.clone(), plan, fail));
            {
                let mut tasks = lock(&shared.tasks);
                tasks.retain(|t| !t.is_finished());
                tasks.push(task);
            }
            Response::builder()
                .status(StatusCode::OK)
                .header(http::header::CONTENT_TYPE, CONTENT_TYPE)
                .header("x-amzn-RequestId", request_id.as_str())
                .body(Full::new(Bytes::from(
                    serde_json::to_vec(&serde_json::json!({ "dataSetRequestId": request_id })).expect("serializes"),
                )))
                .expect("valid response")
        }
    }
}

async fn put_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<(), String> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .body(aws_sdk_s3::primitives::ByteStream::from(body))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("Failed to write s3://{bucket}/{key}: {}", aws_sdk_s3::error::DisplayErrorContext(&e)))
}

async fn run_export(shared: Arc<Shared>, plan: ExportPlan, fail: Option<String>) {
    let id = plan.data_set_request_id.clone();
    let message = match fail {
        Some(reason) => {
            info!(request_id = %id, "export failed on purpose (fail-next)");
            plan.failure_message(reason)
        }
        None => {
            let rows = shared.store.export_rows(plan.coverage_start, plan.coverage_end);
            let count = rows.len();
            let csv = write_csv_with_header(&rows, shared.account_id_header);
            let result = async {
                put_object(&shared.s3, &plan.data_set.bucket_name, &plan.data_set.key, "text/csv", csv).await?;
                let meta = plan.metadata_json(truncate_to_millis(OffsetDateTime::now_utc()));
                put_object(&shared.s3, &plan.metadata.bucket_name, &plan.metadata.key, "application/json", meta).await
            }
            .await;
            match result {
                Ok(()) => {
                    info!(request_id = %id, rows = count, bucket = %plan.data_set.bucket_name, key = %plan.data_set.key, "export written");
                    shared.update(&id, |e| {
                        if let Some(x) = e.export.as_mut() {
                            x.rows = Some(count);
                            x.written = true;
                        }
                    });
                    plan.success_message()
                }
                Err(reason) => {
                    error!(request_id = %id, error = %reason, "export failed");
                    plan.failure_message(reason)
                }
            }
        }
    };
    let message_json = message.to_json();
    let sns_event = sns_event_json(
        &plan.request.sns_topic_arn,
        &message_json,
        &uuid::Uuid::new_v4().to_string(),
        &uuid::Uuid::new_v4().to_string(),
        OffsetDateTime::now_utc(),
    );
    let notification = Notification { data_set_request_id: id.clone(), message, sns_event };
    shared.update(&id, |e| e.notification = Some(notification.clone()));
    let status = shared.delivery.deliver(notification).await;
    match &status {
        DeliveryStatus::Failed { error } => {
            warn!(request_id = %id, error = %error, "notification delivery failed")
        }
        other => info!(request_id = %id, status = ?other, "notification delivered"),
    }
    shared.update(&id, |e| e.delivery = Some(status));
}

// ---------------------------------------------------------------------------------------------
// Admin endpoints.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordInput {
    #[serde(flatten)]
    contact: Contact,
    #[serde(default, with = "timestamp_serde::option")]
    operation_time: Option<OffsetDateTime>,
    #[serde(default)]
    operation_type: Option<OperationType>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DeleteInput {
    #[serde(default, with = "timestamp_serde::option")]
    operation_time: Option<OffsetDateTime>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ResetInput {
    seed: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct FailNextInput {
    message: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ConfigInput {
    lag_seconds: Option<u64>,
}

fn parse_json<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| format!("bad JSON body: {e}"))
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (percent_decode(k) == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn store_record(shared: &Shared, input: RecordInput) -> Record {
    let record = match input.operation_type {
        Some(op) => shared.store.insert(Record::from_contact(
            input.contact,
            input.operation_time.unwrap_or_else(OffsetDateTime::now_utc),
            op,
        )),
        None => shared.store.upsert(input.contact, input.operation_time),
    };
    info!(
        customer_guid = %record.customer_guid,
        operation_type = %record.operation_type,
        operation_time = %format_timestamp(record.operation_time),
        "record stored"
    );
    record
}

async fn admin(shared: Arc<Shared>, req: Request<Incoming>, segments: Vec<String>) -> Resp {
    let method = req.method().clone();
    let query = req.uri().query().map(str::to_string);
    let body = match read_body(req.into_body()).await {
        Ok(b) => b,
        Err(e) => return admin_error(400, e),
    };
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (&method, segs.as_slice()) {
        (&Method::GET, ["health"]) => json_response(200, &serde_json::json!({ "status": "ok" })),
        (&Method::GET, ["config"]) => json_response(200, &config_json(&shared)),
        (&Method::PUT | &Method::POST, ["config"]) => match parse_json::<ConfigInput>(&body) {
            Ok(c) => {
                if let Some(s) = c.lag_seconds {
                    *lock(&shared.lag) = Duration::from_secs(s);
                    info!(lag_secs = s, "lag changed");
                }
                json_response(200, &config_json(&shared))
            }
            Err(e) => admin_error(400, e),
        },
        (&Method::GET, ["records"]) => json_response(200, &shared.store.latest_all()),
        (&Method::POST, ["records"]) => {
            let value: serde_json::Value = match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => return admin_error(400, format!("bad JSON body: {e}")),
            };
            match value {
                serde_json::Value::Array(items) => {
                    let inputs: Result<Vec<RecordInput>, _> =
                        items.into_iter().map(serde_json::from_value::<RecordInput>).collect();
                    match inputs {
                        Ok(inputs) => {
                            let stored: Vec<Record> = inputs.into_iter().map(|i| store_record(&shared, i)).collect();
                            json_response(201, &stored)
                        }
                        Err(e) => admin_error(400, format!("bad record: {e}")),
                    }
                }
                v => match serde_json::from_value::<RecordInput>(v) {
                    Ok(input) => json_response(201, &store_record(&shared, input)),
                    Err(e) => admin_error(400, format!("bad record: {e}")),
                },
            }
        }
        (&Method::GET, ["records", guid]) => {
            let history = shared.store.history(guid);
            if history.is_empty() {
                admin_error(404, format!("no record with customer guid {guid}"))
            } else {
                json_response(200, &history)
            }
        }
        (&Method::DELETE, ["records", guid]) => {
            let at = match query_param(query.as_deref(), "operationTime") {
                Some(t) => match parse_timestamp(&t) {
                    Some(t) => Some(t),
                    None => return admin_error(400, "operationTime must be an ISO 8601 timestamp"),
                },
                None => match parse_json::<DeleteInput>(&body) {
                    Ok(d) => d.operation_time,
                    Err(e) => return admin_error(400, e),
                },
            };
            match shared.store.delete(guid, at) {
                Ok(record) => {
                    info!(customer_guid = %record.customer_guid, operation_time = %format_timestamp(record.operation_time), "record deleted");
                    json_response(200, &record)
                }
                Err(e) => admin_error(404, e.to_string()),
            }
        }
        (&Method::POST, ["reset"]) => match parse_json::<ResetInput>(&body) {
            Ok(r) => {
                let seed = r.seed.unwrap_or(shared.seed);
                shared.store.clear();
                if seed {
                    shared.store.seed_guide_data();
                }
                info!(seeded = seed, records = shared.store.len(), "store reset");
                json_response(200, &serde_json::json!({ "records": shared.store.len() }))
            }
            Err(e) => admin_error(400, e),
        },
        (&Method::POST, ["fail-next"]) => match parse_json::<FailNextInput>(&body) {
            Ok(f) => {
                let message = f.message.unwrap_or_else(|| "Injected failure (cas-standin)".into());
                *lock(&shared.fail_next) = Some(message.clone());
                info!("next export will fail");
                json_response(200, &serde_json::json!({ "failNext": message }))
            }
            Err(e) => admin_error(400, e),
        },
        (&Method::DELETE, ["fail-next"]) => {
            *lock(&shared.fail_next) = None;
            json_response(200, &serde_json::json!({ "failNext": null }))
        }
        (&Method::POST, ["error-next"]) => {
            let input: Result<InjectedError, String> = if body.iter().all(u8::is_ascii_whitespace) {
                Ok(InjectedError {
                    error_type: default_error_type(),
                    message: default_error_message(),
                    status: None,
                    count: 1,
                })
            } else {
                serde_json::from_slice(&body).map_err(|e| format!("bad JSON body: {e}"))
            };
            match input {
                Ok(err) => {
                    info!(error_type = %err.error_type, count = err.count, "next API requests will fail");
                    *lock(&shared.error_next) = if err.count == 0 { None } else { Some(err.clone()) };
                    json_response(200, &err)
                }
                Err(e) => admin_error(400, e),
            }
        }
        (&Method::DELETE, ["error-next"]) => {
            *lock(&shared.error_next) = None;
            json_response(200, &serde_json::json!({ "errorNext": null }))
        }
        (&Method::GET, ["requests"]) => json_response(200, &*lock(&shared.log)),
        (&Method::GET, ["requests", id]) => match shared.find(id) {
            Some(e) => json_response(200, &e),
            None => admin_error(404, format!("no request {id}")),
        },
        (&Method::DELETE, ["requests"]) => {
            lock(&shared.log).clear();
            json_response(200, &serde_json::json!({ "requests": 0 }))
        }
        _ => admin_error(404, format!("no admin route {method} /_admin/{}", segments.join("/"))),
    }
}

fn config_json(shared: &Shared) -> serde_json::Value {
    serde_json::json!({
        "lagSeconds": lock(&shared.lag).as_secs(),
        "delivery": format!("{:?}", shared.delivery),
        "seedGuideData": shared.seed,
        "requiredRegion": shared.required_region,
        "records": shared.store.len(),
        "failNext": lock(&shared.fail_next).is_some(),
        "errorNext": lock(&shared.error_next).clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_and_query() {
        assert_eq!(percent_decode("2024-01-01T00%3A00%3A00Z"), "2024-01-01T00:00:00Z");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(
            query_param(Some("a=1&operationTime=2024-01-01T00%3A00%3A00.000Z"), "operationTime").as_deref(),
            Some("2024-01-01T00:00:00.000Z")
        );
        assert_eq!(query_param(None, "x"), None);
    }

    #[test]
    fn injected_error_defaults() {
        let e: InjectedError = serde_json::from_str("{}").unwrap();
        assert_eq!((e.error_type.as_str(), e.count), (SERVICE_EXCEPTION, 1));
        assert_eq!(e.api_error().status, 500);
        let e: InjectedError = serde_json::from_str(r#"{"type":"ThrottlingException"}"#).unwrap();
        assert_eq!(e.api_error().status, 400);
    }
}
