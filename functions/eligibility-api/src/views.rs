//! Response bodies: the API's own types, built from the core's models, so
//! the table's shape and the models are free to change. `docs/api.md` and
//! `docs/openapi.yaml` describe them.

use std::collections::BTreeMap;

use serde::Serialize;

use psc_bridge::domain::{AwsAccountId, Guid, ProductCode, Timestamp};
use psc_bridge::entitlement::{Agreement, InstanceId, SellerProducts};
use psc_bridge::model::{Checkpoint, Counts, ExportRecord, ExportStatus, StoredContact};
use psc_bridge::sync::{Coverage, SyncState, business_age, is_older_than_one_business_day};

use crate::live::AgreementsLookup;

/// How fresh the data is: the watermark (everything CAS reported up to it is
/// applied) and its age, in wall-clock and in business time (Monday to
/// Friday, UTC), against the one-business-day rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Freshness {
    /// `null` before the first export was applied.
    pub watermark: Option<Timestamp>,
    pub age_seconds: Option<i64>,
    pub business_age_seconds: Option<i64>,
    /// True when the watermark is more than one business day old, or absent.
    pub stale_beyond_one_business_day: bool,
}

impl Freshness {
    pub fn of(state: &SyncState, now: Timestamp) -> Self {
        match state.watermark {
            None => Self {
                watermark: None,
                age_seconds: None,
                business_age_seconds: None,
                stale_beyond_one_business_day: true,
            },
            Some(w) => Self {
                watermark: Some(w),
                age_seconds: Some((now.unix_seconds() - w.unix_seconds()).max(0)),
                business_age_seconds: Some(business_age(w, now).whole_seconds()),
                stale_beyond_one_business_day: is_older_than_one_business_day(w, now),
            },
        }
    }
}

/// One contact, as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactBody<'a> {
    pub customer_guid: &'a Guid,
    pub aws_account_id: &'a AwsAccountId,
    pub product_id: &'a Guid,
    pub product_code: &'a ProductCode,
    pub subscription_guid: &'a Guid,
    pub subscription_start_date: Timestamp,
    pub organization: &'a str,
    pub given_name: &'a str,
    pub surname: &'a str,
    pub telephone_number: &'a str,
    pub email: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zip_code: Option<&'a str>,
    pub operation_time: Timestamp,
}

impl<'a> From<&'a StoredContact> for ContactBody<'a> {
    fn from(c: &'a StoredContact) -> Self {
        let d = &c.details;
        Self {
            customer_guid: &c.customer_guid,
            aws_account_id: &c.aws_account_id,
            product_id: &c.product_id,
            product_code: &c.product_code,
            subscription_guid: &c.subscription_guid,
            subscription_start_date: c.subscription_start_date,
            organization: &d.organization,
            given_name: &d.given_name,
            surname: &d.surname,
            telephone_number: &d.telephone_number,
            email: &d.email,
            title: d.title.as_deref(),
            country_code: d.country_code.as_deref(),
            zip_code: d.zip_code.as_deref(),
            operation_time: c.operation_time,
        }
    }
}

pub fn contact_bodies(contacts: &[StoredContact]) -> Vec<ContactBody<'_>> {
    contacts.iter().map(ContactBody::from).collect()
}

/// A covered time span.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CoverageBody {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl From<&Coverage> for CoverageBody {
    fn from(c: &Coverage) -> Self {
        Self { start: c.start, end: c.end }
    }
}

/// An export's counts.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CountsBody {
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    pub skipped_stale: u64,
    pub rejected: u64,
}

impl From<&Counts> for CountsBody {
    fn from(c: &Counts) -> Self {
        Self {
            created: c.created,
            updated: c.updated,
            deleted: c.deleted,
            skipped_stale: c.skipped_stale,
            rejected: c.rejected,
        }
    }
}

/// One export, as `GET /sync` lists it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportBody<'a> {
    pub request_id: &'a str,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_set_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_date: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<Timestamp>,
    pub forced: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<CoverageBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    pub counts: CountsBody,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejects_report: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'a str>,
    /// How far an export in flight has got (APPLYING, with a checkpoint).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<ProgressBody>,
}

/// `progress` of an export in flight: its last checkpoint.
#[derive(Debug, Serialize)]
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

impl From<&Checkpoint> for ProgressBody {
    fn from(c: &Checkpoint) -> Self {
        let share = if c.size == 0 { 1.0 } else { (c.position.byte as f64 / c.size as f64).min(1.0) };
        Self {
            rows: c.counts.applied() + c.counts.skipped_stale + c.counts.rejected,
            counts: CountsBody::from(&c.counts),
            bytes_read: c.position.byte,
            bytes: c.size,
            share_read: (share * 1000.0).round() / 1000.0,
            invocations: c.invocations,
            checkpoint_at: c.at,
        }
    }
}

impl<'a> From<&'a ExportRecord> for ExportBody<'a> {
    fn from(e: &'a ExportRecord) -> Self {
        Self {
            request_id: &e.request_id,
            status: e.status.as_str(),
            data_set_type: e.data_set_type.as_deref(),
            from_date: e.from_date,
            requested_at: e.requested_at,
            forced: e.forced,
            received_at: e.received_at,
            coverage: e.coverage.as_ref().map(CoverageBody::from),
            finished_at: e.finished_at,
            counts: CountsBody::from(&e.counts),
            rejects_report: e.rejects_report.as_deref(),
            message: e.message.as_deref(),
            progress: e.checkpoint.as_ref().filter(|_| e.status == ExportStatus::Applying).map(ProgressBody::from),
        }
    }
}

/// One subscription of an account, as its contacts describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    pub subscription_guid: Guid,
    /// The earliest Subscription Start Date among its contacts: PSC records
    /// carry it per contact, and they can differ.
    pub subscription_start_date: Timestamp,
    pub product_code: ProductCode,
    pub product_id: Guid,
    pub contact_count: usize,
}

/// One product of an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductView {
    pub product_code: ProductCode,
    pub product_id: Guid,
    pub subscription_guids: Vec<Guid>,
    pub contact_count: usize,
}

/// Subscriptions of `contacts`, in the order of the listing (product, then subscription).
pub fn subscriptions(contacts: &[StoredContact]) -> Vec<SubscriptionView> {
    let mut out: Vec<SubscriptionView> = Vec::new();
    let mut index: BTreeMap<(&ProductCode, &Guid), usize> = BTreeMap::new();
    for c in contacts {
        match index.get(&(&c.product_code, &c.subscription_guid)) {
            Some(&i) => {
                let s = &mut out[i];
                s.contact_count += 1;
                s.subscription_start_date = s.subscription_start_date.min(c.subscription_start_date);
            }
            None => {
                index.insert((&c.product_code, &c.subscription_guid), out.len());
                out.push(SubscriptionView {
                    subscription_guid: c.subscription_guid.clone(),
                    subscription_start_date: c.subscription_start_date,
                    product_code: c.product_code.clone(),
                    product_id: c.product_id.clone(),
                    contact_count: 1,
                });
            }
        }
    }
    out
}

/// Products of `subs`, in the order of the listing.
pub fn products(subs: &[SubscriptionView]) -> Vec<ProductView> {
    let mut out: Vec<ProductView> = Vec::new();
    for s in subs {
        match out.iter_mut().find(|p| p.product_code == s.product_code) {
            Some(p) => {
                p.subscription_guids.push(s.subscription_guid.clone());
                p.contact_count += s.contact_count;
            }
            None => out.push(ProductView {
                product_code: s.product_code.clone(),
                product_id: s.product_id.clone(),
                subscription_guids: vec![s.subscription_guid.clone()],
                contact_count: s.contact_count,
            }),
        }
    }
    out
}

/// `GET /accounts/{awsAccountId}`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountView<'a> {
    pub aws_account_id: &'a AwsAccountId,
    pub eligible: bool,
    pub sources: Sources,
    pub agreements: Vec<AgreementBody<'a>>,
    /// Products, subscriptions and contacts of this page; `nextCursor` continues.
    pub products: Vec<ProductView>,
    pub subscriptions: Vec<SubscriptionView>,
    pub contacts: Vec<ContactBody<'a>>,
    pub next_cursor: Option<String>,
    pub freshness: Freshness,
}

/// `GET /accounts/{awsAccountId}/products/{productCode}`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountProductView<'a> {
    pub aws_account_id: &'a AwsAccountId,
    pub product_code: &'a ProductCode,
    pub eligible: bool,
    pub sources: Sources,
    pub agreements: Vec<AgreementBody<'a>>,
    pub subscriptions: Vec<SubscriptionView>,
    pub contacts: Vec<ContactBody<'a>>,
    pub next_cursor: Option<String>,
    pub freshness: Freshness,
}

/// One source's verdict on an account (and product).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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

/// Which sources support `eligible`, and how fresh each is.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sources {
    pub agreements: AgreementsSource,
    pub psc_contacts: PscSource,
}

/// The Agreement API's part.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgreementsSource {
    pub verdict: Verdict,
    /// When the Agreement API gave these agreements (`null` when it did not answer).
    pub as_of: Option<Timestamp>,
    pub age_seconds: Option<i64>,
    /// True when they come from the function's short-lived cache.
    pub cached: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'static str>,
}

impl AgreementsSource {
    pub fn of(lookup: &AgreementsLookup, now: Timestamp) -> Self {
        match lookup {
            AgreementsLookup::NotConfigured => Self {
                verdict: Verdict::NotConfigured,
                as_of: None,
                age_seconds: None,
                cached: false,
                message: Some("no seller product configured for this lookup (stack parameter SellerProducts)"),
            },
            AgreementsLookup::Unavailable(why) => Self {
                verdict: Verdict::Unavailable,
                as_of: None,
                age_seconds: None,
                cached: false,
                message: Some(why.message()),
            },
            AgreementsLookup::Found { as_of, cached, .. } => Self {
                verdict: if lookup.has_active() { Verdict::Eligible } else { Verdict::NotEligible },
                as_of: Some(*as_of),
                age_seconds: Some((now.unix_seconds() - as_of.unix_seconds()).max(0)),
                cached: *cached,
                message: None,
            },
        }
    }
}

/// The PSC contacts' part: eligible when a live contact is on file.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PscSource {
    pub verdict: Verdict,
    /// The watermark: everything PSC reported up to it is applied.
    pub as_of: Option<Timestamp>,
    pub stale_beyond_one_business_day: bool,
}

impl PscSource {
    pub fn of(eligible: bool, freshness: &Freshness) -> Self {
        Self {
            verdict: if eligible { Verdict::Eligible } else { Verdict::NotEligible },
            as_of: freshness.watermark,
            stale_beyond_one_business_day: freshness.stale_beyond_one_business_day,
        }
    }
}

/// One purchase agreement, as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgreementBody<'a> {
    pub agreement_id: &'a str,
    pub status: &'a str,
    pub active: bool,
    pub product_code: Option<&'a ProductCode>,
    pub product_id: Option<&'a str>,
    pub offer_id: Option<&'a str>,
    pub agreement_type: Option<&'a str>,
    pub acceptance_time: Option<Timestamp>,
    pub start_time: Option<Timestamp>,
    pub end_time: Option<Timestamp>,
}

/// The agreements of a lookup, with their PSC product codes.
pub fn agreement_bodies<'a>(lookup: &'a AgreementsLookup, products: &'a SellerProducts) -> Vec<AgreementBody<'a>> {
    let AgreementsLookup::Found { agreements, .. } = lookup else { return Vec::new() };
    agreements
        .iter()
        .map(|a: &'a Agreement| {
            let id = a.product_id.as_deref();
            AgreementBody {
                agreement_id: &a.agreement_id,
                status: &a.status,
                active: a.is_active(),
                product_code: id.and_then(|id| products.by_product_id(id)).map(|p| &p.product_code),
                product_id: id,
                offer_id: a.offer_id.as_deref(),
                agreement_type: a.agreement_type.as_deref(),
                acceptance_time: a.acceptance_time,
                start_time: a.start_time,
                end_time: a.end_time,
            }
        })
        .collect()
}

/// `GET /accounts/{awsAccountId}/instances/{instanceId}`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceView<'a> {
    pub aws_account_id: &'a AwsAccountId,
    pub instance_id: &'a InstanceId,
    pub product_code: &'a ProductCode,
    pub region: &'static str,
    /// False when EC2 knows no such instance in this region.
    pub found: bool,
    /// EC2's `return`: the product code is attached to the instance and it runs.
    pub product_running: bool,
    /// The owner EC2 reports (`null` when it reports none).
    pub owner_id: Option<&'a AwsAccountId>,
    /// The owner is the account in the path.
    pub owner_matches: bool,
    /// `productRunning` and `ownerMatches`.
    pub eligible: bool,
    pub sources: InstanceSources,
}

#[derive(Debug, Serialize)]
pub struct InstanceSources {
    pub instance: InstanceSource,
}

/// EC2's part: asked live, so as of now.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceSource {
    pub verdict: Verdict,
    pub as_of: Timestamp,
    pub message: &'static str,
}

/// `GET /contacts?email=`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactsView<'a> {
    pub contacts: Vec<ContactBody<'a>>,
    pub freshness: Freshness,
}

/// `GET /contacts/{customerGuid}`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactView<'a> {
    pub contact: ContactBody<'a>,
    pub freshness: Freshness,
}

/// `GET /sync`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncView<'a> {
    pub watermark: Option<Timestamp>,
    /// Coverage applied beyond a gap, merged into the watermark once the gap closes.
    pub pending_ranges: Vec<CoverageBody>,
    /// The newest first.
    pub exports: Vec<ExportBody<'a>>,
    pub freshness: Freshness,
}

/// `{"error": {...}}`, plus freshness on a lookup that found nothing.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freshness: Option<Freshness>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail<'a> {
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
    pub message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn freshness_without_a_watermark_is_stale_and_unknown() {
        let f = Freshness::of(&SyncState::default(), t("2026-11-23T17:00:00.000Z"));
        assert_eq!(f.watermark, None);
        assert_eq!(f.age_seconds, None);
        assert!(f.stale_beyond_one_business_day);
        let v = serde_json::to_value(f).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"watermark": null, "ageSeconds": null, "businessAgeSeconds": null, "staleBeyondOneBusinessDay": true})
        );
    }

    #[test]
    fn freshness_counts_business_time() {
        // Friday 17:00 to Monday 17:00: 72 h wall clock, 24 h business time, not stale.
        let st = SyncState { watermark: Some(t("2026-11-20T17:00:00.000Z")), ..Default::default() };
        let f = Freshness::of(&st, t("2026-11-23T17:00:00.000Z"));
        assert_eq!(f.age_seconds, Some(72 * 3600));
        assert_eq!(f.business_age_seconds, Some(24 * 3600));
        assert!(!f.stale_beyond_one_business_day);
        // A watermark in the future (clock skew) is age 0.
        let f = Freshness::of(&st, t("2026-11-20T16:00:00.000Z"));
        assert_eq!(f.age_seconds, Some(0));
    }
}
