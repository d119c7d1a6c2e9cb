//! Response bodies: the API's contract types ([`psc_bridge::api`]), built
//! here from the core's models, so the table's shape and the models are free
//! to change. `docs/api.md` and `docs/openapi.yaml` describe them.

use std::collections::BTreeMap;

use psc_bridge::api::{
    AgreementBody, AgreementsSource, ContactBody, CountsBody, CoverageBody, ExportBody, Freshness, ProductView,
    ProgressBody, PscSource, SubscriptionView, Verdict,
};
use psc_bridge::domain::Timestamp;
use psc_bridge::entitlement::SellerProducts;
use psc_bridge::model::{Checkpoint, Counts, ExportRecord, ExportStatus, StoredContact};
use psc_bridge::sync::{Coverage, SyncState, business_age, is_older_than_one_business_day};

use crate::live::AgreementsLookup;

/// How fresh `state` is at `now`.
pub fn freshness(state: &SyncState, now: Timestamp) -> Freshness {
    match state.watermark {
        None => Freshness {
            watermark: None,
            age_seconds: None,
            business_age_seconds: None,
            stale_beyond_one_business_day: true,
        },
        Some(w) => Freshness {
            watermark: Some(w),
            age_seconds: Some((now.unix_seconds() - w.unix_seconds()).max(0)),
            business_age_seconds: Some(business_age(w, now).whole_seconds()),
            stale_beyond_one_business_day: is_older_than_one_business_day(w, now),
        },
    }
}

/// One contact, as the API shows it.
pub fn contact_body(c: &StoredContact) -> ContactBody {
    let d = &c.details;
    ContactBody {
        customer_guid: c.customer_guid.as_str().to_owned(),
        aws_account_id: c.aws_account_id.as_str().to_owned(),
        product_id: c.product_id.as_str().to_owned(),
        product_code: c.product_code.as_str().to_owned(),
        subscription_guid: c.subscription_guid.as_str().to_owned(),
        subscription_start_date: c.subscription_start_date,
        organization: d.organization.clone(),
        given_name: d.given_name.clone(),
        surname: d.surname.clone(),
        telephone_number: d.telephone_number.clone(),
        email: d.email.clone(),
        title: d.title.clone(),
        country_code: d.country_code.clone(),
        zip_code: d.zip_code.clone(),
        operation_time: c.operation_time,
    }
}

pub fn contact_bodies(contacts: &[StoredContact]) -> Vec<ContactBody> {
    contacts.iter().map(contact_body).collect()
}

pub fn coverage_body(c: &Coverage) -> CoverageBody {
    CoverageBody { start: c.start, end: c.end }
}

fn counts_body(c: &Counts) -> CountsBody {
    CountsBody {
        created: c.created,
        updated: c.updated,
        deleted: c.deleted,
        skipped_stale: c.skipped_stale,
        rejected: c.rejected,
    }
}

/// `progress` of an export in flight: its last checkpoint.
fn progress_body(c: &Checkpoint) -> ProgressBody {
    let share = if c.size == 0 { 1.0 } else { (c.position.byte as f64 / c.size as f64).min(1.0) };
    ProgressBody {
        rows: c.counts.applied() + c.counts.skipped_stale + c.counts.rejected,
        counts: counts_body(&c.counts),
        bytes_read: c.position.byte,
        bytes: c.size,
        share_read: (share * 1000.0).round() / 1000.0,
        invocations: c.invocations,
        checkpoint_at: c.at,
    }
}

/// One export, as `GET /sync` lists it.
pub fn export_body(e: &ExportRecord) -> ExportBody {
    ExportBody {
        request_id: e.request_id.clone(),
        status: e.status.as_str().to_owned(),
        data_set_type: e.data_set_type.clone(),
        from_date: e.from_date,
        requested_at: e.requested_at,
        forced: e.forced,
        received_at: e.received_at,
        coverage: e.coverage.as_ref().map(coverage_body),
        finished_at: e.finished_at,
        counts: counts_body(&e.counts),
        rejects_report: e.rejects_report.clone(),
        message: e.message.clone(),
        progress: e.checkpoint.as_ref().filter(|_| e.status == ExportStatus::Applying).map(progress_body),
    }
}

/// Subscriptions of `contacts`, in the order of the listing (product, then subscription).
pub fn subscriptions(contacts: &[StoredContact]) -> Vec<SubscriptionView> {
    let mut out: Vec<SubscriptionView> = Vec::new();
    let mut index: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for c in contacts {
        let key = (c.product_code.as_str(), c.subscription_guid.as_str());
        match index.get(&key) {
            Some(&i) => {
                let s = &mut out[i];
                s.contact_count += 1;
                s.subscription_start_date = s.subscription_start_date.min(c.subscription_start_date);
            }
            None => {
                index.insert(key, out.len());
                out.push(SubscriptionView {
                    subscription_guid: key.1.to_owned(),
                    subscription_start_date: c.subscription_start_date,
                    product_code: key.0.to_owned(),
                    product_id: c.product_id.as_str().to_owned(),
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

/// The Agreement API's part of `sources`.
pub fn agreements_source(lookup: &AgreementsLookup, now: Timestamp) -> AgreementsSource {
    match lookup {
        AgreementsLookup::NotConfigured => AgreementsSource {
            verdict: Verdict::NotConfigured,
            as_of: None,
            age_seconds: None,
            cached: false,
            message: Some("no seller product configured for this lookup (stack parameter SellerProducts)".to_owned()),
        },
        AgreementsLookup::Unavailable(why) => AgreementsSource {
            verdict: Verdict::Unavailable,
            as_of: None,
            age_seconds: None,
            cached: false,
            message: Some(why.message().to_owned()),
        },
        AgreementsLookup::Found { as_of, cached, .. } => AgreementsSource {
            verdict: if lookup.has_active() { Verdict::Eligible } else { Verdict::NotEligible },
            as_of: Some(*as_of),
            age_seconds: Some((now.unix_seconds() - as_of.unix_seconds()).max(0)),
            cached: *cached,
            message: None,
        },
    }
}

/// The PSC contacts' part of `sources`: eligible when a live contact is on file.
pub fn psc_source(eligible: bool, freshness: &Freshness) -> PscSource {
    PscSource {
        verdict: if eligible { Verdict::Eligible } else { Verdict::NotEligible },
        as_of: freshness.watermark,
        stale_beyond_one_business_day: freshness.stale_beyond_one_business_day,
    }
}

/// The agreements of a lookup, with their PSC product codes.
pub fn agreement_bodies(lookup: &AgreementsLookup, products: &SellerProducts) -> Vec<AgreementBody> {
    let AgreementsLookup::Found { agreements, .. } = lookup else { return Vec::new() };
    agreements
        .iter()
        .map(|a| {
            let id = a.product_id.as_deref();
            AgreementBody {
                agreement_id: a.agreement_id.clone(),
                status: a.status.clone(),
                active: a.is_active(),
                product_code: id.and_then(|id| products.by_product_id(id)).map(|p| p.product_code.as_str().to_owned()),
                product_id: a.product_id.clone(),
                offer_id: a.offer_id.clone(),
                agreement_type: a.agreement_type.clone(),
                acceptance_time: a.acceptance_time,
                start_time: a.start_time,
                end_time: a.end_time,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn freshness_without_a_watermark_is_stale_and_unknown() {
        let f = freshness(&SyncState::default(), t("2026-11-23T17:00:00.000Z"));
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
        let f = freshness(&st, t("2026-11-23T17:00:00.000Z"));
        assert_eq!(f.age_seconds, Some(72 * 3600));
        assert_eq!(f.business_age_seconds, Some(24 * 3600));
        assert!(!f.stale_beyond_one_business_day);
        // A watermark in the future (clock skew) is age 0.
        let f = freshness(&st, t("2026-11-20T16:00:00.000Z"));
        assert_eq!(f.age_seconds, Some(0));
    }
}
