//! The feeds' history rule, the agreements' effective revision and last
//! usage: folds over rows in any order.
//!
//! Every feed is bi-temporal (fact sheet §4): a real change is a new row
//! with a new `valid_from`, a correction of a version a new row with the
//! same `valid_from` and a later `update_date`, and a soft delete a row with
//! `delete_date` set. The current row of a record key is found in two steps,
//! as in AWS's sample queries (§4.2):
//!
//! 1. per (key, `valid_from`) keep the row with the latest `update_date`;
//!    if that row is deleted, the whole version is dropped (so an earlier
//!    version can become current again);
//! 2. per key, the remaining version with the latest `valid_from`.
//!
//! [`History`] applies step 1 as rows arrive and step 2 when asked, so the
//! result does not depend on the order of rows or files. Its memory is one
//! entry per distinct (key, `valid_from`) seen, holding only the columns
//! read: corrections, deletes and re-deliveries of a version collapse into
//! that entry, but no version can be dropped early, since a delete that
//! arrives later may make it current again.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use time::Date;

use super::csv::{AccountRow, AgreementRow, DailyUsageRow, OfferProductRow, ProductRow, Row, Versioned};
use super::values::{AgreementStatus, FeedAccountId};
use crate::domain::{AwsAccountId, ProductCode, Timestamp};

/// The record key a feed's history is kept by (fact sheet §4.2, step 1).
pub trait Keyed: Ord {
    type Key: Ord + Clone;
    fn key(&self) -> Self::Key;
}

/// `account_id`.
impl Keyed for AccountRow {
    type Key = FeedAccountId;
    fn key(&self) -> FeedAccountId {
        self.account_id.clone()
    }
}

/// `product_id`.
impl Keyed for ProductRow {
    type Key = String;
    fn key(&self) -> String {
        self.product_id.clone()
    }
}

/// (`offer_id`, `product_id`): the feed has no declared key, and an offer
/// may list several products (fact sheet §5.5), so each pair has its own
/// history. AWS's current queries key by `offer_id` alone, which keeps one
/// product per offer; this key keeps them all.
impl Keyed for OfferProductRow {
    type Key = (String, String);
    fn key(&self) -> (String, String) {
        (self.offer_id.clone(), self.product_id.clone())
    }
}

/// `agreement_id`: each `valid_from` is a revision.
impl Keyed for AgreementRow {
    type Key = String;
    fn key(&self) -> String {
        self.agreement_id.clone()
    }
}

/// `usage_feed_id`.
impl Keyed for DailyUsageRow {
    type Key = String;
    fn key(&self) -> String {
        self.usage_feed_id.clone()
    }
}

/// The versions of every key of one feed, step 1 applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History<T: Keyed> {
    keys: BTreeMap<T::Key, BTreeMap<Timestamp, Versioned<T>>>,
}

impl<T: Keyed> Default for History<T> {
    fn default() -> Self {
        Self { keys: BTreeMap::new() }
    }
}

/// Which of two rows of the same (key, `valid_from`) wins: the later
/// `update_date`; on an exact tie the deleted one (a delete is in practice
/// the later event), then the greater record (arbitrary, but the same in
/// any order).
fn outranks<T: Ord>(new: &Versioned<T>, old: &Versioned<T>) -> bool {
    (new.version.update_date, new.version.deleted, &new.record)
        > (old.version.update_date, old.version.deleted, &old.record)
}

impl<T: Keyed> History<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds one row in (step 1).
    pub fn add(&mut self, row: Versioned<T>) {
        let versions = self.keys.entry(row.record.key()).or_default();
        match versions.entry(row.version.valid_from) {
            Entry::Vacant(v) => {
                v.insert(row);
            }
            Entry::Occupied(mut o) => {
                if outranks(&row, o.get()) {
                    o.insert(row);
                }
            }
        }
    }

    /// Folds in the valid rows of a file; rejects are the caller's to record.
    pub fn add_rows(&mut self, rows: impl IntoIterator<Item = Row<T>>) {
        for row in rows {
            if let Row::Valid(v) = row {
                self.add(v);
            }
        }
    }

    /// The versions of `key` that count, step 1 applied (a version whose
    /// winning row is deleted is left out), oldest `valid_from` first.
    pub fn versions<'a>(&'a self, key: &T::Key) -> impl DoubleEndedIterator<Item = &'a Versioned<T>> + 'a {
        self.keys.get(key).into_iter().flat_map(|v| v.values()).filter(|v| !v.version.deleted)
    }

    /// The current row of `key` (step 2): the latest version that counts.
    pub fn current(&self, key: &T::Key) -> Option<&Versioned<T>> {
        self.versions(key).next_back()
    }

    /// Every key with a current row, in key order.
    pub fn current_all(&self) -> impl Iterator<Item = (&T::Key, &Versioned<T>)> {
        self.keys.iter().filter_map(|(k, v)| v.values().rev().find(|v| !v.version.deleted).map(|v| (k, v)))
    }

    /// Every key seen, with the versions that count (possibly none).
    pub fn all_versions(&self) -> impl Iterator<Item = (&T::Key, impl DoubleEndedIterator<Item = &Versioned<T>>)> {
        self.keys.iter().map(|(k, v)| (k, v.values().filter(|v| !v.version.deleted)))
    }

    /// Every entry held, deleted versions too, in key and `valid_from`
    /// order: what [`super::store`] keeps.
    pub fn entries_all(&self) -> impl Iterator<Item = &Versioned<T>> {
        self.keys.values().flat_map(BTreeMap::values)
    }

    /// Entries held: distinct (key, `valid_from`) pairs seen. The memory
    /// bound of the fold.
    pub fn entries(&self) -> usize {
        self.keys.values().map(BTreeMap::len).sum()
    }
}

impl<T: Keyed> Extend<Versioned<T>> for History<T> {
    fn extend<I: IntoIterator<Item = Versioned<T>>>(&mut self, rows: I) {
        rows.into_iter().for_each(|r| self.add(r));
    }
}

impl<T: Keyed> FromIterator<Versioned<T>> for History<T> {
    fn from_iter<I: IntoIterator<Item = Versioned<T>>>(rows: I) -> Self {
        let mut h = Self::new();
        h.extend(rows);
        h
    }
}

/// How an agreement revision counts (AWS's `agreement_report.sql`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevisionClass {
    /// An inactive revision: a later one is in force.
    Superseded,
    /// An inactive revision rolled back after an error: an earlier one is in force.
    RolledBack,
    /// Any other status (`ACTIVE`, `CANCELLED`, `EXPIRED`, ..., unknown ones).
    Effective,
}

impl RevisionClass {
    pub fn of(status: &AgreementStatus) -> Self {
        match status {
            AgreementStatus::Superseded => Self::Superseded,
            AgreementStatus::RolledBack => Self::RolledBack,
            _ => Self::Effective,
        }
    }
}

/// The revision of one agreement in force, among its revisions that count
/// (step 1 applied): the latest EFFECTIVE one by `valid_from`; with none,
/// the latest ROLLED_BACK one; with none either (all SUPERSEDED), the latest.
/// `None` when there is no revision.
pub fn effective_revision<'a>(
    revisions: impl IntoIterator<Item = &'a Versioned<AgreementRow>>,
) -> Option<&'a Versioned<AgreementRow>> {
    let mut best: [Option<&Versioned<AgreementRow>>; 3] = [None; 3];
    for r in revisions {
        let slot = match RevisionClass::of(&r.record.status) {
            RevisionClass::Effective => 0,
            RevisionClass::RolledBack => 1,
            RevisionClass::Superseded => 2,
        };
        let later = |b: &Versioned<AgreementRow>| (r.version.valid_from, &r.record) > (b.version.valid_from, &b.record);
        if best[slot].is_none_or(later) {
            best[slot] = Some(r);
        }
    }
    best.into_iter().flatten().next()
}

impl History<AgreementRow> {
    /// The revision in force of one agreement ([`effective_revision`]).
    pub fn effective(&self, agreement_id: &str) -> Option<&Versioned<AgreementRow>> {
        effective_revision(self.versions(&agreement_id.to_owned()))
    }

    /// The revision in force of every agreement, by agreement id.
    pub fn effective_all(&self) -> impl Iterator<Item = (&String, &Versioned<AgreementRow>)> {
        self.all_versions().filter_map(|(id, v)| effective_revision(v).map(|r| (id, r)))
    }
}

/// Last usage: per (end-user account, product id), the latest `usage_date`
/// of a Daily usage row that is current and not deleted.
pub fn last_usage(usage: &History<DailyUsageRow>) -> BTreeMap<(FeedAccountId, String), Date> {
    let mut last = BTreeMap::new();
    for (_, row) in usage.current_all() {
        let r = &row.record;
        last.entry((r.end_user_account_id.clone(), r.product_id.clone()))
            .and_modify(|d: &mut Date| *d = (*d).max(r.usage_date))
            .or_insert(r.usage_date);
    }
    last
}

/// What the lookups need from the five feeds, each folded with [`History`]:
/// "is AWS account X subscribed to product Y, since when, until when, and
/// when did it last use it" (fact sheet §6.3, §6.4).
#[derive(Debug, Default, Clone)]
pub struct FeedState {
    pub accounts: History<AccountRow>,
    pub products: History<ProductRow>,
    pub offer_products: History<OfferProductRow>,
    pub agreements: History<AgreementRow>,
    pub usage: History<DailyUsageRow>,
}

/// One agreement of an account for a product, as the lookups report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription<'a> {
    pub product_id: &'a str,
    pub agreement: &'a AgreementRow,
    /// The `valid_from` of the revision in force.
    pub revision_from: Timestamp,
}

impl FeedState {
    /// The feeds' opaque ids of a raw AWS account number: every account
    /// whose `aws_account_id` is that number in a version that counts (one
    /// number may map to several ids, fact sheet §6.2).
    pub fn account_ids(&self, aws_account_id: &AwsAccountId) -> BTreeSet<&FeedAccountId> {
        self.accounts
            .all_versions()
            .filter_map(|(id, mut versions)| {
                versions.any(|v| v.record.aws_account_id.as_ref() == Some(aws_account_id)).then_some(id)
            })
            .collect()
    }

    /// The bridge as a whole: raw AWS account number to the feeds' ids.
    pub fn bridge(&self) -> BTreeMap<&AwsAccountId, BTreeSet<&FeedAccountId>> {
        let mut bridge: BTreeMap<_, BTreeSet<_>> = BTreeMap::new();
        for (id, versions) in self.accounts.all_versions() {
            for v in versions {
                if let Some(aws) = &v.record.aws_account_id {
                    bridge.entry(aws).or_default().insert(id);
                }
            }
        }
        bridge
    }

    /// The current Product row of a product id.
    pub fn product(&self, product_id: &str) -> Option<&ProductRow> {
        self.products.current(&product_id.to_owned()).map(|v| &v.record)
    }

    /// The product ids whose current row has this product code.
    pub fn product_ids_of_code(&self, code: &ProductCode) -> BTreeSet<&str> {
        self.products
            .current_all()
            .filter(|(_, v)| v.record.product_code.as_ref() == Some(code))
            .map(|(id, _)| id.as_str())
            .collect()
    }

    /// The products an offer is for (current rows).
    pub fn products_of_offer(&self, offer_id: &str) -> BTreeSet<&str> {
        self.offer_products
            .current_all()
            .filter(|((offer, _), _)| offer == offer_id)
            .map(|((_, product), _)| product.as_str())
            .collect()
    }

    /// The agreements (revision in force) whose acceptor is one of the
    /// feeds' ids of `aws_account_id`, with each product of their offer.
    pub fn subscriptions(&self, aws_account_id: &AwsAccountId) -> Vec<Subscription<'_>> {
        let ids = self.account_ids(aws_account_id);
        let mut out = Vec::new();
        for (_, rev) in self.agreements.effective_all() {
            let a = &rev.record;
            if !a.acceptor_account_id.as_ref().is_some_and(|id| ids.contains(id)) {
                continue;
            }
            let Some(offer) = &a.offer_id else { continue };
            for product_id in self.products_of_offer(offer) {
                out.push(Subscription { product_id, agreement: a, revision_from: rev.version.valid_from });
            }
        }
        out
    }

    /// The latest day `aws_account_id` (any of its feeds' ids) used
    /// `product_id`, from current, non-deleted Daily usage rows.
    pub fn last_usage(&self, aws_account_id: &AwsAccountId, product_id: &str) -> Option<Date> {
        let ids = self.account_ids(aws_account_id);
        self.usage
            .current_all()
            .filter(|(_, v)| v.record.product_id == product_id && ids.contains(&v.record.end_user_account_id))
            .map(|(_, v)| v.record.usage_date)
            .max()
    }
}
