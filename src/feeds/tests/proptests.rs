//! Property: the current state does not depend on the order of the rows.
//!
//! Rows are drawn from a few keys, `valid_from`s and `update_date`s, so
//! corrections, exact ties, soft deletes of the newest version and every
//! agreement revision class all occur; any permutation of them must give
//! the same histories, the same revisions in force and the same last usage,
//! and those must match a direct, sort-based reading of the fact sheet's
//! rules (§4.2).

use std::collections::BTreeMap;

use proptest::prelude::*;
use time::Date;

use super::super::*;
use crate::domain::Timestamp;

/// Cases per property: each is a few dozen rows, so 512 cases take well
/// under a second.
const CASES: u32 = 512;

#[derive(Debug, Clone)]
struct Draw {
    key: u8,
    valid_from: u8,
    update_date: u8,
    deleted: bool,
    status: u8,
    day: u8,
    user: u8,
}

fn draw() -> impl Strategy<Value = Draw> {
    (0..3u8, 0..4u8, 0..4u8, prop::bool::weighted(0.25), 0..4u8, 0..6u8, 0..2u8).prop_map(
        |(key, valid_from, update_date, deleted, status, day, user)| Draw {
            key,
            valid_from,
            update_date,
            deleted,
            status,
            day,
            user,
        },
    )
}

/// The same rows twice: as drawn, and shuffled.
fn rows_and_permutation() -> impl Strategy<Value = (Vec<Draw>, Vec<Draw>)> {
    prop::collection::vec(draw(), 0..40).prop_flat_map(|rows| (Just(rows.clone()), Just(rows).prop_shuffle()))
}

fn day(n: u8) -> Timestamp {
    Timestamp::from_unix_seconds(1_735_689_600 + i64::from(n) * 86_400).unwrap()
}

fn version(d: &Draw) -> Version {
    Version { valid_from: day(d.valid_from), update_date: day(d.update_date), deleted: d.deleted }
}

fn agreement(d: &Draw) -> Versioned<AgreementRow> {
    let status = ["ACTIVE", "CANCELLED", "SUPERSEDED", "ROLLED_BACK"][usize::from(d.status)];
    Versioned {
        version: version(d),
        record: AgreementRow {
            agreement_id: format!("agmt-{}", d.key),
            status: AgreementStatus::parse(status).unwrap(),
            start_time: Some(day(0)),
            end_time: None,
            acceptance_time: Some(day(0)),
            offer_id: Some("offer-1".into()),
            acceptor_account_id: Some(FeedAccountId::new(&format!("acct-{}", d.user))),
            proposer_account_id: None,
        },
    }
}

fn usage(d: &Draw) -> Versioned<DailyUsageRow> {
    Versioned {
        version: version(d),
        record: DailyUsageRow {
            usage_feed_id: format!("h4sh-{}", d.key),
            usage_date: day(d.day).datetime().date(),
            product_id: format!("prod-{}", d.status % 2),
            end_user_account_id: FeedAccountId::new(&format!("acct-{}", d.user)),
        },
    }
}

/// Step 1 and step 2 of §4.2 read directly: group, sort, take the first.
fn reference_versions<T: Keyed + Clone>(rows: &[Versioned<T>]) -> BTreeMap<T::Key, Vec<Versioned<T>>> {
    let mut by_version: BTreeMap<(T::Key, Timestamp), Vec<&Versioned<T>>> = BTreeMap::new();
    for r in rows {
        by_version.entry((r.record.key(), r.version.valid_from)).or_default().push(r);
    }
    let mut out: BTreeMap<T::Key, Vec<Versioned<T>>> = BTreeMap::new();
    for ((key, _), mut group) in by_version {
        group.sort_by(|a, b| {
            (b.version.update_date, b.version.deleted, &b.record).cmp(&(
                a.version.update_date,
                a.version.deleted,
                &a.record,
            ))
        });
        let entry = out.entry(key).or_default();
        if !group[0].version.deleted {
            entry.push(group[0].clone());
        }
    }
    out
}

fn reference_effective(revisions: &[Versioned<AgreementRow>]) -> Option<Versioned<AgreementRow>> {
    let latest = |class: Option<RevisionClass>| {
        revisions
            .iter()
            .filter(|r| class.is_none_or(|c| RevisionClass::of(&r.record.status) == c))
            .max_by_key(|r| r.version.valid_from)
            .cloned()
    };
    latest(Some(RevisionClass::Effective)).or_else(|| latest(Some(RevisionClass::RolledBack))).or_else(|| latest(None))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn any_order_of_agreement_rows_gives_the_same_revisions_in_force((rows, shuffled) in rows_and_permutation()) {
        let rows: Vec<_> = rows.iter().map(agreement).collect();
        let a: History<AgreementRow> = rows.iter().cloned().collect();
        let b: History<AgreementRow> = shuffled.iter().map(agreement).collect();
        prop_assert_eq!(&a, &b);
        let in_force = |h: &History<AgreementRow>| -> Vec<(String, Versioned<AgreementRow>)> {
            h.effective_all().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        prop_assert_eq!(in_force(&a), in_force(&b));

        let reference = reference_versions(&rows);
        let current: Vec<_> = a.current_all().map(|(k, v)| (k.clone(), v.clone())).collect();
        let expected: Vec<_> =
            reference.iter().filter_map(|(k, v)| v.last().map(|v| (k.clone(), v.clone()))).collect();
        prop_assert_eq!(current, expected);
        let expected: Vec<_> =
            reference.iter().filter_map(|(k, v)| reference_effective(v).map(|v| (k.clone(), v))).collect();
        prop_assert_eq!(in_force(&a), expected);
    }

    #[test]
    fn any_order_of_usage_rows_gives_the_same_last_usage((rows, shuffled) in rows_and_permutation()) {
        let rows: Vec<_> = rows.iter().map(usage).collect();
        let a: History<DailyUsageRow> = rows.iter().cloned().collect();
        let b: History<DailyUsageRow> = shuffled.iter().map(usage).collect();
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(last_usage(&a), last_usage(&b));

        let mut expected: BTreeMap<(FeedAccountId, String), Date> = BTreeMap::new();
        for v in reference_versions(&rows).values().filter_map(|v| v.last()) {
            let k = (v.record.end_user_account_id.clone(), v.record.product_id.clone());
            let d = expected.entry(k).or_insert(v.record.usage_date);
            *d = (*d).max(v.record.usage_date);
        }
        prop_assert_eq!(last_usage(&a), expected);
    }
}
