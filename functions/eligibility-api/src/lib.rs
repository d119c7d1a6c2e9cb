//! eligibility-api: support staff's lookups (R4) behind an API Gateway HTTP
//! API (payload format 2.0). Lambda function URL events have the same shape,
//! so the same router serves `cargo lambda watch` on localhost.
//!
//! * [`ROUTES`]: the routes served, the one table the router matches against
//!   (and that `tests/eligibility_api/openapi.rs` compares with `docs/openapi.yaml`).
//! * [`Api`]: generic over the core's ports it reads, [`ContactStore`] and
//!   [`ExportLog`]: `psc_bridge::aws::DynamoStore` in production,
//!   `psc_bridge::memory::MemoryStore` in the handler tests; and, for the
//!   live checks ([`live`]), [`InstanceConfirmer`] (EC2) and
//!   [`AgreementSource`] (the Agreement API); and [`FeedLookup`], the data
//!   feeds (the same `DynamoStore` in production, [`feeds::NoFeeds`] by
//!   default), for the `dataFeeds` source, the overall `eligibility`
//!   ([`feeds`]) and the subscriber report.
//! * [`Api::handle`]: request in, response out; never fails, never panics on
//!   input. Every request ends in one audit line (target `audit`).
//!
//! `docs/api.md` describes the API for its users.

pub mod feeds;
pub mod live;
pub mod params;
pub mod views;

use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lambda_http::http::StatusCode;
use lambda_http::http::header::{self, HeaderValue};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use tracing::{error, info, warn};

use psc_bridge::aws::AwsError;
use psc_bridge::aws::Failure as AwsFailure;
use psc_bridge::config::{ConfigError, env_optional, env_or, env_required, parse_var};
use psc_bridge::domain::{AwsAccountId, ProductCode, Timestamp};
use psc_bridge::entitlement::{InstanceCheck, Region, SellerProducts};
use psc_bridge::metrics::Metrics;
use psc_bridge::model::{Page, StoredContact};
use psc_bridge::ports::{AgreementSource, ContactStore, ExportLog, FeedLookup, InstanceConfirmer, LookupError};
use psc_bridge::sync::SyncState;

use feeds::NoFeeds;
use live::{AgreementsLookup, LiveChecks, NotConfigured};
use params::{InvalidParameter, Query};
use psc_bridge::api::{
    AccountProductView, AccountView, AgreementBody, ContactView, ContactsView, Eligibility, ErrorBody, ErrorDetail,
    Freshness, InstanceSource, InstanceSources, InstanceView, ReportFormat, Sources, SubscriberStatus, SyncView,
    Verdict,
};
use psc_bridge::feeds::AccountFeeds;

// ------------------------------------------------------------------ routes

/// What a route answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Account,
    AccountProduct,
    ContactsByEmail,
    ContactByGuid,
    SyncStatus,
    Instance,
    Subscribers,
}

/// One route: method, path template (API Gateway syntax) and what it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub endpoint: Endpoint,
    /// Query parameters it accepts (anything else is a 400).
    pub query: &'static [&'static str],
}

impl Route {
    /// The API Gateway route key, `GET /sync`.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Every route the API serves. The router matches against this table only.
pub const ROUTES: &[Route] = &[
    Route { method: "GET", path: "/accounts/{awsAccountId}", endpoint: Endpoint::Account, query: &["limit", "cursor"] },
    Route {
        method: "GET",
        path: "/accounts/{awsAccountId}/products/{productCode}",
        endpoint: Endpoint::AccountProduct,
        query: &["limit", "cursor"],
    },
    Route {
        method: "GET",
        path: "/accounts/{awsAccountId}/instances/{instanceId}",
        endpoint: Endpoint::Instance,
        query: &["productCode", "region"],
    },
    Route { method: "GET", path: "/contacts", endpoint: Endpoint::ContactsByEmail, query: &["email"] },
    Route { method: "GET", path: "/contacts/{customerGuid}", endpoint: Endpoint::ContactByGuid, query: &[] },
    Route { method: "GET", path: "/sync", endpoint: Endpoint::SyncStatus, query: &["limit"] },
    Route {
        method: "GET",
        path: "/products/{productCode}/subscribers",
        endpoint: Endpoint::Subscribers,
        query: &["status", "format", "limit", "cursor"],
    },
];

/// The outcome of matching a request against [`ROUTES`].
#[derive(Debug, PartialEq, Eq)]
pub enum RouteMatch {
    /// The route and its path parameters (decoded), in template order.
    Found(&'static Route, Vec<String>),
    /// The path exists, not with this method; the methods it has.
    MethodNotAllowed(Vec<&'static str>),
    NotFound,
}

/// Matches `method` and `path` (empty segments ignored, so `//sync/` is
/// `/sync`) against [`ROUTES`].
pub fn match_route(method: &str, path: &str) -> RouteMatch {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut allowed = Vec::new();
    for route in ROUTES {
        let template: Vec<&str> = route.path.split('/').filter(|s| !s.is_empty()).collect();
        if template.len() != segments.len() {
            continue;
        }
        let mut params = Vec::new();
        let fits = template.iter().zip(&segments).all(|(t, s)| {
            if t.starts_with('{') && t.ends_with('}') {
                params.push(params::percent_decode(s).unwrap_or_default());
                true
            } else {
                t == s
            }
        });
        if !fits {
            continue;
        }
        if route.method == method {
            return RouteMatch::Found(route, params);
        }
        allowed.push(route.method);
    }
    if allowed.is_empty() { RouteMatch::NotFound } else { RouteMatch::MethodNotAllowed(allowed) }
}

// ------------------------------------------------------------------ config

/// Everything `main` reads from the environment (`docs/configuration.md`).
#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub metrics_namespace: String,
    /// `SELLER_PRODUCTS`; empty turns the live checks off.
    pub seller_products: SellerProducts,
    /// The instance check's default region: the function's own (`AWS_REGION`).
    pub default_region: Region,
    /// `AGREEMENTS_TIMEOUT_MS`: how long a lookup waits for the Agreement API.
    pub agreements_timeout: Duration,
    /// `AGREEMENTS_CACHE_SECONDS`: how long a warm function reuses an account's agreements.
    pub agreements_cache_ttl: Duration,
    /// `SUPPORT_REQUIRES_USAGE_WITHIN_DAYS`: the usage rule (`None`: none).
    pub usage_within_days: Option<u32>,
}

impl Config {
    /// Reads and checks every variable; the error names the first bad one.
    pub fn from_env() -> Result<Self, ConfigError> {
        let millis = |name: &'static str, default: Duration, max: u64| -> Result<Duration, ConfigError> {
            match env_optional(name) {
                None => Ok(default),
                Some(v) => parse_var(name, &v, |v| match v.parse::<u64>() {
                    Ok(n) if n <= max => Ok(n),
                    _ => Err(format!("must be a whole number from 0 to {max}")),
                })
                .map(Duration::from_millis),
            }
        };
        Ok(Self {
            table_name: env_required("TABLE_NAME")?,
            metrics_namespace: env_or("METRICS_NAMESPACE", "PscBridge"),
            seller_products: parse_var("SELLER_PRODUCTS", &env_or("SELLER_PRODUCTS", ""), SellerProducts::parse)?,
            // Set by Lambda itself (a reserved variable the template cannot set).
            default_region: parse_var(
                "AWS_REGION",
                std::env::var("AWS_REGION").as_deref().unwrap_or("us-east-1"),
                Region::parse,
            )?,
            agreements_timeout: millis("AGREEMENTS_TIMEOUT_MS", live::DEFAULT_AGREEMENTS_TIMEOUT, 8000)?,
            agreements_cache_ttl: match env_optional("AGREEMENTS_CACHE_SECONDS") {
                None => live::DEFAULT_AGREEMENTS_CACHE_TTL,
                Some(v) => {
                    Duration::from_secs(parse_var("AGREEMENTS_CACHE_SECONDS", &v, |v| match v.parse::<u64>() {
                        Ok(n) if n <= 3600 => Ok(n),
                        _ => Err("must be a whole number of seconds from 0 to 3600".to_owned()),
                    })?)
                }
            },
            usage_within_days: usage_within_days(&env_or("SUPPORT_REQUIRES_USAGE_WITHIN_DAYS", ""))?,
        })
    }
}

/// `SUPPORT_REQUIRES_USAGE_WITHIN_DAYS`: empty for no usage rule, else a
/// whole number of days from 1 to [`MAX_USAGE_WITHIN_DAYS`].
pub fn usage_within_days(raw: &str) -> Result<Option<u32>, ConfigError> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    parse_var("SUPPORT_REQUIRES_USAGE_WITHIN_DAYS", raw, |v| match v.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_USAGE_WITHIN_DAYS).contains(&n) => Ok(Some(n)),
        _ => Err(format!("must be empty (no usage rule) or a whole number of days from 1 to {MAX_USAGE_WITHIN_DAYS}")),
    })
}

/// The longest usage rule (ten years), as the template's `AllowedPattern`.
pub const MAX_USAGE_WITHIN_DAYS: u32 = 3650;

// ----------------------------------------------------------------- callers

/// Who asked, from the request context that API Gateway (or the function
/// URL) filled in after authenticating the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `iam`, `jwt`, `lambda` or `none`.
    pub auth: &'static str,
    /// The IAM principal ARN, the JWT `sub` claim, or `anonymous`.
    pub id: String,
}

impl Caller {
    pub fn of(req: &Request) -> Self {
        let anonymous = || Caller { auth: "none", id: "anonymous".to_owned() };
        #[allow(irrefutable_let_patterns)]
        let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else { return anonymous() };
        let Some(authorizer) = &ctx.authorizer else { return anonymous() };
        if let Some(iam) = &authorizer.iam {
            let id = [&iam.user_arn, &iam.caller_id, &iam.user_id, &iam.account_id]
                .into_iter()
                .flatten()
                .find(|v| !v.is_empty());
            return Caller { auth: "iam", id: clean_identity(id.map_or("unknown-iam-principal", String::as_str)) };
        }
        if let Some(jwt) = &authorizer.jwt {
            let sub = jwt.claims.get("sub").map(String::as_str).filter(|v| !v.is_empty());
            return Caller { auth: "jwt", id: clean_identity(sub.unwrap_or("unknown-jwt-subject")) };
        }
        if !authorizer.fields.is_empty() {
            let principal = authorizer.fields.get("principalId").and_then(|v| v.as_str());
            return Caller { auth: "lambda", id: clean_identity(principal.unwrap_or("unknown-lambda-principal")) };
        }
        anonymous()
    }
}

/// At most 256 printable characters.
fn clean_identity(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(256).collect()
}

/// The id a caller can quote: API Gateway's request id (also in its access
/// log), else the Lambda invocation's.
fn request_id_of(req: &Request) -> String {
    #[allow(irrefutable_let_patterns)]
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref()
        && let Some(id) = ctx.request_id.as_deref().filter(|v| !v.is_empty())
    {
        return clean_identity(id);
    }
    req.lambda_context_ref().map(|c| clean_identity(&c.request_id)).unwrap_or_else(|| "unknown".to_owned())
}

/// The path to route on: the raw path, without the stage prefix API Gateway
/// adds for a named stage.
fn routing_path(req: &Request) -> String {
    let raw = req.raw_http_path();
    let path = if raw.is_empty() { req.uri().path() } else { raw };
    #[allow(irrefutable_let_patterns)]
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref()
        && let Some(stage) = ctx.stage.as_deref().filter(|s| !s.is_empty() && *s != "$default")
    {
        let prefix = format!("/{stage}");
        if let Some(rest) = path.strip_prefix(&prefix)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            return rest.to_owned();
        }
    }
    path.to_owned()
}

// -------------------------------------------------------------------- API

/// What kind of key a lookup used (audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Account,
    Product,
    Email,
    Guid,
    Sync,
    Instance,
    Report,
    None,
}

impl KeyKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::Product => "product",
            Self::Email => "email",
            Self::Guid => "guid",
            Self::Sync => "sync",
            Self::Instance => "instance",
            Self::Report => "report",
            Self::None => "none",
        }
    }
}

/// What one request did, for its audit line. Holds no contact field and
/// never an email address.
struct Outcome {
    response: Response<Body>,
    route: &'static str,
    key_kind: KeyKind,
    /// Account id, `account/product` or guid; never an email.
    key: Option<String>,
    results: usize,
}

/// A failed read: the operation and error code only (DynamoDB messages are
/// not logged: they may quote key values).
struct Internal {
    operation: &'static str,
    code: String,
    transient: bool,
    /// The IAM action the function lacks, when the service refused it.
    missing_permission: Option<&'static str>,
}

impl From<AwsError> for Internal {
    fn from(e: AwsError) -> Self {
        let code = e.code().map_or_else(|| format!("{:?}", e.failure), |c| c.chars().take(80).collect());
        Self { operation: e.operation, code, transient: e.retryable, missing_permission: None }
    }
}

/// True when the service refused the call for want of a permission.
fn is_access_denied(e: &AwsError) -> bool {
    e.failure == AwsFailure::Service
        && e.code().is_some_and(|c| {
            matches!(c, "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException" | "AuthFailure")
        })
}

/// Seconds a client should wait after a 503.
pub const RETRY_AFTER_SECONDS: u32 = 2;

/// Why a request gets an error answer instead of a [`Reply`].
enum ErrorReply {
    Invalid(InvalidParameter),
    /// A 400 that is not about one parameter's shape (the check is off).
    NotConfigured(&'static str),
    NotFound {
        message: &'static str,
        freshness: Freshness,
    },
    /// A 503: a dependency the answer cannot do without is throttling or down.
    Unavailable {
        message: &'static str,
        internal: Internal,
    },
    Internal(Internal),
}

impl From<InvalidParameter> for ErrorReply {
    fn from(e: InvalidParameter) -> Self {
        ErrorReply::Invalid(e)
    }
}

impl From<AwsError> for ErrorReply {
    fn from(e: AwsError) -> Self {
        ErrorReply::Internal(e.into())
    }
}

impl From<LookupError> for ErrorReply {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::BadCursor => params::bad_cursor().into(),
            LookupError::Aws(e) => e.into(),
        }
    }
}

/// A lookup's answer: the body and the number of results (audit); JSON
/// unless `csv` names the download's file and next cursor.
struct Reply {
    body: Vec<u8>,
    results: usize,
    csv: Option<CsvDownload>,
}

struct CsvDownload {
    filename: String,
    next_cursor: Option<String>,
}

impl Reply {
    fn json(body: Vec<u8>, results: usize) -> Self {
        Self { body, results, csv: None }
    }
}

/// The response header that carries the CSV report's next cursor.
pub const NEXT_CURSOR_HEADER: &str = "x-next-cursor";

/// How long a warm function reuses the products the feeds list (in place of
/// an empty `SellerProducts`): one query every few minutes, not per lookup.
pub const FEED_PRODUCTS_CACHE_TTL: Duration = Duration::from_secs(300);

/// How long a warm function reuses the sync state it read for the
/// freshness of its answers. The watermark only moves forward (short of an
/// operator's full re-sync), so a cached one can understate freshness by
/// this much, never overstate it. `GET /sync` always reads.
pub const FRESHNESS_CACHE_TTL: Duration = Duration::from_secs(30);

/// The API: the lookups, the live checks, a clock, the freshness cache, and
/// the metrics it emits on internal errors.
pub struct Api<S, E = NotConfigured, G = NotConfigured, F = NoFeeds> {
    store: S,
    live: LiveChecks<E, G>,
    feeds: F,
    usage_within_days: Option<u32>,
    products_cache: Mutex<Option<(Instant, Arc<SellerProducts>)>>,
    default_region: Region,
    metrics: Option<Metrics>,
    clock: fn() -> Timestamp,
    cache_ttl: Duration,
    sync_cache: Mutex<Option<(Instant, SyncState)>>,
}

impl<S: ContactStore + ExportLog> Api<S> {
    /// PSC data only: no live checks.
    pub fn new(store: S) -> Self {
        Api::with_live_checks(store, LiveChecks::off())
    }
}

impl<S: ContactStore + ExportLog, E: InstanceConfirmer, G: AgreementSource> Api<S, E, G> {
    /// PSC data and the live checks.
    pub fn with_live_checks(store: S, live: LiveChecks<E, G>) -> Self {
        Self {
            store,
            live,
            feeds: NoFeeds,
            usage_within_days: None,
            products_cache: Mutex::new(None),
            default_region: Region::parse("us-east-1").expect("a known region"),
            metrics: None,
            clock: Timestamp::now,
            cache_ttl: FRESHNESS_CACHE_TTL,
            sync_cache: Mutex::new(None),
        }
    }

    /// Reads the data feeds through `feeds` (the same table as the store,
    /// in production).
    pub fn with_feeds<F2: FeedLookup>(self, feeds: F2) -> Api<S, E, G, F2> {
        Api {
            store: self.store,
            live: self.live,
            feeds,
            usage_within_days: self.usage_within_days,
            products_cache: Mutex::new(None),
            default_region: self.default_region,
            metrics: self.metrics,
            clock: self.clock,
            cache_ttl: self.cache_ttl,
            sync_cache: self.sync_cache,
        }
    }
}

impl<S: ContactStore + ExportLog, E: InstanceConfirmer, G: AgreementSource, F: FeedLookup> Api<S, E, G, F> {
    pub fn live(&self) -> &LiveChecks<E, G> {
        &self.live
    }

    /// The usage rule, `SupportRequiresUsageWithinDays` (`None`: none).
    pub fn with_usage_rule(mut self, within_days: Option<u32>) -> Self {
        self.usage_within_days = within_days;
        self
    }

    /// The region of instance checks that name none: the function's own.
    pub fn with_default_region(mut self, region: Region) -> Self {
        self.default_region = region;
        self
    }

    /// How long to reuse the sync state read for freshness; zero reads it
    /// on every request.
    pub fn with_freshness_cache(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// Emits `ApiInternalError` (EMF, on stdout) for every 500.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The clock the freshness is computed against (tests).
    pub fn with_clock(mut self, clock: fn() -> Timestamp) -> Self {
        self.clock = clock;
        self
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// For `lambda_http::run(service_fn(...))`: never an error.
    pub async fn serve(&self, req: Request) -> Result<Response<Body>, Infallible> {
        Ok(self.handle(req).await)
    }

    /// Answers one request and writes its audit line.
    pub async fn handle(&self, req: Request) -> Response<Body> {
        let caller = Caller::of(&req);
        let request_id = request_id_of(&req);
        let path = routing_path(&req);
        let outcome = self.route(&req, &path, &request_id).await;
        let status = outcome.response.status().as_u16();
        info!(
            target: "audit",
            audit = true,
            caller = %caller.id,
            auth = caller.auth,
            route = outcome.route,
            key_kind = outcome.key_kind.as_str(),
            key = outcome.key.as_deref().unwrap_or("-"),
            results = outcome.results,
            status,
            request_id = %request_id,
            "lookup"
        );
        outcome.response
    }

    async fn route(&self, req: &Request, path: &str, request_id: &str) -> Outcome {
        let (route, params) = match match_route(req.method().as_str(), path) {
            RouteMatch::Found(route, params) => (route, params),
            RouteMatch::MethodNotAllowed(allowed) => {
                let allow = allowed.join(", ");
                let mut response = error_response(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "MethodNotAllowed",
                    None,
                    "this route only answers the methods in the Allow header",
                    None,
                    None,
                );
                if let Ok(v) = HeaderValue::from_str(&allow) {
                    response.headers_mut().insert(header::ALLOW, v);
                }
                return Outcome { response, route: "-", key_kind: KeyKind::None, key: None, results: 0 };
            }
            RouteMatch::NotFound => {
                let response = error_response(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    None,
                    "no such route: see the API description (docs/api.md)",
                    None,
                    None,
                );
                return Outcome { response, route: "-", key_kind: KeyKind::None, key: None, results: 0 };
            }
        };
        let (key_kind, key) = audit_key(route.endpoint, &params);
        let result = match Query::parse(req.uri().query(), route.query) {
            Err(e) => Err(ErrorReply::Invalid(e)),
            Ok(query) => self.answer(route.endpoint, &params, &query, request_id).await,
        };
        let (response, results) = match result {
            Ok(a) => {
                let results = a.results;
                (reply_response(a), results)
            }
            Err(ErrorReply::Invalid(e)) => {
                (error_response(StatusCode::BAD_REQUEST, "InvalidParameter", Some(&e.field), &e.message, None, None), 0)
            }
            Err(ErrorReply::NotConfigured(message)) => {
                (error_response(StatusCode::BAD_REQUEST, "NotConfigured", None, message, None, None), 0)
            }
            Err(ErrorReply::NotFound { message, freshness }) => {
                (error_response(StatusCode::NOT_FOUND, "NotFound", None, message, None, Some(freshness)), 0)
            }
            Err(ErrorReply::Unavailable { message, internal: e }) => {
                warn!(
                    request_id,
                    route = route.path,
                    operation = e.operation,
                    code = %e.code,
                    "lookup unavailable: answered 503"
                );
                let mut response = error_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ServiceUnavailable",
                    None,
                    message,
                    Some(request_id),
                    None,
                );
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
                (response, 0)
            }
            Err(ErrorReply::Internal(e)) => {
                error!(
                    request_id,
                    route = route.path,
                    operation = e.operation,
                    code = %e.code,
                    transient = e.transient,
                    missing_permission = e.missing_permission.unwrap_or("-"),
                    "lookup failed"
                );
                if let Some(m) = &self.metrics {
                    m.emit(&[("ApiInternalError", 1.0)]);
                }
                (internal_error(request_id), 0)
            }
        };
        // Only validated keys are logged: a malformed one could be anything.
        let key = if response.status() == StatusCode::BAD_REQUEST { None } else { key };
        Outcome { response, route: route.path, key_kind, key, results }
    }

    async fn answer(&self, endpoint: Endpoint, p: &[String], q: &Query, request_id: &str) -> Result<Reply, ErrorReply> {
        match endpoint {
            Endpoint::Account => {
                let account = params::account_id(param(p, 0))?;
                let (limit, cursor) = (params::limit(q.get("limit"))?, params::cursor(q.get("cursor"))?);
                let now = (self.clock)();
                let products = self.seller_products(request_id).await;
                let (psc, agreements, found) = tokio::join!(
                    self.account_page(&account, None, cursor, limit),
                    self.agreements(&products, &account, None, now, request_id),
                    self.account_feeds(&account, None, request_id)
                );
                let (page, psc_eligible, freshness) = psc?;
                let live = views::agreement_bodies(&agreements, &products);
                let (sources, eligibility, eligibility_reason) =
                    self.sources(&agreements, &live, psc_eligible, &freshness, &found, now);
                let subscriptions = views::subscriptions(&page.items);
                let view = AccountView {
                    aws_account_id: account.as_str().to_owned(),
                    eligible: eligibility == Eligibility::Eligible,
                    eligibility,
                    eligibility_reason,
                    sources,
                    agreements: live,
                    products: views::products(&subscriptions),
                    subscriptions,
                    contacts: views::contact_bodies(&page.items),
                    next_cursor: page.next_cursor,
                    freshness,
                };
                Ok(Reply::json(to_json(&view)?, page.items.len()))
            }
            Endpoint::AccountProduct => {
                let account = params::account_id(param(p, 0))?;
                let product = params::product_code(param(p, 1))?;
                let (limit, cursor) = (params::limit(q.get("limit"))?, params::cursor(q.get("cursor"))?);
                let now = (self.clock)();
                let products = self.seller_products(request_id).await;
                let (psc, agreements, found) = tokio::join!(
                    self.account_page(&account, Some(&product), cursor, limit),
                    self.agreements(&products, &account, Some(&product), now, request_id),
                    self.account_feeds(&account, Some(&product), request_id)
                );
                let (page, psc_eligible, freshness) = psc?;
                let live = views::agreement_bodies(&agreements, &products);
                let (sources, eligibility, eligibility_reason) =
                    self.sources(&agreements, &live, psc_eligible, &freshness, &found, now);
                let view = AccountProductView {
                    aws_account_id: account.as_str().to_owned(),
                    product_code: product.as_str().to_owned(),
                    eligible: eligibility == Eligibility::Eligible,
                    eligibility,
                    eligibility_reason,
                    sources,
                    agreements: live,
                    subscriptions: views::subscriptions(&page.items),
                    contacts: views::contact_bodies(&page.items),
                    next_cursor: page.next_cursor,
                    freshness,
                };
                Ok(Reply::json(to_json(&view)?, page.items.len()))
            }
            Endpoint::ContactsByEmail => {
                let email = params::email(q.get("email"))?;
                let (contacts, state) = self.with_sync_state(self.store.contacts_by_email(email)).await;
                let (contacts, freshness) = (contacts?, self.freshness(&state?));
                let view = ContactsView { contacts: views::contact_bodies(&contacts), freshness };
                Ok(Reply::json(to_json(&view)?, contacts.len()))
            }
            Endpoint::ContactByGuid => {
                let guid = params::customer_guid(param(p, 0))?;
                let (contact, state) = self.with_sync_state(self.store.contact_by_guid(&guid)).await;
                let freshness = self.freshness(&state?);
                let Some(contact) = contact? else {
                    return Err(ErrorReply::NotFound {
                        message: "no contact on record with this customerGuid (never shared, or deleted)",
                        freshness,
                    });
                };
                let view = ContactView { contact: views::contact_body(&contact), freshness };
                Ok(Reply::json(to_json(&view)?, 1))
            }
            Endpoint::Instance => self.instance(p, q, request_id).await,
            Endpoint::Subscribers => self.subscribers(p, q).await,
            Endpoint::SyncStatus => {
                let limit = params::exports_limit(q.get("limit"))?;
                // Always read: operators check here right after an export.
                let (state, exports) = tokio::join!(self.store.sync_state(), self.store.recent_exports(limit));
                let (state, exports) = (state?, exports?);
                self.remember_sync_state(&state);
                let view = SyncView {
                    watermark: state.watermark,
                    pending_ranges: state.pending.iter().map(views::coverage_body).collect(),
                    exports: exports.iter().map(views::export_body).collect(),
                    freshness: self.freshness(&state),
                };
                Ok(Reply::json(to_json(&view)?, exports.len()))
            }
        }
    }

    /// `GET /accounts/{awsAccountId}/instances/{instanceId}?productCode=&region=`
    async fn instance(&self, p: &[String], q: &Query, request_id: &str) -> Result<Reply, ErrorReply> {
        let account = params::account_id(param(p, 0))?;
        let instance = params::instance_id(param(p, 1))?;
        let product = params::required_product_code(q.get("productCode"))?;
        let region = params::region(q.get("region"), &self.default_region)?;
        let products = self.seller_products(request_id).await;
        if products.is_empty() {
            return Err(ErrorReply::NotConfigured(
                "no products are configured (stack parameter SellerProducts), so the instance check is off",
            ));
        }
        if products.by_code(&product).is_none() {
            return Err(InvalidParameter::new(
                "productCode",
                "is not one of the seller's products (stack parameter SellerProducts)",
            )
            .into());
        }
        let check = match self.live.instances.confirm_product_instance(&region, &instance, &product).await {
            Ok(check) => check,
            Err(e) if e.retryable => {
                return Err(ErrorReply::Unavailable {
                    message: "EC2 is throttling or unavailable; retry in a few seconds (see Retry-After)",
                    internal: e.into(),
                });
            }
            Err(e) => {
                let denied = is_access_denied(&e);
                let mut internal = Internal::from(e);
                if denied {
                    internal.missing_permission = Some(psc_bridge::aws::ec2::PERMISSION);
                }
                return Err(ErrorReply::Internal(internal));
            }
        };
        let (found, product_running, owner) = match &check {
            InstanceCheck::NotFound => (false, false, None),
            InstanceCheck::Found { product_running, owner } => (true, *product_running, owner.as_ref()),
        };
        let owner_matches = owner == Some(&account);
        let eligible = product_running && owner_matches;
        let message = match (found, product_running, owner_matches) {
            (false, _, _) => "EC2 knows no such instance in this region",
            (true, false, _) => "the instance does not run this product now (stopped, or another product)",
            (true, true, false) => "the instance runs this product, but another account owns it",
            (true, true, true) => "the instance runs this product and belongs to this account",
        };
        let view = InstanceView {
            aws_account_id: account.as_str().to_owned(),
            instance_id: instance.as_str().to_owned(),
            product_code: product.as_str().to_owned(),
            region: region.as_str().to_owned(),
            found,
            product_running,
            owner_id: owner.map(|o| o.as_str().to_owned()),
            owner_matches,
            eligible,
            sources: InstanceSources {
                instance: InstanceSource {
                    verdict: if eligible { Verdict::Eligible } else { Verdict::NotEligible },
                    as_of: (self.clock)(),
                    message: message.to_owned(),
                },
            },
        };
        Ok(Reply::json(to_json(&view)?, 1))
    }

    /// `GET /products/{productCode}/subscribers?status=&format=&limit=&cursor=`
    async fn subscribers(&self, p: &[String], q: &Query) -> Result<Reply, ErrorReply> {
        let code = params::product_code(param(p, 0))?;
        let status = params::subscriber_status(q.get("status"))?;
        let format = params::report_format(q.get("format"))?;
        let limit = params::report_limit(q.get("limit"))?;
        let cursor = params::cursor(q.get("cursor"))?;
        let active_only = status == SubscriberStatus::Active;
        let page = psc_bridge::feeds::subscribers(&self.feeds, &code, active_only, cursor, limit as usize).await?;
        let view = feeds::subscribers_view(&code, status, &page, (self.clock)());
        let results = view.subscribers.len();
        match format {
            ReportFormat::Json => Ok(Reply::json(to_json(&view)?, results)),
            ReportFormat::Csv => Ok(Reply {
                body: feeds::subscribers_csv(&view),
                results,
                csv: Some(CsvDownload { filename: feeds::csv_filename(&view), next_cursor: view.next_cursor }),
            }),
        }
    }

    /// The seller's products for the live checks: `SellerProducts`, or when
    /// it is empty the products the data feeds list (read once every
    /// [`FEED_PRODUCTS_CACHE_TTL`] by a warm function; a failed read is
    /// logged and answered as none, and not cached).
    async fn seller_products(&self, request_id: &str) -> Arc<SellerProducts> {
        if !self.live.products.is_empty() || !self.live.products_from_feeds {
            return Arc::new(self.live.products.clone());
        }
        if let Ok(cache) = self.products_cache.lock()
            && let Some((at, products)) = cache.as_ref()
            && at.elapsed() < FEED_PRODUCTS_CACHE_TTL
        {
            return products.clone();
        }
        match self.feeds.feed_products().await {
            Ok(list) => {
                let products = Arc::new(feeds::products_from_feeds(&list));
                if let Ok(mut cache) = self.products_cache.lock() {
                    *cache = Some((Instant::now(), products.clone()));
                }
                products
            }
            Err(e) => {
                warn!(
                    request_id,
                    operation = e.operation,
                    code = %e.code().unwrap_or("-"),
                    "feed products unavailable: live checks without seller products"
                );
                Arc::new(SellerProducts::default())
            }
        }
    }

    /// What the data feeds say of the account (and product); a failure is
    /// logged, and the `dataFeeds` source says `unavailable`.
    async fn account_feeds(
        &self,
        account: &AwsAccountId,
        product: Option<&ProductCode>,
        request_id: &str,
    ) -> Result<AccountFeeds, AwsError> {
        let found = psc_bridge::feeds::account_feeds(&self.feeds, account, product).await;
        if let Err(e) = &found {
            warn!(
                request_id,
                operation = e.operation,
                code = %e.code().unwrap_or("-"),
                "data feeds unavailable: answering without them"
            );
        }
        found
    }

    /// The three sources, the overall eligibility and its reason.
    fn sources(
        &self,
        agreements: &AgreementsLookup,
        live: &[AgreementBody],
        psc_eligible: bool,
        freshness: &Freshness,
        found: &Result<AccountFeeds, AwsError>,
        now: Timestamp,
    ) -> (Sources, Eligibility, String) {
        let sources = Sources {
            agreements: views::agreements_source(agreements, now),
            psc_contacts: views::psc_source(psc_eligible, freshness),
            data_feeds: feeds::data_feeds_source(found, self.usage_within_days, now),
        };
        let (eligibility, reason) =
            feeds::decide(&sources.agreements, live, &sources.psc_contacts, &sources.data_feeds);
        (sources, eligibility, reason)
    }

    /// The account's agreements, never an error: a failure is logged (with
    /// the missing permission when refused) and answered as unavailable.
    async fn agreements(
        &self,
        products: &SellerProducts,
        account: &AwsAccountId,
        product: Option<&ProductCode>,
        now: Timestamp,
        request_id: &str,
    ) -> AgreementsLookup {
        let (lookup, error) = self.live.agreements(products, account, product, now).await;
        if let AgreementsLookup::Unavailable(why) = &lookup {
            let (code, permission) = match &error {
                Some(e) => (
                    e.code().map_or_else(|| format!("{:?}", e.failure), str::to_owned),
                    is_access_denied(e).then_some(psc_bridge::aws::agreements::PERMISSION),
                ),
                None => (format!("{why:?}"), None),
            };
            warn!(
                request_id,
                operation = "SearchAgreements",
                code = %code,
                missing_permission = permission.unwrap_or("-"),
                "agreements unavailable: answering from PSC data alone"
            );
            if let Some(m) = &self.metrics {
                m.emit(&[("AgreementsUnavailable", 1.0)]);
            }
        }
        lookup
    }

    /// One page of an account's (or account and product's) contacts, whether
    /// the account is eligible, and the freshness.
    async fn account_page(
        &self,
        account: &AwsAccountId,
        product: Option<&ProductCode>,
        cursor: Option<&str>,
        limit: i32,
    ) -> Result<(Page<StoredContact>, bool, Freshness), ErrorReply> {
        let (page, state) = self.with_sync_state(self.store.contacts_by_account(account, product, cursor, limit)).await;
        let page = page?;
        let freshness = self.freshness(&state?);
        // A later page may be empty (the previous one ended exactly at the
        // end); eligibility is about the whole listing, not this page.
        let eligible = if !page.items.is_empty() || cursor.is_none() {
            !page.items.is_empty()
        } else {
            !self.store.contacts_by_account(account, product, None, 1).await?.items.is_empty()
        };
        Ok((page, eligible, freshness))
    }

    /// Runs `lookup`, and reads the sync state concurrently unless a recent
    /// one is cached.
    async fn with_sync_state<T>(&self, lookup: impl Future<Output = T>) -> (T, Result<SyncState, AwsError>) {
        if let Some(state) = self.cached_sync_state() {
            return (lookup.await, Ok(state));
        }
        let (found, state) = tokio::join!(lookup, self.store.sync_state());
        if let Ok(s) = &state {
            self.remember_sync_state(s);
        }
        (found, state)
    }

    fn cached_sync_state(&self) -> Option<SyncState> {
        let cache = self.sync_cache.lock().ok()?;
        let (at, state) = cache.as_ref()?;
        (at.elapsed() < self.cache_ttl).then(|| state.clone())
    }

    fn remember_sync_state(&self, state: &SyncState) {
        if self.cache_ttl.is_zero() {
            return;
        }
        if let Ok(mut cache) = self.sync_cache.lock() {
            *cache = Some((Instant::now(), state.clone()));
        }
    }

    fn freshness(&self, state: &SyncState) -> Freshness {
        views::freshness(state, (self.clock)())
    }
}

fn param(p: &[String], i: usize) -> &str {
    p.get(i).map_or("", String::as_str)
}

/// Kind and loggable value of the key (validated later; dropped on a 400).
fn audit_key(endpoint: Endpoint, p: &[String]) -> (KeyKind, Option<String>) {
    match endpoint {
        Endpoint::Account => (KeyKind::Account, Some(param(p, 0).to_owned())),
        Endpoint::AccountProduct => (KeyKind::Product, Some(format!("{}/{}", param(p, 0), param(p, 1)))),
        Endpoint::ContactsByEmail => (KeyKind::Email, None),
        Endpoint::ContactByGuid => (KeyKind::Guid, Some(param(p, 0).to_owned())),
        Endpoint::SyncStatus => (KeyKind::Sync, None),
        Endpoint::Instance => (KeyKind::Instance, Some(format!("{}/{}", param(p, 0), param(p, 1)))),
        Endpoint::Subscribers => (KeyKind::Report, Some(param(p, 0).to_owned())),
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, ErrorReply> {
    serde_json::to_vec(v).map_err(|_| {
        ErrorReply::Internal(Internal {
            operation: "serialize",
            code: "serde".into(),
            transient: false,
            missing_permission: None,
        })
    })
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // Contact data: no cache may keep it.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn reply_response(reply: Reply) -> Response<Body> {
    let Some(csv) = reply.csv else { return json_response(StatusCode::OK, reply.body) };
    let mut r = Response::new(Body::from(reply.body));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Product codes are letters and digits, the date digits: always a valid value.
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", csv.filename)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(v) = csv.next_cursor.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(NEXT_CURSOR_HEADER, v);
    }
    r
}

fn error_response(
    status: StatusCode,
    code: &'static str,
    field: Option<&str>,
    message: &str,
    request_id: Option<&str>,
    freshness: Option<Freshness>,
) -> Response<Body> {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            field: field.map(str::to_owned),
            message: message.to_owned(),
            request_id: request_id.map(str::to_owned),
        },
        freshness,
    };
    match serde_json::to_vec(&body) {
        Ok(b) => json_response(status, b),
        Err(_) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"error":{"code":"InternalError","message":"internal error"}}"#.to_vec(),
        ),
    }
}

fn internal_error(request_id: &str) -> Response<Body> {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        None,
        "internal error; quote the requestId to the operators",
        Some(request_id),
        None,
    )
}
