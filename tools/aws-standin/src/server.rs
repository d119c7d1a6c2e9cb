//! The HTTP server (axum): `StartSupportDataExport` and its background export, EC2's
//! `ConfirmProductInstance`, the Agreement API's `SearchAgreements`, and the admin endpoints.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, Response};
use axum::response::IntoResponse;
use axum::routing::{any, delete, get, post, put};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::agreements::{self, Agreement, AgreementsError};
use crate::delivery::{Delivery, DeliveryStatus, Notification, post_event};
use crate::ec2::{self, Ec2Error, Instance};
use crate::export::{ExportPlan, sns_event_json, write_csv};
use crate::feeds::{FeedsData, FeedsDelivery};
use crate::record::{Contact, OperationType, Record, format_timestamp, timestamp_serde, truncate_to_millis};
use crate::seed;
use crate::service::{Protocol, Service};
use crate::store::Store;
use crate::wire::{self, ApiError, CONTENT_TYPE, SERVICE_EXCEPTION, START_SUPPORT_DATA_EXPORT_TARGET, TARGET_PREFIX};

/// The real service's lag: exports cover changes up to 15 minutes before the request.
pub const DEFAULT_LAG: Duration = Duration::from_secs(15 * 60);

/// An error the API answers with instead of processing a request (`POST /_admin/error-next`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InjectedError {
    /// Error type (`__type` / `x-amzn-ErrorType`, EC2's `Code`).
    #[serde(rename = "type")]
    pub error_type: String,
    pub message: String,
    /// HTTP status; default: the service's for the type ([`InjectedError::status_for`]).
    pub status: Option<u16>,
    /// How many requests in a row get it. The SDKs retry 5xx and throttling errors (3 attempts
    /// by default): inject 3 to make one SDK call fail with default retry settings.
    pub count: u32,
}

const DEFAULT_ERROR_MESSAGE: &str = "Injected fault (aws-standin)";

impl InjectedError {
    /// `count` requests answered with a 500 `MarketplaceCommerceAnalyticsException`.
    pub fn service_fault(message: impl Into<String>, count: u32) -> Self {
        InjectedError { error_type: SERVICE_EXCEPTION.into(), message: message.into(), status: Some(500), count }
    }

    /// `count` requests answered with `error_type` at the status the service gives it
    /// ([`InjectedError::status_for`]).
    pub fn of_type(error_type: impl Into<String>, count: u32) -> Self {
        InjectedError { error_type: error_type.into(), message: DEFAULT_ERROR_MESSAGE.into(), status: None, count }
    }

    /// The same with a message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// The error type a service's injected errors default to: `MarketplaceCommerceAnalyticsException`
    /// (cas), `InternalError` (ec2), `InternalServerException` (agreements).
    pub fn default_type(service: Service) -> &'static str {
        match service {
            Service::Cas => SERVICE_EXCEPTION,
            Service::Ec2 => "InternalError",
            Service::Agreements => "InternalServerException",
        }
    }

    /// The HTTP status this error is answered with by `service`.
    pub fn status_for(&self, service: Service) -> u16 {
        self.status.unwrap_or_else(|| match service {
            Service::Cas => match self.error_type.as_str() {
                SERVICE_EXCEPTION | "InternalFailure" | "ServiceUnavailable" => 500,
                _ => 400,
            },
            Service::Ec2 => Ec2Error::default_status(&self.error_type),
            Service::Agreements => AgreementsError::default_status(&self.error_type),
        })
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

/// One request received on the API endpoints (any service), and what became of it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestEntry {
    /// `x-amzn-RequestId` of the answer (also the `dataSetRequestId` or EC2's `requestId`).
    pub request_id: String,
    #[serde(with = "timestamp_serde")]
    pub received_at: OffsetDateTime,
    /// Which emulated service the request was for.
    pub service: Service,
    /// The operation asked for, when the request named one.
    pub operation: Option<String>,
    pub protocol: Protocol,
    /// The `Authorization` header's credential scope, read also when the header was rejected.
    pub signing_region: Option<String>,
    pub signing_service: Option<String>,
    /// `X-Amz-Target` (JSON protocols).
    pub target: Option<String>,
    /// Credential scope of the `Authorization` header, when it had the right shape.
    pub credential: Option<wire::Credential>,
    /// HTTP status of the answer.
    pub status: u16,
    /// The error answered (`__type` = the error code, also for EC2).
    pub error: Option<ApiError>,
    /// The request as received: the JSON body, the CBOR body as JSON, or EC2's parameters.
    pub parameters: Option<serde_json::Value>,
    /// EC2: the `InstanceId` and `ProductCode` parameters.
    pub instance_id: Option<String>,
    pub product_code: Option<String>,
    /// Agreements: the request's `filters`, when the body could be read.
    pub filters: Option<Vec<agreements::Filter>>,
    /// What a successful EC2 / agreements call answered (`return`, `ownerId` / `agreementIds`).
    pub result: Option<serde_json::Value>,
    pub data_set_request_id: Option<String>,
    pub export: Option<ExportSummary>,
    pub notification: Option<Notification>,
    pub delivery: Option<DeliveryStatus>,
}

impl RequestEntry {
    /// A request's entry (a new request id), with the signing scope of its `authorization` header.
    fn new(service: Service, protocol: Protocol, at: OffsetDateTime, authorization: Option<&str>) -> Self {
        let (signing_region, signing_service) = wire::credential_scope(authorization).unzip();
        RequestEntry {
            request_id: uuid::Uuid::new_v4().to_string(),
            received_at: at,
            service,
            operation: None,
            protocol,
            signing_region,
            signing_service,
            target: None,
            credential: None,
            status: 0,
            error: None,
            parameters: None,
            instance_id: None,
            product_code: None,
            filters: None,
            result: None,
            data_set_request_id: None,
            export: None,
            notification: None,
            delivery: None,
        }
    }
}

struct Shared {
    /// As started (its `s3` and `latency` moved out to the fields below).
    config: StandIn,
    store: Store,
    s3: aws_sdk_s3::Client,
    fail_next: Mutex<Option<String>>,
    error_next: Mutex<HashMap<Service, InjectedError>>,
    latency: Mutex<HashMap<Service, Duration>>,
    instances: Mutex<BTreeMap<String, Instance>>,
    agreements: Mutex<BTreeMap<String, Agreement>>,
    log: Mutex<Vec<RequestEntry>>,
    version: watch::Sender<u64>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    stop: watch::Receiver<bool>,
    /// The data feeds delivered so far (`POST /_admin/feeds/deliver`); a
    /// tokio mutex: held across the writes, so deliveries do not interleave.
    feeds: tokio::sync::Mutex<FeedsData>,
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

    /// Consumes one of the errors injected for `service`: its status, type and message.
    fn take_injected(&self, service: Service) -> Option<ApiError> {
        let mut slots = lock(&self.error_next);
        let injected = slots.get_mut(&service)?;
        let taken = ApiError::new(injected.status_for(service), &injected.error_type, &injected.message);
        injected.count = injected.count.saturating_sub(1);
        if injected.count == 0 {
            slots.remove(&service);
        }
        Some(taken)
    }

    fn set_injected(&self, service: Service, error: InjectedError) {
        let mut slots = lock(&self.error_next);
        if error.count == 0 {
            slots.remove(&service);
        } else {
            slots.insert(service, error);
        }
    }

    /// Waits the service's configured latency (cut short when the server stops).
    async fn delay(&self, service: Service) {
        let latency = lock(&self.latency).get(&service).copied().unwrap_or_default();
        if !latency.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(latency) => {}
                _ = wait_stop(self.stop.clone()) => {}
            }
        }
    }

    fn reseed_market(&self, seed: bool) {
        let mut instances = lock(&self.instances);
        let mut agreements = lock(&self.agreements);
        instances.clear();
        agreements.clear();
        if seed {
            instances.extend(seed::instances().into_iter().map(|i| (i.instance_id.clone(), i)));
            agreements.extend(
                seed::agreements(&self.config.seller_account_id).into_iter().map(|a| (a.agreement_id.clone(), a)),
            );
        }
    }
}

/// A stand-in's configuration (`StandIn { lag: Duration::ZERO, ..Default::default() }`);
/// [`StandIn::start`] starts one.
pub struct StandIn {
    /// Exports cover changes up to `request time - lag` (default 15 minutes; tests use 0).
    pub lag: Duration,
    /// Where notifications go (default [`Delivery::None`]: recorded only).
    pub delivery: Delivery,
    /// The S3 client exports are written with (default: [`crate::s3_client_from_env`]).
    pub s3: Option<aws_sdk_s3::Client>,
    /// Seed the guide's records, instances and agreements (default true). Also what
    /// `POST /_admin/reset` does by default.
    pub seed: bool,
    /// Reject requests whose credential scope names another region (the real service exists in
    /// us-east-1 only). Default: any region.
    pub required_region: Option<String>,
    /// The seller account `SearchAgreements` searches as, proposer of the seeded agreements
    /// (default [`seed::SELLER_ACCOUNT_ID`]).
    pub seller_account_id: String,
    /// A fixed latency added to every API request of a service (default none).
    pub latency: HashMap<Service, Duration>,
    /// Where `POST /_admin/feeds/deliver` writes the Seller Delivery Data
    /// Feeds (default none: the call answers 409).
    pub feeds: Option<FeedsTarget>,
}

/// The seller's data-feeds bucket, and where the feeds' notifications go.
#[derive(Debug, Clone)]
pub struct FeedsTarget {
    pub bucket: String,
    /// A key prefix under which the feed folders are (`""`: the bucket's root).
    pub prefix: String,
    /// POST each notification's SNS Lambda event to this Invoke URL, with
    /// this timeout (default none: the events are in the call's answer).
    pub deliver_to: Option<(String, Duration)>,
    /// The topic the events name.
    pub topic_arn: String,
}

impl Default for StandIn {
    fn default() -> Self {
        StandIn {
            lag: DEFAULT_LAG,
            delivery: Delivery::None,
            s3: None,
            seed: true,
            required_region: None,
            seller_account_id: seed::SELLER_ACCOUNT_ID.to_string(),
            latency: HashMap::new(),
            feeds: None,
        }
    }
}

impl StandIn {
    /// Binds `addr` (use port 0 for any free port) and starts serving.
    pub async fn start(mut self, addr: impl ToSocketAddrs) -> std::io::Result<Running> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let s3 = match self.s3.take() {
            Some(c) => c,
            None => crate::s3_client_from_env().await,
        };
        let store = if self.seed { Store::with_guide_data() } else { Store::new() };
        let (version, _) = watch::channel(0u64);
        let (stop_tx, stop_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            store,
            s3,
            fail_next: Mutex::default(),
            error_next: Mutex::default(),
            latency: Mutex::new(std::mem::take(&mut self.latency)),
            instances: Mutex::default(),
            agreements: Mutex::default(),
            log: Mutex::default(),
            version,
            tasks: Mutex::default(),
            stop: stop_rx.clone(),
            feeds: tokio::sync::Mutex::default(),
            config: self,
        });
        shared.reseed_market(shared.config.seed);
        info!(addr = %local_addr, lag_secs = shared.config.lag.as_secs(), delivery = ?shared.config.delivery, records = shared.store.len(), "aws-standin started");
        let running = shared.clone();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, router(shared)).with_graceful_shutdown(wait_stop(stop_rx));
            if let Err(e) = serve.await {
                warn!(error = %e, "the server stopped");
            }
        });
        Ok(Running { addr: local_addr, shared: running, stop: stop_tx, server })
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
    /// What `POST /_admin/feeds/deliver` does: the next day of the data
    /// feeds. `Err` (a message) without a [`FeedsTarget`] or when S3 refuses a write.
    pub async fn deliver_feeds(&self) -> Result<FeedsAnswer, String> {
        deliver_feeds_now(&self.shared).await.map_err(|AdminError(_, message)| message)
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

    /// The next `count` (0 cancels) requests of `service` are answered with this error, in the
    /// service's protocol.
    pub fn inject_service_error(&self, service: Service, error: InjectedError) {
        self.shared.set_injected(service, error);
    }

    /// Cancels the errors injected for `service`.
    pub fn clear_injected_error(&self, service: Service) {
        lock(&self.shared.error_next).remove(&service);
    }

    /// The latency added to `service`'s requests.
    pub fn latency(&self, service: Service) -> Duration {
        lock(&self.shared.latency).get(&service).copied().unwrap_or_default()
    }

    /// Adds a fixed latency to every following request of `service` (`Duration::ZERO`: none).
    pub fn set_latency(&self, service: Service, latency: Duration) {
        lock(&self.shared.latency).insert(service, latency);
    }

    /// The configured seller account (see [`StandIn::seller_account_id`]).
    pub fn seller_account_id(&self) -> &str {
        &self.shared.config.seller_account_id
    }

    /// The EC2 instances by instance id, to read or change (locked until the guard is dropped).
    pub fn instances(&self) -> MutexGuard<'_, BTreeMap<String, Instance>> {
        lock(&self.shared.instances)
    }

    /// The agreements by agreement id, to read or change (locked until the guard is dropped).
    pub fn agreements(&self) -> MutexGuard<'_, BTreeMap<String, Agreement>> {
        lock(&self.shared.agreements)
    }

    /// What `POST /_admin/reset` does: empties the records, instances and agreements and, when
    /// `seed`, loads the guide's records and [`seed`]'s instances and agreements again.
    pub fn reset(&self, seed: bool) {
        reset(&self.shared, seed);
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

    /// Stops accepting, closes connections, and waits for in-flight exports.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        wait_tasks(&self.shared).await;
        info!("aws-standin stopped");
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

fn router(shared: Arc<Shared>) -> Router {
    let admin = Router::new()
        .route("/health", get(|| async { json(200, serde_json::json!({ "status": "ok" })) }))
        .route("/records", get(records).post(add_records))
        .route("/records/{guid}", get(record_history).delete(delete_record))
        .route("/reset", post(reset_admin))
        .route("/fail-next", post(fail_next))
        .route("/error-next", post(error_next))
        .route("/latency", put(set_latency))
        .route("/instances", get(instances).post(add_instances))
        .route("/instances/{id}", delete(delete_instance))
        .route("/agreements", get(agreements).post(add_agreements))
        .route("/agreements/{id}", delete(delete_agreement))
        .route("/requests", get(requests).delete(clear_requests))
        .route("/requests/{id}", get(request))
        .route("/feeds/deliver", post(deliver_feeds));
    Router::new()
        .route("/", any(root))
        .route("/service/{service}/operation/{operation}", any(agreements_api))
        .nest("/_admin", admin)
        .with_state(shared)
}

type Resp = Response<Body>;

/// A response with a status, headers and a body.
fn answer(status: u16, headers: &[(&str, &str)], body: impl Into<Body>) -> Resp {
    let mut b = Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(body.into()).expect("valid response")
}

fn json(status: u16, value: impl Serialize) -> Resp {
    let body = serde_json::to_vec_pretty(&value).expect("serializes");
    answer(status, &[("content-type", "application/json")], body)
}

/// An admin call's error: its status and `{"error": message}`.
struct AdminError(u16, String);

impl IntoResponse for AdminError {
    fn into_response(self) -> Resp {
        json(self.0, serde_json::json!({ "error": self.1 }))
    }
}

fn admin_error(status: u16, message: impl Into<String>) -> AdminError {
    AdminError(status, message.into())
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// `X-Amz-Date`, or `Date`.
fn amz_date(headers: &HeaderMap) -> Option<String> {
    header(headers, "x-amz-date").or_else(|| header(headers, "date"))
}

/// The start every API request shares: the request's log entry (a new request id, the time,
/// the signing scope of its `Authorization` header), after the service's latency.
async fn begin(shared: &Shared, service: Service, protocol: Protocol, headers: &HeaderMap) -> RequestEntry {
    let received_at = truncate_to_millis(OffsetDateTime::now_utc());
    shared.delay(service).await;
    RequestEntry::new(service, protocol, received_at, header(headers, "authorization").as_deref())
}

/// The end every API request shares: logs a rejection, records the answer's status in the
/// request log, and answers with `headers` and the request id.
fn finish(
    shared: &Shared,
    mut entry: RequestEntry,
    status: u16,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Resp {
    let response = answer(status, &[headers, &[("x-amzn-RequestId", &entry.request_id)]].concat(), body);
    if let Some(e) = &entry.error {
        let (request_id, service) = (&entry.request_id, entry.service);
        warn!(request_id, %service, error_type = %e.error_type, status, message = %e.message, "request rejected");
    }
    entry.status = status;
    shared.push(entry);
    response
}

/// `/`: EC2 Query when the body is form-encoded, else Commerce Analytics (AWS JSON 1.1).
async fn root(State(shared): State<Arc<Shared>>, method: Method, headers: HeaderMap, body: Bytes) -> Resp {
    if ec2::is_form_content_type(header(&headers, "content-type").as_deref()) {
        ec2_api(shared, headers, body).await
    } else {
        cas_api(shared, method, headers, body).await
    }
}

// ---------------------------------------------------------------------------------------------
// Commerce Analytics: StartSupportDataExport (AWS JSON 1.1).

async fn cas_api(shared: Arc<Shared>, method: Method, headers: HeaderMap, body: Bytes) -> Resp {
    let mut entry = begin(&shared, Service::Cas, Protocol::Json11, &headers).await;
    let target = header(&headers, "x-amz-target");
    entry.target = target.clone();
    entry.operation = target.as_deref().map(|t| t.strip_prefix(TARGET_PREFIX).unwrap_or(t).to_string());
    entry.parameters = serde_json::from_slice(&body).ok();

    let outcome = (|| {
        let unknown = |status, message: String| Err(ApiError::new(status, "UnknownOperationException", message));
        if method != Method::POST {
            return unknown(405, format!("{method} is not supported; use POST"));
        }
        let (region, authorization) = (shared.config.required_region.as_deref(), header(&headers, "authorization"));
        entry.credential =
            Some(wire::check_authorization(authorization.as_deref(), amz_date(&headers).as_deref(), region)?);
        match target.as_deref() {
            Some(START_SUPPORT_DATA_EXPORT_TARGET) => {}
            Some(t) if t.starts_with(TARGET_PREFIX) => {
                return unknown(400, format!("{t} is not emulated by aws-standin (only StartSupportDataExport is)"));
            }
            _ => return unknown(400, "Unknown or missing X-Amz-Target".into()),
        }
        wire::check_content_type(header(&headers, "content-type").as_deref())?;
        if let Some(injected) = shared.take_injected(Service::Cas) {
            return Err(injected);
        }
        wire::parse_request(&body)
    })();

    let request = match outcome {
        Ok(request) => request,
        Err(e) => {
            let (status, body) = (e.status, e.body());
            let error_type = e.error_type.clone();
            entry.error = Some(e);
            let headers = [("content-type", CONTENT_TYPE), ("x-amzn-ErrorType", &error_type)];
            return finish(&shared, entry, status, &headers, body);
        }
    };
    let request_id = entry.request_id.clone();
    let fail = lock(&shared.fail_next).take();
    let plan = ExportPlan::new(request_id.clone(), request, entry.received_at, shared.config.lag);
    info!(
        request_id,
        data_set_type = plan.request.data_set_type.as_str(),
        coverage_start = %format_timestamp(plan.coverage_start),
        coverage_end = %format_timestamp(plan.coverage_end),
        injected_failure = fail.is_some(),
        "export requested"
    );
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
    let body = serde_json::to_vec(&serde_json::json!({ "dataSetRequestId": request_id })).expect("serializes");
    let response = finish(&shared, entry, 200, &[("content-type", CONTENT_TYPE)], body);
    let mut tasks = lock(&shared.tasks);
    tasks.retain(|t| !t.is_finished());
    tasks.push(tokio::spawn(run_export(shared.clone(), plan, fail)));
    response
}

// ---------------------------------------------------------------------------------------------
// EC2: ConfirmProductInstance (EC2 Query, a form-encoded POST).

async fn ec2_api(shared: Arc<Shared>, headers: HeaderMap, body: Bytes) -> Resp {
    let mut entry = begin(&shared, Service::Ec2, Protocol::Query, &headers).await;
    let params = ec2::parse_params(&body);
    entry.operation = ec2::param(&params, "Action").map(str::to_string);
    entry.instance_id = ec2::param(&params, "InstanceId").map(str::to_string);
    entry.product_code = ec2::param(&params, "ProductCode").map(str::to_string);
    entry.parameters = Some(params.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect());

    let outcome = (|| {
        let authorization = header(&headers, "authorization");
        let credential =
            wire::check_sigv4(authorization.as_deref(), amz_date(&headers).as_deref(), ec2::EC2_SIGNING_NAME, None)
                .map_err(|e| match authorization {
                    None => Ec2Error::auth_failure("AWS was not able to validate the provided access credentials"),
                    Some(_) => Ec2Error::auth_failure(e.message),
                })?;
        let region = credential.region.clone();
        entry.credential = Some(credential);
        if let Some(injected) = shared.take_injected(Service::Ec2) {
            return Err(Ec2Error::new(injected.status, injected.error_type, injected.message));
        }
        let request = ec2::parse_confirm_product_instance(&params)?;
        ec2::confirm(lock(&shared.instances).values(), &region, &request)
    })();

    let (status, xml) = match outcome {
        Ok(confirmation) => {
            let request_id = &entry.request_id;
            info!(request_id, instance_id = ?entry.instance_id, result = confirmation.result, "ConfirmProductInstance");
            entry.result = serde_json::to_value(&confirmation).ok();
            (200, ec2::confirm_xml(request_id, &confirmation))
        }
        Err(e) => {
            entry.error = Some(ApiError::new(e.status, e.code.clone(), e.message.clone()));
            (e.status, e.xml(&entry.request_id))
        }
    };
    finish(&shared, entry, status, &[("content-type", ec2::XML_CONTENT_TYPE)], xml)
}

// ---------------------------------------------------------------------------------------------
// Agreement API: SearchAgreements (RPC v2 CBOR).

async fn agreements_api(
    State(shared): State<Arc<Shared>>,
    Path((service, operation)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Resp {
    let mut entry = begin(&shared, Service::Agreements, Protocol::Cbor, &headers).await;
    entry.operation = (service == agreements::SERVICE_SHAPE).then(|| operation.clone());
    let document =
        if body.trim_ascii().is_empty() { Ok(serde_json::json!({})) } else { agreements::cbor_to_json(&body) };
    entry.parameters = document.as_ref().ok().cloned();
    entry.filters =
        entry.parameters.as_ref().and_then(|p| agreements::parse_search_request(p).ok()).and_then(|r| r.filters);

    let outcome = (|| {
        if method != Method::POST {
            let message = format!("{method} is not supported; use POST");
            return Err(AgreementsError::new(405, "UnknownOperationException", message));
        }
        if header(&headers, "smithy-protocol").as_deref() != Some(agreements::SMITHY_PROTOCOL) {
            let message =
                format!("RPC v2 CBOR requests need the header smithy-protocol: {}", agreements::SMITHY_PROTOCOL);
            return Err(AgreementsError::serialization(message));
        }
        let authorization = header(&headers, "authorization");
        let credential =
            wire::check_sigv4(authorization.as_deref(), amz_date(&headers).as_deref(), agreements::SIGNING_NAME, None)
                .map_err(|e| AgreementsError::new(e.status, e.error_type, e.message))?;
        entry.credential = Some(credential);
        if entry.operation.as_deref() != Some(agreements::SEARCH_AGREEMENTS) {
            let message = format!("{service}.{operation} is not emulated by aws-standin (only SearchAgreements is)");
            return Err(AgreementsError::new(404, "UnknownOperationException", message));
        }
        let content_type = header(&headers, "content-type");
        if content_type.as_deref().and_then(|c| c.split(';').next()).map(str::trim)
            != Some(agreements::CBOR_CONTENT_TYPE)
        {
            let message = format!("Content-Type must be {}, not {content_type:?}", agreements::CBOR_CONTENT_TYPE);
            return Err(AgreementsError::serialization(message));
        }
        if let Some(injected) = shared.take_injected(Service::Agreements) {
            return Err(AgreementsError::new(injected.status, injected.error_type, injected.message));
        }
        let value = document
            .as_ref()
            .map_err(|e| AgreementsError::serialization(format!("The request body cannot be read: {e}")))?;
        let request = agreements::parse_search_request(value)?;
        let all: Vec<Agreement> = lock(&shared.agreements).values().cloned().collect();
        agreements::search(&all, &shared.config.seller_account_id, &request)
    })();

    let (status, cbor) = match outcome {
        Ok(page) => {
            let (request_id, more) = (&entry.request_id, page.next_token.is_some());
            info!(request_id, agreements = page.agreements.len(), more, "SearchAgreements");
            entry.result = Some(serde_json::json!({
                "agreementIds": page.agreements.iter().map(|a| a.agreement_id.as_str()).collect::<Vec<_>>(),
                "nextToken": page.next_token,
            }));
            (200, page.to_cbor())
        }
        Err(e) => {
            entry.error = Some(ApiError::new(e.status, e.error_type.clone(), e.message.clone()));
            (e.status, e.to_cbor(&entry.request_id))
        }
    };
    let headers = [("content-type", agreements::CBOR_CONTENT_TYPE), ("smithy-protocol", agreements::SMITHY_PROTOCOL)];
    finish(&shared, entry, status, &headers, cbor)
}

// ---------------------------------------------------------------------------------------------
// The export, in the background.

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
            let csv = write_csv(&rows);
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
    let status = shared.config.delivery.deliver(notification).await;
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

type AdminResult = Result<Resp, AdminError>;

/// The JSON body (an empty one reads as `{}`); 400 when it is not a `T`.
fn body_as<T: DeserializeOwned>(body: &[u8]) -> Result<T, AdminError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|e| admin_error(400, format!("bad JSON body: {e}")))
}

/// A body that is one `what` or an array of them, and whether it was an array.
fn one_or_many<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<(Vec<T>, bool), AdminError> {
    let (items, many) = match body_as::<serde_json::Value>(body)? {
        serde_json::Value::Array(items) => (items, true),
        item => (vec![item], false),
    };
    let items = items.into_iter().map(serde_json::from_value).collect::<Result<Vec<T>, _>>();
    Ok((items.map_err(|e| admin_error(400, format!("bad {what}: {e}")))?, many))
}

fn created<U: Serialize>((items, many): (Vec<U>, bool)) -> Resp {
    if many { json(201, items) } else { json(201, items.into_iter().next()) }
}

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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OperationTime {
    #[serde(default, with = "timestamp_serde::option")]
    operation_time: Option<OffsetDateTime>,
}

/// `POST /_admin/error-next`: an [`InjectedError`] plus the service it is for.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ErrorNextInput {
    service: Option<Service>,
    #[serde(rename = "type")]
    error_type: Option<String>,
    message: Option<String>,
    status: Option<u16>,
    count: Option<u32>,
}

type Admin = State<Arc<Shared>>;

/// What `POST /_admin/feeds/deliver` answers: the delivery, one SNS Lambda
/// event per notification, and what became of each.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedsAnswer {
    #[serde(flatten)]
    pub delivery: FeedsDelivery,
    pub sns_events: Vec<serde_json::Value>,
    pub statuses: Vec<DeliveryStatus>,
}

/// `POST /_admin/feeds/deliver`: the next day of the data feeds (the first
/// call: the backfill and yesterday), written to the feeds bucket, then the
/// notifications, one per feed, in turn.
async fn deliver_feeds(State(shared): Admin) -> AdminResult {
    Ok(json(200, deliver_feeds_now(&shared).await?))
}

async fn deliver_feeds_now(shared: &Shared) -> Result<FeedsAnswer, AdminError> {
    let target = shared.config.feeds.clone().ok_or_else(|| admin_error(409, "no data-feeds bucket configured"))?;
    let mut feeds = shared.feeds.lock().await;
    let (writes, delivery) = feeds.deliver(OffsetDateTime::now_utc().date(), &target.prefix);
    for (key, body) in writes {
        put_object(&shared.s3, &target.bucket, &key, "text/csv", body).await.map_err(|e| admin_error(502, e))?;
    }
    let now = truncate_to_millis(OffsetDateTime::now_utc());
    let mut sns_events = Vec::new();
    let mut statuses = Vec::new();
    for (i, message) in delivery.notifications.iter().enumerate() {
        let id = format!("standin-feeds-{}-{i}", delivery.day);
        let event = sns_event_json(&target.topic_arn, &message.to_string(), &id, "standin-feeds", now);
        let status = match &target.deliver_to {
            Some((url, timeout)) => post_event(url, *timeout, &event).await,
            None => DeliveryStatus::Recorded,
        };
        info!(day = delivery.day, feed = %message["feedType"], ?status, "data-feeds notification");
        sns_events.push(event);
        statuses.push(status);
    }
    drop(feeds);
    Ok(FeedsAnswer { delivery, sns_events, statuses })
}

async fn records(State(shared): Admin) -> Resp {
    json(200, shared.store.latest_all())
}

async fn add_records(State(shared): Admin, body: Bytes) -> AdminResult {
    let (inputs, many) = one_or_many::<RecordInput>(&body, "record")?;
    let stored = inputs.into_iter().map(|input| {
        let record = match input.operation_type {
            Some(op) => {
                let at = input.operation_time.unwrap_or_else(OffsetDateTime::now_utc);
                shared.store.insert(Record::from_contact(input.contact, at, op))
            }
            None => shared.store.upsert(input.contact, input.operation_time),
        };
        info!(customer_guid = %record.customer_guid, operation_type = %record.operation_type, "record stored");
        record
    });
    Ok(created((stored.collect(), many)))
}

async fn record_history(State(shared): Admin, Path(guid): Path<String>) -> Resp {
    let history = Some(shared.store.history(&guid)).filter(|h| !h.is_empty());
    found(history, || format!("record with customer guid {guid}"))
}

/// `DELETE /_admin/records/{guid}`, at `?operationTime=` or the body's `operationTime` (default now).
async fn delete_record(
    State(shared): Admin,
    Path(guid): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> AdminResult {
    let at = match query.get("operationTime") {
        Some(t) => Some(
            crate::record::parse_timestamp(t)
                .ok_or_else(|| admin_error(400, "operationTime must be an ISO 8601 timestamp"))?,
        ),
        None => body_as::<OperationTime>(&body)?.operation_time,
    };
    let record = shared.store.delete(&guid, at).map_err(|e| admin_error(404, e.to_string()))?;
    info!(customer_guid = %record.customer_guid, operation_time = %format_timestamp(record.operation_time), "record deleted");
    Ok(json(200, record))
}

async fn reset_admin(State(shared): Admin, body: Bytes) -> AdminResult {
    #[derive(Deserialize)]
    struct ResetInput {
        seed: Option<bool>,
    }
    reset(&shared, body_as::<ResetInput>(&body)?.seed.unwrap_or(shared.config.seed));
    Ok(json(
        200,
        serde_json::json!({
            "records": shared.store.len(),
            "instances": lock(&shared.instances).len(),
            "agreements": lock(&shared.agreements).len(),
        }),
    ))
}

fn reset(shared: &Shared, seed: bool) {
    shared.store.clear();
    if seed {
        shared.store.seed_guide_data();
    }
    shared.reseed_market(seed);
    info!(seeded = seed, records = shared.store.len(), "store reset");
}

async fn fail_next(State(shared): Admin, body: Bytes) -> AdminResult {
    #[derive(Deserialize)]
    struct FailNextInput {
        message: Option<String>,
    }
    let message = body_as::<FailNextInput>(&body)?.message.unwrap_or_else(|| "Injected failure (aws-standin)".into());
    *lock(&shared.fail_next) = Some(message.clone());
    info!("next export will fail");
    Ok(json(200, serde_json::json!({ "failNext": message })))
}

async fn error_next(State(shared): Admin, body: Bytes) -> AdminResult {
    let input = body_as::<ErrorNextInput>(&body)?;
    let service = input.service.unwrap_or(Service::Cas);
    let err = InjectedError {
        error_type: input.error_type.unwrap_or_else(|| InjectedError::default_type(service).to_string()),
        message: input.message.unwrap_or_else(|| DEFAULT_ERROR_MESSAGE.into()),
        status: input.status,
        count: input.count.unwrap_or(1),
    };
    info!(service = %service, error_type = %err.error_type, count = err.count, "next API requests will fail");
    shared.set_injected(service, err.clone());
    let mut out = serde_json::to_value(&err).expect("serializes");
    out["service"] = serde_json::json!(service);
    out["status"] = serde_json::json!(err.status_for(service));
    Ok(json(200, out))
}

async fn set_latency(State(shared): Admin, body: Bytes) -> AdminResult {
    // Milliseconds per service; an unknown service is a 400.
    let input = body_as::<HashMap<Service, Option<u64>>>(&body)?;
    let mut latency = lock(&shared.latency);
    for (service, ms) in input.into_iter().filter_map(|(s, ms)| Some((s, ms?))) {
        latency.insert(service, Duration::from_millis(ms));
        info!(service = %service, latency_ms = ms, "latency changed");
    }
    let all = [Service::Cas, Service::Ec2, Service::Agreements];
    let ms = all.map(|s| (s, latency.get(&s).copied().unwrap_or_default().as_millis() as u64));
    Ok(json(200, HashMap::from(ms)))
}

async fn instances(State(shared): Admin) -> Resp {
    json(200, lock(&shared.instances).values().collect::<Vec<_>>())
}

async fn add_instances(State(shared): Admin, body: Bytes) -> AdminResult {
    let new = one_or_many::<Instance>(&body, "instance")?;
    if let Some(bad) = new.0.iter().find(|i| !ec2::is_valid_instance_id(&i.instance_id)) {
        return Err(admin_error(400, format!("bad instance: '{}' is not i- + 8 or 17 hex digits", bad.instance_id)));
    }
    if new.0.iter().any(|i| i.owner_id.is_empty() || i.region.is_empty()) {
        return Err(admin_error(400, "bad instance: ownerId and region are required"));
    }
    let mut instances = lock(&shared.instances);
    if let Some(dup) = new.0.iter().find(|i| instances.contains_key(&i.instance_id)) {
        return Err(admin_error(409, format!("instance {} exists", dup.instance_id)));
    }
    instances.extend(new.0.iter().map(|i| (i.instance_id.clone(), i.clone())));
    info!(count = new.0.len(), "instances added");
    Ok(created(new))
}

/// 200 with what was found (or removed), else 404 `no <what>`.
fn found<T: Serialize>(item: Option<T>, what: impl FnOnce() -> String) -> Resp {
    item.map_or_else(|| admin_error(404, format!("no {}", what())).into_response(), |i| json(200, i))
}

async fn delete_instance(State(shared): Admin, Path(id): Path<String>) -> Resp {
    found(lock(&shared.instances).remove(&id), || format!("instance {id}"))
}

async fn agreements(State(shared): Admin) -> Resp {
    json(200, lock(&shared.agreements).values().collect::<Vec<_>>())
}

async fn add_agreements(State(shared): Admin, body: Bytes) -> AdminResult {
    let (inputs, many) = one_or_many::<serde_json::Value>(&body, "agreement")?;
    let new = inputs.into_iter().map(|input| Agreement::from_admin_json(input, &shared.config.seller_account_id));
    let new = (new.collect::<Result<Vec<_>, _>>().map_err(|e| admin_error(400, format!("bad agreement: {e}")))?, many);
    let mut agreements = lock(&shared.agreements);
    if let Some(dup) = new.0.iter().find(|a| agreements.contains_key(&a.agreement_id)) {
        return Err(admin_error(409, format!("agreement {} exists", dup.agreement_id)));
    }
    agreements.extend(new.0.iter().map(|a| (a.agreement_id.clone(), a.clone())));
    info!(count = new.0.len(), "agreements added");
    Ok(created(new))
}

async fn delete_agreement(State(shared): Admin, Path(id): Path<String>) -> Resp {
    found(lock(&shared.agreements).remove(&id), || format!("agreement {id}"))
}

async fn requests(State(shared): Admin) -> Resp {
    json(200, &*lock(&shared.log))
}

async fn request(State(shared): Admin, Path(id): Path<String>) -> Resp {
    found(shared.find(&id), || format!("request {id}"))
}

async fn clear_requests(State(shared): Admin) -> Resp {
    lock(&shared.log).clear();
    json(200, serde_json::json!({ "requests": 0 }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injected_error_statuses() {
        let e = InjectedError::of_type(SERVICE_EXCEPTION, 1);
        assert_eq!(e.status_for(Service::Cas), 500);
        assert_eq!(InjectedError::of_type("ThrottlingException", 1).status_for(Service::Cas), 400);
        assert_eq!(InjectedError::of_type("ThrottlingException", 1).status_for(Service::Agreements), 429);
        assert_eq!(InjectedError::of_type("RequestLimitExceeded", 1).status_for(Service::Ec2), 503);
    }
}
