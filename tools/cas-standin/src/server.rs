//! The HTTP server: the `StartSupportDataExport` endpoint and its background export, EC2's
//! `ConfirmProductInstance`, the Agreement API's `SearchAgreements`, and the admin endpoints.

use std::collections::{BTreeMap, HashMap};
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

use crate::agreements::{self, Agreement, AgreementInput, AgreementsError, Out};
use crate::delivery::{Delivery, DeliveryStatus, Notification};
use crate::ec2::{self, Ec2Error, Instance};
use crate::export::{AccountIdHeader, ExportPlan, sns_event_json, write_csv_with_header};
use crate::record::{
    Contact, OperationType, Record, format_timestamp, parse_timestamp, timestamp_serde, truncate_to_millis,
};
use crate::seed;
use crate::service::{Protocol, Service};
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

    /// `count` requests answered with `error_type` at the status the service gives it (for
    /// [`Running::inject_service_error`]: e.g. EC2's `RequestLimitExceeded` (503),
    /// `UnauthorizedOperation` (403), `InternalError` (500); the Agreement API's
    /// `ThrottlingException` (429), `InternalServerException` (500), `AccessDeniedException`
    /// (403)).
    pub fn of_type(error_type: impl Into<String>, count: u32) -> Self {
        InjectedError { error_type: error_type.into(), message: default_error_message(), status: None, count }
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
            Service::Cas => self.api_error().status,
            Service::Ec2 => Ec2Error::default_status(&self.error_type),
            Service::Agreements => AgreementsError::default_status(&self.error_type),
        })
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

/// One request received on the API endpoints (any service), and what became of it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestEntry {
    /// `x-amzn-RequestId` of the answer (also the `dataSetRequestId` when accepted; EC2's
    /// `requestId`).
    pub request_id: String,
    #[serde(with = "timestamp_serde")]
    pub received_at: OffsetDateTime,
    /// Which emulated service the request was for.
    pub service: Service,
    /// The operation asked for (`StartSupportDataExport`, `ConfirmProductInstance`,
    /// `SearchAgreements`, or whatever else was asked), when the request named one.
    pub operation: Option<String>,
    pub protocol: Protocol,
    /// Region and service of the `Authorization` header's credential scope, read also when
    /// the header was otherwise rejected.
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
    /// What a successful EC2 / agreements request answered: `{"return", "ownerId"}` or
    /// `{"agreementIds": [...], "nextToken"}`.
    pub result: Option<serde_json::Value>,
    pub data_set_request_id: Option<String>,
    pub export: Option<ExportSummary>,
    pub notification: Option<Notification>,
    pub delivery: Option<DeliveryStatus>,
}

impl RequestEntry {
    fn new(service: Service, protocol: Protocol, request_id: &str, received_at: OffsetDateTime) -> Self {
        RequestEntry {
            request_id: request_id.to_string(),
            received_at,
            service,
            operation: None,
            protocol,
            signing_region: None,
            signing_service: None,
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

    fn signed_by(&mut self, authorization: Option<&str>) {
        if let Some((region, service)) = wire::credential_scope(authorization) {
            self.signing_region = Some(region);
            self.signing_service = Some(service);
        }
    }
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
    error_next: Mutex<HashMap<Service, InjectedError>>,
    latency: Mutex<HashMap<Service, Duration>>,
    seller_account_id: String,
    instances: Mutex<BTreeMap<String, Instance>>,
    agreements: Mutex<BTreeMap<String, Agreement>>,
    log: Mutex<Vec<RequestEntry>>,
    version: watch::Sender<u64>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    stop: watch::Receiver<bool>,
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

    /// Consumes one of the errors injected for `service`.
    fn take_injected(&self, service: Service) -> Option<InjectedError> {
        let mut slots = lock(&self.error_next);
        let injected = slots.get_mut(&service)?;
        let taken = injected.clone();
        injected.count = injected.count.saturating_sub(1);
        if injected.count == 0 {
            slots.remove(&service);
        }
        Some(taken)
    }

    fn take_injected_error(&self) -> Option<ApiError> {
        self.take_injected(Service::Cas).map(|e| e.api_error())
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
            agreements
                .extend(seed::agreements(&self.seller_account_id).into_iter().map(|a| (a.agreement_id.clone(), a)));
        }
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
    seller_account_id: String,
    latency: HashMap<Service, Duration>,
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
            seller_account_id: seed::SELLER_ACCOUNT_ID.to_string(),
            latency: HashMap::new(),
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

    /// The stand-in's own AWS account: the seller whose agreements `SearchAgreements` searches
    /// (`PartyType=Proposer`: the agreements it proposed; `Acceptor`: those it accepted), and the
    /// proposer of the seeded agreements. Default [`seed::SELLER_ACCOUNT_ID`] (`999988887777`).
    pub fn seller_account_id(mut self, account_id: impl Into<String>) -> Self {
        self.seller_account_id = account_id.into();
        self
    }

    /// A fixed latency added to every API request of `service` (default none), for latency
    /// benchmarks and client timeout tests. Also [`Running::set_latency`], `PUT /_admin/latency`.
    pub fn latency(mut self, service: Service, latency: Duration) -> Self {
        self.latency.insert(service, latency);
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
        let (stop_tx, stop_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            store,
            lag: Mutex::new(self.lag),
            delivery: self.delivery,
            s3,
            seed: self.seed,
            required_region: self.required_region,
            account_id_header: self.account_id_header,
            fail_next: Mutex::new(None),
            error_next: Mutex::new(HashMap::new()),
            latency: Mutex::new(self.latency),
            seller_account_id: self.seller_account_id,
            instances: Mutex::new(BTreeMap::new()),
            agreements: Mutex::new(BTreeMap::new()),
            log: Mutex::new(Vec::new()),
            version,
            tasks: Mutex::new(Vec::new()),
            stop: stop_rx.clone(),
        });
        shared.reseed_market(self.seed);
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

    /// The next `count` `StartSupportDataExport` requests are answered with this error.
    pub fn inject_error(&self, error: InjectedError) {
        self.shared.set_injected(Service::Cas, error);
    }

    /// The next `count` requests of `service` are answered with this error, in the service's
    /// protocol (EC2 XML; the Agreement API's CBOR or JSON 1.0, as the request came). A count
    /// of 0 cancels. See [`InjectedError::of_type`].
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

    /// The configured seller account (see [`StandInBuilder::seller_account_id`]).
    pub fn seller_account_id(&self) -> &str {
        &self.shared.seller_account_id
    }

    /// Every EC2 instance, by instance id.
    pub fn instances(&self) -> Vec<Instance> {
        lock(&self.shared.instances).values().cloned().collect()
    }

    pub fn instance(&self, instance_id: &str) -> Option<Instance> {
        lock(&self.shared.instances).get(instance_id).cloned()
    }

    /// Adds or replaces an instance (by id); returns the one replaced.
    pub fn put_instance(&self, instance: Instance) -> Option<Instance> {
        lock(&self.shared.instances).insert(instance.instance_id.clone(), instance)
    }

    /// Deletes an instance; returns it.
    pub fn remove_instance(&self, instance_id: &str) -> Option<Instance> {
        lock(&self.shared.instances).remove(instance_id)
    }

    /// Every agreement, by agreement id.
    pub fn agreements(&self) -> Vec<Agreement> {
        lock(&self.shared.agreements).values().cloned().collect()
    }

    pub fn agreement(&self, agreement_id: &str) -> Option<Agreement> {
        lock(&self.shared.agreements).get(agreement_id).cloned()
    }

    /// Adds or replaces an agreement (by id); returns the one replaced.
    pub fn put_agreement(&self, agreement: Agreement) -> Option<Agreement> {
        lock(&self.shared.agreements).insert(agreement.agreement_id.clone(), agreement)
    }

    /// Deletes an agreement; returns it.
    pub fn remove_agreement(&self, agreement_id: &str) -> Option<Agreement> {
        lock(&self.shared.agreements).remove(agreement_id)
    }

    /// What `POST /_admin/reset` does: empties the records, instances and agreements and, when
    /// `seed`, loads the guide's records and [`seed`]'s instances and agreements again.
    pub fn reset(&self, seed: bool) {
        reset(&self.shared, seed);
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
        let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
        let query_action = req.uri().query().is_some_and(|q| {
            form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "Action" || k == "X-Amz-Algorithm")
        });
        if ec2::is_form_content_type(header("content-type")) || (req.method() == Method::GET && query_action) {
            return ec2_api(shared, req).await;
        }
        if header("x-amz-target").is_some_and(|t| t.starts_with(agreements::TARGET_PREFIX)) {
            let operation =
                header("x-amz-target").and_then(|t| t.strip_prefix(agreements::TARGET_PREFIX)).map(str::to_string);
            return agreements_api(shared, req, Protocol::Json10, operation).await;
        }
        return api(shared, req).await;
    }
    if let Some(operation) = path.strip_prefix(agreements::CBOR_PATH_PREFIX) {
        let operation = Some(percent_decode(operation));
        return agreements_api(shared, req, Protocol::Cbor, operation).await;
    }
    if path.starts_with("/service/") {
        // RPC v2 CBOR for another service: the operation is unknown here.
        return agreements_api(shared, req, Protocol::Cbor, None).await;
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
    shared.delay(Service::Cas).await;

    let mut entry = RequestEntry::new(Service::Cas, Protocol::Json11, &request_id, received_at);
    entry.target = target.clone();
    entry.operation = target.as_deref().map(|t| t.strip_prefix(TARGET_PREFIX).unwrap_or(t).to_string());
    entry.signed_by(authorization.as_deref());
    entry.parameters = body.as_ref().ok().and_then(|b| serde_json::from_slice(b).ok());

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

// ---------------------------------------------------------------------------------------------
// EC2: ConfirmProductInstance (EC2 Query).

fn xml_response(status: u16, request_id: &str, xml: String) -> Resp {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, ec2::XML_CONTENT_TYPE)
        .header("x-amzn-RequestId", request_id)
        .body(Full::new(Bytes::from(xml)))
        .expect("valid response")
}

async fn ec2_api(shared: Arc<Shared>, req: Request<Incoming>) -> Resp {
    let received_at = truncate_to_millis(OffsetDateTime::now_utc());
    let request_id = uuid::Uuid::new_v4().to_string();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let authorization = header("authorization");
    let amz_date = header("x-amz-date").or_else(|| header("date"));
    let query = req.uri().query().map(str::to_string);
    let body = read_body(req.into_body()).await;
    let params = ec2::parse_params(query.as_deref(), body.as_deref().unwrap_or_default());
    let (authorization, amz_date) = match (authorization, ec2::presigned_authorization(&params)) {
        (Some(a), _) => (Some(a), amz_date),
        (None, Some((a, d))) => (Some(a), d.or(amz_date)),
        (None, None) => (None, amz_date),
    };
    shared.delay(Service::Ec2).await;

    let mut entry = RequestEntry::new(Service::Ec2, Protocol::Query, &request_id, received_at);
    entry.signed_by(authorization.as_deref());
    entry.operation = ec2::param(&params, "Action").map(str::to_string);
    entry.instance_id = ec2::param(&params, "InstanceId").map(str::to_string);
    entry.product_code = ec2::param(&params, "ProductCode").map(str::to_string);
    entry.parameters = Some(serde_json::Value::Object(
        params
            .iter()
            .filter(|(k, _)| k != "X-Amz-Signature")
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect(),
    ));

    let outcome = (|| {
        if let Err(e) = &body {
            return Err(Ec2Error::new(400, "InvalidRequest", e.clone()));
        }
        let credential = wire::check_sigv4(authorization.as_deref(), amz_date.as_deref(), ec2::EC2_SIGNING_NAME, None)
            .map_err(|e| {
                if authorization.is_none() {
                    Ec2Error::auth_failure("AWS was not able to validate the provided access credentials")
                } else {
                    Ec2Error::auth_failure(e.message)
                }
            })?;
        let region = credential.region.clone();
        entry.credential = Some(credential);
        if let Some(injected) = shared.take_injected(Service::Ec2) {
            return Err(Ec2Error::new(injected.status_for(Service::Ec2), injected.error_type, injected.message));
        }
        let request = ec2::parse_confirm_product_instance(&params)?;
        ec2::confirm(lock(&shared.instances).values(), &region, &request)
    })();

    match outcome {
        Ok(confirmation) => {
            info!(request_id, instance_id = ?entry.instance_id, result = confirmation.result, "ConfirmProductInstance");
            entry.status = 200;
            entry.result = serde_json::to_value(&confirmation).ok();
            shared.push(entry);
            xml_response(200, &request_id, ec2::confirm_xml(&request_id, &confirmation))
        }
        Err(e) => {
            warn!(request_id, code = %e.code, status = e.status, message = %e.message, "EC2 request rejected");
            entry.status = e.status;
            entry.error = Some(ApiError::new(e.status, e.code.clone(), e.message.clone()));
            shared.push(entry);
            xml_response(e.status, &request_id, e.xml(&request_id))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Agreement API: SearchAgreements (RPC v2 CBOR and AWS JSON 1.0).

fn agreements_response(protocol: Protocol, status: u16, request_id: &str, doc: &Out, error_type: Option<&str>) -> Resp {
    let mut b = Response::builder().status(status).header("x-amzn-RequestId", request_id);
    let body = if protocol == Protocol::Cbor {
        b = b
            .header(http::header::CONTENT_TYPE, agreements::CBOR_CONTENT_TYPE)
            .header("smithy-protocol", agreements::SMITHY_PROTOCOL);
        doc.to_cbor()
    } else {
        b = b.header(http::header::CONTENT_TYPE, agreements::JSON10_CONTENT_TYPE);
        if let Some(t) = error_type {
            b = b.header("x-amzn-ErrorType", t);
        }
        serde_json::to_vec(&doc.to_json()).expect("serializes")
    };
    b.body(Full::new(Bytes::from(body))).expect("valid response")
}

async fn agreements_api(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    protocol: Protocol,
    operation: Option<String>,
) -> Resp {
    let received_at = truncate_to_millis(OffsetDateTime::now_utc());
    let request_id = uuid::Uuid::new_v4().to_string();
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let authorization = header("authorization");
    let amz_date = header("x-amz-date").or_else(|| header("date"));
    let content_type = header("content-type");
    let smithy_protocol = header("smithy-protocol");
    let target = header("x-amz-target");
    let method = req.method().clone();
    let body = read_body(req.into_body()).await;
    shared.delay(Service::Agreements).await;
    let cbor = protocol == Protocol::Cbor;

    let mut entry = RequestEntry::new(Service::Agreements, protocol, &request_id, received_at);
    entry.signed_by(authorization.as_deref());
    entry.operation = operation.clone();
    entry.target = target;
    let document: Option<Result<serde_json::Value, String>> = body.as_ref().ok().map(|b| {
        if b.iter().all(u8::is_ascii_whitespace) {
            Ok(serde_json::json!({}))
        } else if cbor {
            agreements::cbor_to_json(b)
        } else {
            serde_json::from_slice(b).map_err(|e| e.to_string())
        }
    });
    entry.parameters = document.as_ref().and_then(|d| d.as_ref().ok().cloned());
    entry.filters =
        entry.parameters.as_ref().and_then(|p| agreements::parse_search_request(p).ok()).and_then(|r| r.filters);

    let outcome = (|| {
        if method != Method::POST {
            return Err(AgreementsError::new(
                405,
                "UnknownOperationException",
                format!("{method} is not supported; use POST"),
            ));
        }
        let content_type_ok = content_type
            .as_deref()
            .and_then(|c| c.split(';').next())
            .map(|c| c.trim().to_ascii_lowercase())
            .is_some_and(|c| c == if cbor { agreements::CBOR_CONTENT_TYPE } else { agreements::JSON10_CONTENT_TYPE });
        if cbor && smithy_protocol.as_deref() != Some(agreements::SMITHY_PROTOCOL) {
            return Err(AgreementsError::serialization(format!(
                "RPC v2 CBOR requests need the header smithy-protocol: {}",
                agreements::SMITHY_PROTOCOL
            )));
        }
        let credential =
            wire::check_sigv4(authorization.as_deref(), amz_date.as_deref(), agreements::SIGNING_NAME, None)
                .map_err(|e| AgreementsError::new(e.status, e.error_type, e.message))?;
        entry.credential = Some(credential);
        match operation.as_deref() {
            Some(agreements::SEARCH_AGREEMENTS) => {}
            other => {
                return Err(AgreementsError::new(
                    if cbor { 404 } else { 400 },
                    "UnknownOperationException",
                    format!(
                        "{} is not emulated by cas-standin (only SearchAgreements is)",
                        other.unwrap_or("The operation")
                    ),
                ));
            }
        }
        if !content_type_ok {
            return Err(AgreementsError::serialization(format!(
                "Content-Type must be {}, not {}",
                if cbor { agreements::CBOR_CONTENT_TYPE } else { agreements::JSON10_CONTENT_TYPE },
                content_type.as_deref().unwrap_or("(missing)")
            )));
        }
        if let Some(injected) = shared.take_injected(Service::Agreements) {
            return Err(AgreementsError::new(
                injected.status_for(Service::Agreements),
                injected.error_type,
                injected.message,
            ));
        }
        let value = match &document {
            None => return Err(AgreementsError::serialization(body.as_ref().err().cloned().unwrap_or_default())),
            Some(Err(e)) => {
                return Err(AgreementsError::serialization(format!("The request body cannot be read: {e}")));
            }
            Some(Ok(v)) => v,
        };
        let request = agreements::parse_search_request(value)?;
        let all: Vec<Agreement> = lock(&shared.agreements).values().cloned().collect();
        agreements::search(&all, &shared.seller_account_id, &request)
    })();

    match outcome {
        Ok(page) => {
            info!(
                request_id,
                protocol = protocol.as_str(),
                agreements = page.agreements.len(),
                more = page.next_token.is_some(),
                "SearchAgreements"
            );
            entry.status = 200;
            entry.result = Some(serde_json::json!({
                "agreementIds": page.agreements.iter().map(|a| a.agreement_id.as_str()).collect::<Vec<_>>(),
                "nextToken": page.next_token,
            }));
            shared.push(entry);
            agreements_response(protocol, 200, &request_id, &agreements::page_document(&page), None)
        }
        Err(e) => {
            warn!(request_id, error_type = %e.error_type, status = e.status, message = %e.message, "agreements request rejected");
            entry.status = e.status;
            entry.error = Some(ApiError::new(e.status, e.error_type.clone(), e.message.clone()));
            shared.push(entry);
            agreements_response(protocol, e.status, &request_id, &e.document(&request_id, cbor), Some(&e.error_type))
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

/// `POST /_admin/error-next`: an [`InjectedError`] plus the service it is for.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ErrorNextInput {
    service: Option<Service>,
    #[serde(rename = "type")]
    error_type: Option<String>,
    message: Option<String>,
    status: Option<u16>,
    count: Option<u32>,
}

/// `PUT /_admin/latency`: milliseconds per service.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LatencyInput {
    cas: Option<u64>,
    ec2: Option<u64>,
    agreements: Option<u64>,
}

fn reset(shared: &Shared, seed: bool) {
    shared.store.clear();
    if seed {
        shared.store.seed_guide_data();
    }
    shared.reseed_market(seed);
    info!(
        seeded = seed,
        records = shared.store.len(),
        instances = lock(&shared.instances).len(),
        agreements = lock(&shared.agreements).len(),
        "store reset"
    );
}

fn latency_json(shared: &Shared) -> serde_json::Value {
    let latency = lock(&shared.latency);
    serde_json::Value::Object(
        Service::ALL
            .iter()
            .map(|s| {
                (
                    s.as_str().to_string(),
                    serde_json::json!(latency.get(s).copied().unwrap_or_default().as_millis() as u64),
                )
            })
            .collect(),
    )
}

fn injected_json(shared: &Shared) -> serde_json::Value {
    let slots = lock(&shared.error_next);
    serde_json::Value::Object(
        Service::ALL
            .iter()
            .map(|s| (s.as_str().to_string(), serde_json::to_value(slots.get(s)).expect("serializes")))
            .collect(),
    )
}

/// An instance from an admin body, checked.
fn instance_input(value: serde_json::Value) -> Result<Instance, String> {
    let instance: Instance = serde_json::from_value(value).map_err(|e| format!("bad instance: {e}"))?;
    if !ec2::is_valid_instance_id(&instance.instance_id) {
        return Err(format!("bad instance: instanceId '{}' is not i- + 8 or 17 hex digits", instance.instance_id));
    }
    if instance.owner_id.is_empty() || instance.region.is_empty() {
        return Err("bad instance: ownerId and region are required".into());
    }
    Ok(instance)
}

fn agreement_input(shared: &Shared, value: serde_json::Value) -> Result<Agreement, String> {
    let input: AgreementInput = serde_json::from_value(value).map_err(|e| format!("bad agreement: {e}"))?;
    input.into_agreement(&shared.seller_account_id).map_err(|e| format!("bad agreement: {e}"))
}

/// A JSON body that is one item or an array of items.
fn one_or_many(body: &[u8]) -> Result<(Vec<serde_json::Value>, bool), String> {
    match serde_json::from_slice::<serde_json::Value>(body).map_err(|e| format!("bad JSON body: {e}"))? {
        serde_json::Value::Array(items) => Ok((items, true)),
        v => Ok((vec![v], false)),
    }
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
                reset(&shared, r.seed.unwrap_or(shared.seed));
                json_response(
                    200,
                    &serde_json::json!({
                        "records": shared.store.len(),
                        "instances": lock(&shared.instances).len(),
                        "agreements": lock(&shared.agreements).len(),
                    }),
                )
            }
            Err(e) => admin_error(400, e),
        },
        (&Method::GET, ["instances"]) => json_response(200, &lock(&shared.instances).values().collect::<Vec<_>>()),
        (&Method::GET, ["instances", id]) => match lock(&shared.instances).get(*id) {
            Some(i) => json_response(200, i),
            None => admin_error(404, format!("no instance {id}")),
        },
        (&Method::POST, ["instances"]) => {
            let (items, many) = match one_or_many(&body) {
                Ok(x) => x,
                Err(e) => return admin_error(400, e),
            };
            let parsed: Result<Vec<Instance>, String> = items.into_iter().map(instance_input).collect();
            match parsed {
                Err(e) => admin_error(400, e),
                Ok(new) => {
                    let mut instances = lock(&shared.instances);
                    if let Some(dup) = new.iter().find(|i| instances.contains_key(&i.instance_id)) {
                        return admin_error(
                            409,
                            format!("instance {} exists; PUT /_admin/instances/{{id}} replaces it", dup.instance_id),
                        );
                    }
                    for i in &new {
                        instances.insert(i.instance_id.clone(), i.clone());
                    }
                    info!(count = new.len(), "instances added");
                    if many { json_response(201, &new) } else { json_response(201, &new[0]) }
                }
            }
        }
        (&Method::PUT, ["instances", id]) => {
            let mut value: serde_json::Value = match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => return admin_error(400, format!("bad JSON body: {e}")),
            };
            if let Some(o) = value.as_object_mut() {
                o.insert("instanceId".into(), serde_json::Value::String(id.to_string()));
            }
            match instance_input(value) {
                Ok(i) => {
                    let replaced = lock(&shared.instances).insert(i.instance_id.clone(), i.clone());
                    info!(instance_id = %i.instance_id, replaced = replaced.is_some(), "instance stored");
                    json_response(if replaced.is_some() { 200 } else { 201 }, &i)
                }
                Err(e) => admin_error(400, e),
            }
        }
        (&Method::DELETE, ["instances", id]) => match lock(&shared.instances).remove(*id) {
            Some(i) => json_response(200, &i),
            None => admin_error(404, format!("no instance {id}")),
        },
        (&Method::GET, ["agreements"]) => json_response(200, &lock(&shared.agreements).values().collect::<Vec<_>>()),
        (&Method::GET, ["agreements", id]) => match lock(&shared.agreements).get(*id) {
            Some(a) => json_response(200, a),
            None => admin_error(404, format!("no agreement {id}")),
        },
        (&Method::POST, ["agreements"]) => {
            let (items, many) = match one_or_many(&body) {
                Ok(x) => x,
                Err(e) => return admin_error(400, e),
            };
            let parsed: Result<Vec<Agreement>, String> =
                items.into_iter().map(|v| agreement_input(&shared, v)).collect();
            match parsed {
                Err(e) => admin_error(400, e),
                Ok(new) => {
                    let mut agreements = lock(&shared.agreements);
                    if let Some(dup) = new.iter().find(|a| agreements.contains_key(&a.agreement_id)) {
                        return admin_error(
                            409,
                            format!("agreement {} exists; PUT /_admin/agreements/{{id}} replaces it", dup.agreement_id),
                        );
                    }
                    for a in &new {
                        agreements.insert(a.agreement_id.clone(), a.clone());
                    }
                    info!(count = new.len(), "agreements added");
                    if many { json_response(201, &new) } else { json_response(201, &new[0]) }
                }
            }
        }
        (&Method::PUT, ["agreements", id]) => {
            let mut value: serde_json::Value = match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => return admin_error(400, format!("bad JSON body: {e}")),
            };
            if let Some(o) = value.as_object_mut() {
                o.insert("agreementId".into(), serde_json::Value::String(id.to_string()));
            }
            match agreement_input(&shared, value) {
                Ok(a) => {
                    let replaced = lock(&shared.agreements).insert(a.agreement_id.clone(), a.clone());
                    info!(agreement_id = %a.agreement_id, replaced = replaced.is_some(), "agreement stored");
                    json_response(if replaced.is_some() { 200 } else { 201 }, &a)
                }
                Err(e) => admin_error(400, e),
            }
        }
        (&Method::DELETE, ["agreements", id]) => match lock(&shared.agreements).remove(*id) {
            Some(a) => json_response(200, &a),
            None => admin_error(404, format!("no agreement {id}")),
        },
        (&Method::GET, ["latency"]) => json_response(200, &latency_json(&shared)),
        (&Method::PUT | &Method::POST, ["latency"]) => match parse_json::<LatencyInput>(&body) {
            Ok(l) => {
                let mut latency = lock(&shared.latency);
                for (service, ms) in [(Service::Cas, l.cas), (Service::Ec2, l.ec2), (Service::Agreements, l.agreements)]
                {
                    if let Some(ms) = ms {
                        latency.insert(service, Duration::from_millis(ms));
                        info!(service = %service, latency_ms = ms, "latency changed");
                    }
                }
                drop(latency);
                json_response(200, &latency_json(&shared))
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
        (&Method::POST, ["error-next"]) => match parse_json::<ErrorNextInput>(&body) {
            Ok(input) => {
                let service = input.service.unwrap_or(Service::Cas);
                let err = InjectedError {
                    error_type: input.error_type.unwrap_or_else(|| InjectedError::default_type(service).to_string()),
                    message: input.message.unwrap_or_else(default_error_message),
                    status: input.status,
                    count: input.count.unwrap_or(1),
                };
                info!(service = %service, error_type = %err.error_type, count = err.count, "next API requests will fail");
                shared.set_injected(service, err.clone());
                let mut out = serde_json::to_value(&err).expect("serializes");
                out["service"] = serde_json::json!(service);
                out["status"] = serde_json::json!(err.status_for(service));
                json_response(200, &out)
            }
            Err(e) => admin_error(400, e),
        },
        (&Method::DELETE, ["error-next"]) => {
            match query_param(query.as_deref(), "service") {
                Some(s) => match Service::parse(&s) {
                    Some(service) => {
                        lock(&shared.error_next).remove(&service);
                    }
                    None => return admin_error(400, format!("unknown service {s}: cas, ec2 or agreements")),
                },
                None => lock(&shared.error_next).clear(),
            }
            json_response(200, &serde_json::json!({ "errorNext": injected_json(&shared) }))
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
        "errorNext": lock(&shared.error_next).get(&Service::Cas).cloned(),
        "errorNextByService": injected_json(shared),
        "latencyMs": latency_json(shared),
        "sellerAccountId": shared.seller_account_id,
        "instances": lock(&shared.instances).len(),
        "agreements": lock(&shared.agreements).len(),
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
