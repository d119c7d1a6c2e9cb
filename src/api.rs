//! The eligibility API's contract: its requests ([`Lookup`]) and its answers
//! (the `*View` bodies, [`ErrorBody`]), owned, `Serialize` and `Deserialize`.
//!
//! One definition for both sides: `eligibility-api` builds these from the
//! core's models and serializes them; `psc` (its tables, its commands, its
//! console) and the local run (`psc-local`) deserialize the same types. A
//! renamed field fails to compile (or to parse) instead of printing `-`.
//!
//! Plain data: identifiers are strings as the API writes them, times are
//! [`Timestamp`] (`2016-05-19T18:21:06.834Z`). Field order is the JSON's.
//! `docs/openapi.yaml` describes them, checked against [`examples`] by
//! `functions/eligibility-api/tests/eligibility_api/openapi.rs`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::aws::signed::encode_component;
use crate::domain::Timestamp;

// --------------------------------------------------------------- requests

/// One request to the API: a route and its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "route", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Lookup {
    /// `GET /accounts/{awsAccountId}?limit=&cursor=`
    Account { aws_account_id: String, limit: Option<u32>, cursor: Option<String> },
    /// `GET /accounts/{awsAccountId}/products/{productCode}?limit=&cursor=`
    AccountProduct { aws_account_id: String, product_code: String, limit: Option<u32>, cursor: Option<String> },
    /// `GET /accounts/{awsAccountId}/instances/{instanceId}?productCode=&region=`
    Instance { aws_account_id: String, instance_id: String, product_code: String, region: Option<String> },
    /// `GET /contacts?email=`
    ContactsByEmail { email: String },
    /// `GET /contacts/{customerGuid}`
    Contact { customer_guid: String },
    /// `GET /sync?limit=`
    Sync { limit: Option<u32> },
    /// `GET /products/{productCode}/subscribers?status=&format=&limit=&cursor=`
    Subscribers {
        product_code: String,
        status: Option<SubscriberStatus>,
        format: Option<ReportFormat>,
        limit: Option<u32>,
        cursor: Option<String>,
    },
}

/// Which subscribers the report lists: `active` (the default), or `all`
/// (every agreement in force, whatever its status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SubscriberStatus {
    #[default]
    Active,
    All,
}

impl SubscriberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::All => "all",
        }
    }
}

/// The report's body: JSON ([`SubscribersView`], the default) or CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ReportFormat {
    #[default]
    Json,
    Csv,
}

impl ReportFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
        }
    }
}

impl Lookup {
    /// The route it asks, as the API's route table spells it.
    pub fn route(&self) -> &'static str {
        match self {
            Self::Account { .. } => "/accounts/{awsAccountId}",
            Self::AccountProduct { .. } => "/accounts/{awsAccountId}/products/{productCode}",
            Self::Instance { .. } => "/accounts/{awsAccountId}/instances/{instanceId}",
            Self::ContactsByEmail { .. } => "/contacts",
            Self::Contact { .. } => "/contacts/{customerGuid}",
            Self::Sync { .. } => "/sync",
            Self::Subscribers { .. } => "/products/{productCode}/subscribers",
        }
    }

    /// Path and query, relative to the API's base URL (no leading `/`),
    /// every value percent-encoded.
    pub fn path_and_query(&self) -> String {
        let e = encode_component;
        let (path, query): (String, Vec<(&str, String)>) = match self {
            Self::Account { aws_account_id, limit, cursor } => {
                (format!("accounts/{}", e(aws_account_id)), page(*limit, cursor.as_deref()))
            }
            Self::AccountProduct { aws_account_id, product_code, limit, cursor } => (
                format!("accounts/{}/products/{}", e(aws_account_id), e(product_code)),
                page(*limit, cursor.as_deref()),
            ),
            Self::Instance { aws_account_id, instance_id, product_code, region } => {
                let mut q = vec![("productCode", e(product_code))];
                q.extend(region.as_deref().map(|r| ("region", e(r))));
                (format!("accounts/{}/instances/{}", e(aws_account_id), e(instance_id)), q)
            }
            Self::ContactsByEmail { email } => ("contacts".to_owned(), vec![("email", e(email))]),
            Self::Contact { customer_guid } => (format!("contacts/{}", e(customer_guid)), Vec::new()),
            Self::Sync { limit } => ("sync".to_owned(), page(*limit, None)),
            Self::Subscribers { product_code, status, format, limit, cursor } => {
                let mut q = Vec::new();
                q.extend(status.map(|s| ("status", s.as_str().to_owned())));
                q.extend(format.map(|f| ("format", f.as_str().to_owned())));
                q.extend(page(*limit, cursor.as_deref()));
                (format!("products/{}/subscribers", e(product_code)), q)
            }
        };
        let query: Vec<String> = query.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        if query.is_empty() { path } else { format!("{path}?{}", query.join("&")) }
    }
}

fn page(limit: Option<u32>, cursor: Option<&str>) -> Vec<(&'static str, String)> {
    let mut q = Vec::new();
    q.extend(limit.map(|l| ("limit", l.to_string())));
    q.extend(cursor.map(|c| ("cursor", encode_component(c))));
    q
}

// ---------------------------------------------------------------- answers

/// How fresh the data is: the watermark (everything CAS reported up to it is
/// applied) and its age, in wall-clock and in business time (Monday to
/// Friday, UTC), against the one-business-day rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Freshness {
    /// `null` before the first export was applied.
    pub watermark: Option<Timestamp>,
    pub age_seconds: Option<i64>,
    pub business_age_seconds: Option<i64>,
    /// True when the watermark is more than one business day old, or absent.
    pub stale_beyond_one_business_day: bool,
}

/// One contact, as the API shows it. Its `Debug` shows the identifiers
/// only, never the contact fields.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactBody {
    pub customer_guid: String,
    pub aws_account_id: String,
    pub product_id: String,
    pub product_code: String,
    pub subscription_guid: String,
    pub subscription_start_date: Timestamp,
    pub organization: String,
    pub given_name: String,
    pub surname: String,
    pub telephone_number: String,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip_code: Option<String>,
    pub operation_time: Timestamp,
}

impl fmt::Debug for ContactBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContactBody")
            .field("customer_guid", &self.customer_guid)
            .field("aws_account_id", &self.aws_account_id)
            .field("product_code", &self.product_code)
            .field("subscription_guid", &self.subscription_guid)
            .field("operation_time", &self.operation_time)
            .finish_non_exhaustive()
    }
}

/// A covered time span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageBody {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// An export's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CountsBody {
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    pub skipped_stale: u64,
    pub rejected: u64,
}

impl CountsBody {
    /// Rows written to the table (created + updated + deleted).
    pub fn applied(&self) -> u64 {
        self.created + self.updated + self.deleted
    }
}

/// One export, as `GET /sync` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportBody {
    pub request_id: String,
    /// `REQUESTED`, `APPLYING`, `APPLIED`, `PARTIAL`, `FAILED` or `INTERRUPTED`.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_set_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_date: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<Timestamp>,
    pub forced: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coverage: Option<CoverageBody>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    pub counts: CountsBody,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejects_report: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How far an export in flight has got (APPLYING, with a checkpoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<ProgressBody>,
}

impl ExportBody {
    /// APPLIED, PARTIAL, FAILED or INTERRUPTED: nothing more will happen
    /// to it (an interrupted one, unless an operator resumes it).
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "APPLIED" | "PARTIAL" | "FAILED" | "INTERRUPTED")
    }
}

/// `progress` of an export in flight: its last checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgressBody {
    /// Rows read so far (applied, stale and rejected).
    pub rows: u64,
    pub counts: CountsBody,
    pub bytes_read: u64,
    pub bytes: u64,
    /// `bytesRead / bytes`, 0 to 1, three decimals.
    pub share_read: f64,
    /// Invocations that have worked on it so far.
    pub invocations: u32,
    pub checkpoint_at: Timestamp,
}

/// One subscription of an account, as its contacts describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    pub subscription_guid: String,
    /// The earliest Subscription Start Date among its contacts: PSC records
    /// carry it per contact, and they can differ.
    pub subscription_start_date: Timestamp,
    pub product_code: String,
    pub product_id: String,
    pub contact_count: u64,
}

/// One product of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductView {
    pub product_code: String,
    pub product_id: String,
    pub subscription_guids: Vec<String>,
    pub contact_count: u64,
}

/// One source's verdict on an account (and product).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    /// This source supports the caller's entitlement.
    Eligible,
    /// This source answered, and does not.
    NotEligible,
    /// This source could not answer now (`message` says why).
    Unavailable,
    /// This source is not configured (no `SellerProducts`, or not this product).
    NotConfigured,
}

/// The answer of every source together. `eligible` (the boolean beside it)
/// is true exactly when this is `eligible`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Eligibility {
    /// A source says eligible.
    Eligible,
    /// No source says eligible, and the live Agreement API answered (a
    /// subscription of a minute ago would be in it); or the usage rule
    /// (`SupportRequiresUsageWithinDays`) decided.
    NotEligible,
    /// No source says eligible, but none can rule it out: the caller may
    /// have subscribed since the feeds' `asOf`, and the live agreement check
    /// is not configured or did not answer. Help in good faith
    /// (`eligibilityReason` says why).
    Unconfirmed,
}

impl Eligibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eligible => "eligible",
            Self::NotEligible => "notEligible",
            Self::Unconfirmed => "unconfirmed",
        }
    }
}

/// Which sources support `eligible`, and how fresh each is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sources {
    pub agreements: AgreementsSource,
    pub psc_contacts: PscSource,
    pub data_feeds: DataFeedsSource,
}

/// The Seller Delivery Data Feeds' part: eligible on an `ACTIVE` agreement
/// for the product (and, with `SupportRequiresUsageWithinDays`, usage in
/// those days).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataFeedsSource {
    pub verdict: Verdict,
    /// The newest delivery applied (`null` before the first run finished).
    pub as_of: Option<Timestamp>,
    pub age_seconds: Option<i64>,
    /// True when `asOf` is more than two days old, or absent.
    pub stale: bool,
    /// The stack's `SupportRequiresUsageWithinDays` (`null`: no usage rule).
    pub usage_within_days: Option<u32>,
    /// True when the usage rule decided the verdict: an `ACTIVE` agreement,
    /// but no usage in those days.
    pub decided_by_usage_rule: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The account's products in the feeds (only the asked one on
    /// `/accounts/{id}/products/{code}`).
    pub products: Vec<FeedProductBody>,
}

/// One product of an account in the data feeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedProductBody {
    pub product_id: String,
    /// `null` while the Product feed does not list the product.
    pub product_code: Option<String>,
    pub title: Option<String>,
    /// An agreement for it is `ACTIVE`.
    pub active: bool,
    /// Its agreements (revision in force), the newest start first.
    pub agreements: Vec<FeedAgreementBody>,
    /// `YYYY-MM-DD`: the latest day of usage the Daily usage feed reports.
    pub last_usage_date: Option<String>,
}

/// One agreement, as the data feeds report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedAgreementBody {
    pub agreement_id: String,
    pub status: String,
    /// The agreement's start and end (`until` is `null` for pay-as-you-go).
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub acceptance_time: Option<Timestamp>,
    pub offer_id: Option<String>,
}

/// The Agreement API's part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgreementsSource {
    pub verdict: Verdict,
    /// When the Agreement API gave these agreements (`null` when it did not answer).
    pub as_of: Option<Timestamp>,
    pub age_seconds: Option<i64>,
    /// True when they come from the function's short-lived cache.
    pub cached: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The PSC contacts' part: eligible when a live contact is on file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PscSource {
    pub verdict: Verdict,
    /// The watermark: everything PSC reported up to it is applied.
    pub as_of: Option<Timestamp>,
    pub stale_beyond_one_business_day: bool,
}

/// One purchase agreement, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgreementBody {
    pub agreement_id: String,
    pub status: String,
    pub active: bool,
    /// The PSC product code `SellerProducts` maps the product id to.
    pub product_code: Option<String>,
    pub product_id: Option<String>,
    pub offer_id: Option<String>,
    pub agreement_type: Option<String>,
    pub acceptance_time: Option<Timestamp>,
    pub start_time: Option<Timestamp>,
    pub end_time: Option<Timestamp>,
}

/// `GET /accounts/{awsAccountId}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountView {
    pub aws_account_id: String,
    pub eligible: bool,
    pub eligibility: Eligibility,
    /// Why, in a sentence for the support desk (which source decided).
    pub eligibility_reason: String,
    pub sources: Sources,
    pub agreements: Vec<AgreementBody>,
    /// Products, subscriptions and contacts of this page; `nextCursor` continues.
    pub products: Vec<ProductView>,
    pub subscriptions: Vec<SubscriptionView>,
    pub contacts: Vec<ContactBody>,
    pub next_cursor: Option<String>,
    pub freshness: Freshness,
}

/// `GET /accounts/{awsAccountId}/products/{productCode}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountProductView {
    pub aws_account_id: String,
    pub product_code: String,
    pub eligible: bool,
    pub eligibility: Eligibility,
    pub eligibility_reason: String,
    pub sources: Sources,
    pub agreements: Vec<AgreementBody>,
    pub subscriptions: Vec<SubscriptionView>,
    pub contacts: Vec<ContactBody>,
    pub next_cursor: Option<String>,
    pub freshness: Freshness,
}

/// `GET /accounts/{awsAccountId}/instances/{instanceId}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceView {
    pub aws_account_id: String,
    pub instance_id: String,
    pub product_code: String,
    pub region: String,
    /// False when EC2 knows no such instance in this region.
    pub found: bool,
    /// EC2's `return`: the product code is attached to the instance and it runs.
    pub product_running: bool,
    /// The owner EC2 reports (`null` when it reports none).
    pub owner_id: Option<String>,
    /// The owner is the account in the path.
    pub owner_matches: bool,
    /// `productRunning` and `ownerMatches`.
    pub eligible: bool,
    pub sources: InstanceSources,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceSources {
    pub instance: InstanceSource,
}

/// EC2's part: asked live, so as of now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceSource {
    pub verdict: Verdict,
    pub as_of: Timestamp,
    pub message: String,
}

/// `GET /contacts?email=`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactsView {
    pub contacts: Vec<ContactBody>,
    pub freshness: Freshness,
}

/// `GET /contacts/{customerGuid}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactView {
    pub contact: ContactBody,
    pub freshness: Freshness,
}

/// `GET /sync`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncView {
    pub watermark: Option<Timestamp>,
    /// Coverage applied beyond a gap, merged into the watermark once the gap closes.
    pub pending_ranges: Vec<CoverageBody>,
    /// The newest first.
    pub exports: Vec<ExportBody>,
    pub freshness: Freshness,
}

impl SyncView {
    /// The export `request_id`, when listed.
    pub fn export(&self, request_id: &str) -> Option<&ExportBody> {
        self.exports.iter().find(|e| e.request_id == request_id)
    }
}

/// `GET /products/{productCode}/subscribers`: the daily subscription
/// report, from the data feeds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscribersView {
    pub product_code: String,
    /// `null` when the feeds do not list the product code.
    pub product_id: Option<String>,
    pub title: Option<String>,
    pub status: SubscriberStatus,
    /// The feeds' newest delivery applied.
    pub as_of: Option<Timestamp>,
    pub age_seconds: Option<i64>,
    /// One row per agreement of this page.
    pub subscribers: Vec<SubscriberBody>,
    pub next_cursor: Option<String>,
}

/// One subscribed account (one of its agreements for the product).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriberBody {
    pub product_id: String,
    pub product_code: String,
    /// `null` while the Account feed has not given the buyer's account id.
    pub aws_account_id: Option<String>,
    pub agreement_id: String,
    pub agreement_status: String,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// `YYYY-MM-DD`.
    pub last_usage_date: Option<String>,
}

/// `{"error": {...}}`, plus freshness on a lookup that found nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freshness: Option<Freshness>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// `InvalidParameter`, `NotConfigured`, `NotFound`, `MethodNotAllowed`,
    /// `InternalError` or `ServiceUnavailable`.
    pub code: String,
    /// The parameter at fault (`InvalidParameter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
    /// `InternalError` and `ServiceUnavailable`: the id to quote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

// --------------------------------------------------------------- examples

/// Complete answers, every optional field set: the contract's round-trip
/// tests, the OpenAPI check, and tests of what reads the answers start
/// from these. The guide's test data set (account 000011112222).
pub mod examples {
    use super::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).expect("an example timestamp")
    }

    pub const ACCOUNT: &str = "000011112222";
    pub const PRODUCT: &str = "4gzp2symm0v9zidfrn9f854w6";

    /// One request per route, every parameter given.
    pub fn lookups() -> Vec<Lookup> {
        vec![
            Lookup::Account { aws_account_id: ACCOUNT.into(), limit: Some(20), cursor: Some("eyJhIjoiYiJ9".into()) },
            Lookup::AccountProduct {
                aws_account_id: ACCOUNT.into(),
                product_code: PRODUCT.into(),
                limit: Some(20),
                cursor: Some("eyJhIjoiYiJ9".into()),
            },
            Lookup::Instance {
                aws_account_id: ACCOUNT.into(),
                instance_id: "i-0a1b2c3d4e5f60718".into(),
                product_code: PRODUCT.into(),
                region: Some("eu-west-1".into()),
            },
            Lookup::ContactsByEmail { email: "a+b@example.com".into() },
            Lookup::Contact { customer_guid: "ba1d75cc-d984-4f07-bb14-ae04b952afbc".into() },
            Lookup::Sync { limit: Some(10) },
            Lookup::Subscribers {
                product_code: PRODUCT.into(),
                status: Some(SubscriberStatus::All),
                format: Some(ReportFormat::Csv),
                limit: Some(50),
                cursor: Some("eyJhIjoiYiJ9".into()),
            },
        ]
    }

    pub fn freshness() -> Freshness {
        Freshness {
            watermark: Some(t("2026-11-20T17:00:00.000Z")),
            age_seconds: Some(259_200),
            business_age_seconds: Some(86_400),
            stale_beyond_one_business_day: false,
        }
    }

    pub fn contact() -> ContactBody {
        ContactBody {
            customer_guid: "ba1d75cc-d984-4f07-bb14-ae04b952afbc".into(),
            aws_account_id: ACCOUNT.into(),
            product_id: "5b8e9f1c-0b7e-4c2e-9d3c-6a1f2e3d4c5b".into(),
            product_code: PRODUCT.into(),
            subscription_guid: "cad3bd7e-7b1d-4e4b-8b5e-1f2a3b4c5d6e".into(),
            subscription_start_date: t("2016-05-19T00:00:00.000Z"),
            organization: "Example Corp".into(),
            given_name: "Angela".into(),
            surname: "Doe".into(),
            telephone_number: "+1 555 0100".into(),
            email: "adoe@example.com".into(),
            title: Some("CTO".into()),
            country_code: Some("US".into()),
            zip_code: Some("98101".into()),
            operation_time: t("2016-05-19T18:21:06.834Z"),
        }
    }

    pub fn agreement() -> AgreementBody {
        AgreementBody {
            agreement_id: "agmt-1a2b3c4d5e6f7g8h9i0j".into(),
            status: "ACTIVE".into(),
            active: true,
            product_code: Some(PRODUCT.into()),
            product_id: Some("prod-4gzp2symm0v9z".into()),
            offer_id: Some("offer-abc".into()),
            agreement_type: Some("PurchaseAgreement".into()),
            acceptance_time: Some(t("2026-01-01T00:00:00.000Z")),
            start_time: Some(t("2026-01-01T00:00:00.000Z")),
            end_time: Some(t("2027-01-01T00:00:00.000Z")),
        }
    }

    pub fn sources() -> Sources {
        Sources {
            agreements: AgreementsSource {
                verdict: Verdict::Eligible,
                as_of: Some(t("2026-11-23T16:59:00.000Z")),
                age_seconds: Some(60),
                cached: true,
                message: Some("the Agreement API is throttling requests".into()),
            },
            psc_contacts: PscSource {
                verdict: Verdict::Eligible,
                as_of: Some(t("2026-11-20T17:00:00.000Z")),
                stale_beyond_one_business_day: false,
            },
            data_feeds: data_feeds(),
        }
    }

    pub fn feed_agreement() -> FeedAgreementBody {
        FeedAgreementBody {
            agreement_id: "agmt-1a2b3c4d5e6f7g8h9i0j".into(),
            status: "ACTIVE".into(),
            since: Some(t("2026-01-01T00:00:00.000Z")),
            until: Some(t("2027-01-01T00:00:00.000Z")),
            acceptance_time: Some(t("2026-01-01T00:00:00.000Z")),
            offer_id: Some("offer-abc".into()),
        }
    }

    pub fn data_feeds() -> DataFeedsSource {
        DataFeedsSource {
            verdict: Verdict::Eligible,
            as_of: Some(t("2026-11-23T01:30:00.000Z")),
            age_seconds: Some(55_800),
            stale: false,
            usage_within_days: Some(30),
            decided_by_usage_rule: false,
            message: Some("an ACTIVE agreement, used on 2026-11-22".into()),
            products: vec![FeedProductBody {
                product_id: "prod-4gzp2symm0v9z".into(),
                product_code: Some(PRODUCT.into()),
                title: Some("Example Product".into()),
                active: true,
                agreements: vec![feed_agreement()],
                last_usage_date: Some("2026-11-22".into()),
            }],
        }
    }

    pub fn subscribers() -> SubscribersView {
        let a = feed_agreement();
        SubscribersView {
            product_code: PRODUCT.into(),
            product_id: Some("prod-4gzp2symm0v9z".into()),
            title: Some("Example Product".into()),
            status: SubscriberStatus::Active,
            as_of: Some(t("2026-11-23T01:30:00.000Z")),
            age_seconds: Some(55_800),
            subscribers: vec![SubscriberBody {
                product_id: "prod-4gzp2symm0v9z".into(),
                product_code: PRODUCT.into(),
                aws_account_id: Some(ACCOUNT.into()),
                agreement_id: a.agreement_id,
                agreement_status: a.status,
                since: a.since,
                until: a.until,
                last_usage_date: Some("2026-11-22".into()),
            }],
            next_cursor: Some("eyJhIjoiYiJ9".into()),
        }
    }

    pub fn subscription() -> SubscriptionView {
        let c = contact();
        SubscriptionView {
            subscription_guid: c.subscription_guid,
            subscription_start_date: c.subscription_start_date,
            product_code: c.product_code,
            product_id: c.product_id,
            contact_count: 1,
        }
    }

    pub fn account() -> AccountView {
        let s = subscription();
        AccountView {
            aws_account_id: ACCOUNT.into(),
            eligible: true,
            eligibility: Eligibility::Eligible,
            eligibility_reason: "an ACTIVE agreement for the product (Agreement API)".into(),
            sources: sources(),
            agreements: vec![agreement()],
            products: vec![ProductView {
                product_code: s.product_code.clone(),
                product_id: s.product_id.clone(),
                subscription_guids: vec![s.subscription_guid.clone()],
                contact_count: 1,
            }],
            subscriptions: vec![s],
            contacts: vec![contact()],
            next_cursor: Some("eyJhIjoiYiJ9".into()),
            freshness: freshness(),
        }
    }

    pub fn account_product() -> AccountProductView {
        AccountProductView {
            aws_account_id: ACCOUNT.into(),
            product_code: PRODUCT.into(),
            eligible: true,
            eligibility: Eligibility::Eligible,
            eligibility_reason: "an ACTIVE agreement for the product (Agreement API)".into(),
            sources: sources(),
            agreements: vec![agreement()],
            subscriptions: vec![subscription()],
            contacts: vec![contact()],
            next_cursor: Some("eyJhIjoiYiJ9".into()),
            freshness: freshness(),
        }
    }

    pub fn instance() -> InstanceView {
        InstanceView {
            aws_account_id: ACCOUNT.into(),
            instance_id: "i-0a1b2c3d4e5f60718".into(),
            product_code: PRODUCT.into(),
            region: "us-east-1".into(),
            found: true,
            product_running: true,
            owner_id: Some(ACCOUNT.into()),
            owner_matches: true,
            eligible: true,
            sources: InstanceSources {
                instance: InstanceSource {
                    verdict: Verdict::Eligible,
                    as_of: t("2026-11-23T17:00:00.000Z"),
                    message: "the instance runs this product and belongs to this account".into(),
                },
            },
        }
    }

    pub fn contacts() -> ContactsView {
        ContactsView { contacts: vec![contact()], freshness: freshness() }
    }

    pub fn contact_view() -> ContactView {
        ContactView { contact: contact(), freshness: freshness() }
    }

    pub fn export() -> ExportBody {
        let counts = CountsBody { created: 4, updated: 1, deleted: 1, skipped_stale: 1, rejected: 2 };
        ExportBody {
            request_id: "c3c84ee0-5aba-11e6-8d9c-235dc080841d".into(),
            status: "APPLYING".into(),
            data_set_type: Some("ProductSupportConnection".into()),
            from_date: Some(t("2026-11-01T00:00:00.000Z")),
            requested_at: Some(t("2026-11-20T16:00:00.000Z")),
            forced: false,
            received_at: Some(t("2026-11-20T16:10:00.000Z")),
            coverage: Some(CoverageBody { start: t("2026-11-01T00:00:00.000Z"), end: t("2026-11-20T17:00:00.000Z") }),
            finished_at: Some(t("2026-11-20T16:11:00.000Z")),
            counts,
            rejects_report: Some("s3://psc-bridge-exports/rejects/c3c84ee0.csv".into()),
            message: Some("2 rows rejected".into()),
            progress: Some(ProgressBody {
                rows: 9,
                counts,
                bytes_read: 1024,
                bytes: 4096,
                share_read: 0.25,
                invocations: 2,
                checkpoint_at: t("2026-11-20T16:10:30.000Z"),
            }),
        }
    }

    pub fn sync() -> SyncView {
        SyncView {
            watermark: Some(t("2026-11-20T17:00:00.000Z")),
            pending_ranges: vec![CoverageBody {
                start: t("2026-11-21T00:00:00.000Z"),
                end: t("2026-11-22T00:00:00.000Z"),
            }],
            exports: vec![export()],
            freshness: freshness(),
        }
    }

    pub fn error() -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: "NotFound".into(),
                field: Some("customerGuid".into()),
                message: "no contact on record with this customerGuid (never shared, or deleted)".into(),
                request_id: Some("JKJaXmPLvHcESHA=".into()),
            },
            freshness: Some(freshness()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::DeserializeOwned;

    fn round_trip<T: Serialize + DeserializeOwned + PartialEq + fmt::Debug>(answer: T) {
        let json = serde_json::to_string(&answer).unwrap();
        let back: T = serde_json::from_str(&json).unwrap();
        assert_eq!(back, answer, "{json}");
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
    }

    #[test]
    fn every_answer_survives_a_round_trip() {
        round_trip(examples::account());
        round_trip(examples::account_product());
        round_trip(examples::instance());
        round_trip(examples::contacts());
        round_trip(examples::contact_view());
        round_trip(examples::sync());
        round_trip(examples::error());
        round_trip(examples::subscribers());
        for lookup in examples::lookups() {
            round_trip(lookup);
        }
    }

    #[test]
    fn optional_members_are_absent_or_null_as_documented() {
        let mut e = examples::export();
        (e.data_set_type, e.from_date, e.requested_at, e.received_at, e.coverage) = (None, None, None, None, None);
        (e.finished_at, e.rejects_report, e.message, e.progress) = (None, None, None, None);
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"requestId": e.request_id, "status": "APPLYING", "forced": false,
                "counts": {"created": 4, "updated": 1, "deleted": 1, "skippedStale": 1, "rejected": 2}})
        );
        let a = AgreementBody { product_code: None, end_time: None, ..examples::agreement() };
        let v = serde_json::to_value(&a).unwrap();
        assert!(v["productCode"].is_null() && v["endTime"].is_null(), "{v}");
        round_trip(e);
        round_trip(a);
    }

    #[test]
    fn lookups_are_paths_with_encoded_values() {
        let paths: Vec<String> = examples::lookups().iter().map(Lookup::path_and_query).collect();
        assert_eq!(
            paths,
            [
                "accounts/000011112222?limit=20&cursor=eyJhIjoiYiJ9",
                "accounts/000011112222/products/4gzp2symm0v9zidfrn9f854w6?limit=20&cursor=eyJhIjoiYiJ9",
                "accounts/000011112222/instances/i-0a1b2c3d4e5f60718?productCode=4gzp2symm0v9zidfrn9f854w6&region=eu-west-1",
                "contacts?email=a%2Bb%40example.com",
                "contacts/ba1d75cc-d984-4f07-bb14-ae04b952afbc",
                "sync?limit=10",
                "products/4gzp2symm0v9zidfrn9f854w6/subscribers?status=all&format=csv&limit=50&cursor=eyJhIjoiYiJ9",
            ]
        );
        let bare = Lookup::Account { aws_account_id: "../sync".into(), limit: None, cursor: None };
        assert_eq!(bare.path_and_query(), "accounts/..%2Fsync");
    }

    #[test]
    fn a_contacts_debug_shows_no_contact_field() {
        let text = format!("{:?}", examples::contact());
        for personal in ["Angela", "Doe", "adoe@example.com", "555", "Example Corp", "CTO", "98101"] {
            assert!(!text.contains(personal), "{text}");
        }
    }
}
