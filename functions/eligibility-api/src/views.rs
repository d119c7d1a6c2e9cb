//! Response bodies. `docs/api.md` and `docs/openapi.yaml` describe them.

use std::collections::BTreeMap;

use serde::Serialize;

use psc_bridge::domain::{AwsAccountId, Guid, ProductCode, Timestamp};
use psc_bridge::store::{ExportRecord, StoredContact};
use psc_bridge::sync::{Coverage, SyncState, business_age, is_older_than_one_business_day};

/// What `eligible` means, in every answer that carries it.
pub const BASIS: &str = "eligible = at least one live PSC contact record is on file for this account (and product). \
PSC data only knows the subscriptions whose buyer shared support contacts: false means no shared contact on record, \
not proof that no subscription exists.";

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
    pub basis: &'static str,
    /// Products, subscriptions and contacts of this page; `nextCursor` continues.
    pub products: Vec<ProductView>,
    pub subscriptions: Vec<SubscriptionView>,
    pub contacts: &'a [StoredContact],
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
    pub basis: &'static str,
    pub subscriptions: Vec<SubscriptionView>,
    pub contacts: &'a [StoredContact],
    pub next_cursor: Option<String>,
    pub freshness: Freshness,
}

/// `GET /contacts?email=`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactsView<'a> {
    pub contacts: &'a [StoredContact],
    pub freshness: Freshness,
}

/// `GET /contacts/{customerGuid}`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactView<'a> {
    pub contact: &'a StoredContact,
    pub freshness: Freshness,
}

/// `GET /sync`
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncView<'a> {
    pub watermark: Option<Timestamp>,
    /// Coverage applied beyond a gap, merged into the watermark once the gap closes.
    pub pending_ranges: &'a [Coverage],
    /// The newest first.
    pub exports: &'a [ExportRecord],
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
