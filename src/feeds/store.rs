//! What the data-feeds ingest keeps in the table: one item per record group,
//! holding every version of its records, so the history rule can be applied
//! again whenever a later delivery adds a correction or a soft delete, in any
//! order (`docs/data-model.md`, "Data-feed items").
//!
//! An item's `versions` are the [`History`] entries of its records (one per
//! record key and `valid_from`, step 1 of the rule applied), as compact JSON
//! (an array of arrays of strings). Beside them it carries what the lookups
//! read, derived from the versions alone (never from another feed, so that
//! the order of feeds and files does not matter): the current values, the
//! agreement revision in force, the last usage date. [`merge`] folds new rows
//! into an item and says whether it changed; an unchanged item is not
//! written again.
//!
//! Nothing here is personal: the feeds' rows are read down to identifiers,
//! statuses and dates before they get here ([`super::csv`]).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::csv::{AccountRow, AgreementRow, DailyUsageRow, OfferProductRow, ProductRow, Version, Versioned};
use super::history::{History, Keyed, effective_revision};
use super::values::{AgreementStatus, FeedAccountId, pad_account_id, parse_time};
use crate::domain::{ProductCode, Timestamp};

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemKey {
    pub pk: String,
    pub sk: String,
}

impl ItemKey {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self { pk: pk.into(), sk: sk.into() }
    }
}

/// The partition of a feed account's agreements and usage.
pub fn account_pk(id: &FeedAccountId) -> String {
    format!("FEED#ACCOUNT#{}", id.as_str())
}

/// The sort-key prefix of an account's usage months. It sorts between the
/// account's own item (`ACCOUNT`) and its agreements (`AGREEMENT#`), so that
/// one query of the partition, newest sort key first, reads the agreements
/// and then the usage months, newest first, of every product at once.
pub const USAGE_MONTH_PREFIX: &str = "ACTIVITY#";

/// The sort key of an account's usage of a product in the month of `date`:
/// `ACTIVITY#<YYYY-MM>#<product id>`.
pub fn usage_month_sk(date: time::Date, product_id: &str) -> String {
    format!("{USAGE_MONTH_PREFIX}{:04}-{:02}#{product_id}", date.year(), u8::from(date.month()))
}

/// The partition of every product the feeds list (a seller has few).
pub const PRODUCTS_PK: &str = "FEED#PRODUCTS";

/// The `ByAccount` partition of a product's offers (offer-product items).
pub fn product_offers_index(product_id: &str) -> String {
    format!("FEED#PRODUCT#{product_id}")
}

/// The `ByAccount` partition of an offer's agreements, in force: the
/// subscriber report reads a product's agreements offer by offer.
pub fn offer_agreements_index(offer_id: &str) -> String {
    format!("FEED#OFFER#{offer_id}")
}

/// An agreement's `ByAccount` sort key: by status first, so that the report
/// of active subscribers reads only `ACTIVE` agreements.
pub fn agreement_index_sk(status: &str, agreement_id: &str) -> String {
    format!("{}{agreement_id}", agreements_with_status(status))
}

/// The `ByAccount` sort-key prefix of an offer's agreements with `status`
/// (`""`: any status).
pub fn agreements_with_status(status: &str) -> String {
    if status.is_empty() { "FEED#AGREEMENT#".to_owned() } else { format!("FEED#AGREEMENT#{status}#") }
}

/// One data-feed item as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedItem {
    pub key: ItemKey,
    /// `FEED_ACCOUNT`, `FEED_PRODUCT`, `FEED_OFFER_PRODUCT`,
    /// `FEED_AGREEMENT` or `FEED_USAGE`.
    pub kind: &'static str,
    /// Every version of the item's records (see the module's docs).
    pub versions: String,
    /// The `ByAccount` index keys (`gsi1pk`, `gsi1sk`), for items found by
    /// AWS account id.
    pub index: Option<(String, String)>,
    /// What the lookups read, derived from the versions (string values).
    pub attrs: BTreeMap<&'static str, String>,
}

/// A stored item whose versions could not be read back (written by a newer
/// version of psc-bridge, or edited by hand).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("item {pk} / {sk}: its versions cannot be read: {reason}")]
pub struct Undecodable {
    pub pk: String,
    pub sk: String,
    pub reason: String,
}

/// A feed's record as the table keeps it.
pub trait Stored: Keyed + Clone + Sized {
    const KIND: &'static str;

    /// The item this row's record lives in; `None` when the row lacks what
    /// ties it to one (the reason names the column).
    fn item_key(&self) -> Result<ItemKey, &'static str>;

    /// The record's columns, in a fixed order (`""` for none).
    fn encode(&self) -> Vec<String>;

    /// The inverse of [`encode`](Self::encode), for a record of `item`
    /// (whose key may hold columns `encode` left out).
    fn decode(fields: &[String], item: &ItemKey) -> Result<Self, String>;

    /// What the lookups read, from the item's versions; and the index keys.
    fn derive(history: &History<Self>) -> Derived;

    /// The form a row read from a file is kept in (by default, as read).
    fn stored(self) -> Self {
        self
    }

    /// An item's `versions`: by default a JSON array of each version's
    /// `valid_from`, `update_date`, deleted flag and [`encode`](Self::encode)d
    /// columns.
    fn encode_versions(history: &History<Self>) -> String {
        json_versions(history)
    }

    /// The inverse of [`encode_versions`](Self::encode_versions).
    fn decode_versions(text: &str, item: &ItemKey) -> Result<History<Self>, String> {
        from_json_versions(text, item)
    }
}

/// An item's derived attributes and index keys.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Derived {
    pub index: Option<(String, String)>,
    pub attrs: BTreeMap<&'static str, String>,
}

impl Derived {
    fn set(&mut self, name: &'static str, value: Option<impl Into<String>>) {
        if let Some(v) = value {
            self.attrs.insert(name, v.into());
        }
    }
}

/// Folds `rows` (all of one item) into the item's stored versions (`None`:
/// no item yet). `Some(item)` to write when its versions changed; `None` when the
/// rows added nothing (a re-delivery, or a row a stored one outranks).
pub fn merge<T: Stored>(
    key: &ItemKey,
    stored: Option<&str>,
    rows: impl IntoIterator<Item = Versioned<T>>,
) -> Result<Option<FeedItem>, Undecodable> {
    let mut history = match stored {
        Some(versions) => decode_versions::<T>(versions, key).map_err(|reason| Undecodable {
            pk: key.pk.clone(),
            sk: key.sk.clone(),
            reason,
        })?,
        None => History::new(),
    };
    let before = T::encode_versions(&history);
    history.extend(rows.into_iter().map(|v| Versioned { version: v.version, record: v.record.stored() }));
    let versions = T::encode_versions(&history);
    if stored.is_some() && versions == before {
        return Ok(None);
    }
    let Derived { index, attrs } = T::derive(&history);
    Ok(Some(FeedItem { key: key.clone(), kind: T::KIND, versions, index, attrs }))
}

/// The history held by a stored item.
pub fn decode_versions<T: Stored>(versions: &str, item: &ItemKey) -> Result<History<T>, String> {
    T::decode_versions(versions, item)
}

fn from_json_versions<T: Stored>(json: &str, item: &ItemKey) -> Result<History<T>, String> {
    let entries: Vec<Vec<String>> =
        serde_json::from_str(json).map_err(|e| format!("not a JSON array of arrays: {e}"))?;
    let mut history = History::new();
    for fields in entries {
        let [valid_from, update_date, deleted, record @ ..] = fields.as_slice() else {
            return Err("a version has fewer than three fields".into());
        };
        let version = Version {
            valid_from: parse_time(valid_from).map_err(|e| format!("valid_from {e}"))?,
            update_date: parse_time(update_date).map_err(|e| format!("update_date {e}"))?,
            deleted: deleted == "1",
        };
        history.add(Versioned { version, record: T::decode(record, item)? });
    }
    Ok(history)
}

fn json_versions<T: Stored>(history: &History<T>) -> String {
    let entries: Vec<Vec<String>> = history
        .entries_all()
        .map(|v| {
            let mut fields = vec![
                v.version.valid_from.to_iso(),
                v.version.update_date.to_iso(),
                if v.version.deleted { "1" } else { "0" }.to_owned(),
            ];
            fields.extend(v.record.encode());
            fields
        })
        .collect();
    serde_json::to_string(&entries).expect("strings always serialise")
}

fn opt(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn field(fields: &[String], i: usize) -> Result<&str, String> {
    fields.get(i).map(String::as_str).ok_or_else(|| format!("a version lacks field {i}"))
}

fn time_field(fields: &[String], i: usize) -> Result<Option<Timestamp>, String> {
    opt(field(fields, i)?).map(|s| parse_time(s).map_err(|e| format!("field {i} {e}"))).transpose()
}

fn iso(t: Option<Timestamp>) -> String {
    t.map(|t| t.to_iso()).unwrap_or_default()
}

impl Stored for AccountRow {
    const KIND: &'static str = "FEED_ACCOUNT";
    fn item_key(&self) -> Result<ItemKey, &'static str> {
        Ok(ItemKey::new(account_pk(&self.account_id), "ACCOUNT"))
    }
    fn encode(&self) -> Vec<String> {
        vec![
            self.account_id.as_str().to_owned(),
            self.aws_account_id.as_ref().map(|a| a.as_str().to_owned()).unwrap_or_default(),
        ]
    }
    fn decode(f: &[String], _item: &ItemKey) -> Result<Self, String> {
        let aws = opt(field(f, 1)?).map(pad_account_id).transpose().map_err(|e| format!("aws_account_id {e}"))?;
        Ok(Self { account_id: FeedAccountId::new(field(f, 0)?), aws_account_id: aws })
    }
    /// The bridge: the current version's AWS account id, as `ByAccount`
    /// keys, so a lookup by AWS account id finds the feeds' ids.
    fn derive(history: &History<Self>) -> Derived {
        let mut d = Derived::default();
        if let Some((id, current)) = history.current_all().next() {
            d.set("feedAccountId", Some(id.as_str()));
            if let Some(aws) = &current.record.aws_account_id {
                d.set("awsAccountId", Some(aws.as_str()));
                d.index = Some((format!("ACCOUNT#{}", aws.as_str()), format!("FEED#ACCOUNT#{}", id.as_str())));
            }
        }
        d
    }
}

impl Stored for ProductRow {
    const KIND: &'static str = "FEED_PRODUCT";
    fn item_key(&self) -> Result<ItemKey, &'static str> {
        Ok(ItemKey::new(PRODUCTS_PK, self.product_id.clone()))
    }
    fn encode(&self) -> Vec<String> {
        vec![
            self.product_id.clone(),
            self.product_code.as_ref().map(|c| c.as_str().to_owned()).unwrap_or_default(),
            self.title.clone().unwrap_or_default(),
        ]
    }
    fn decode(f: &[String], _item: &ItemKey) -> Result<Self, String> {
        let code = opt(field(f, 1)?).map(ProductCode::parse).transpose().map_err(|e| format!("product_code {e}"))?;
        Ok(Self {
            product_id: field(f, 0)?.to_owned(),
            product_code: code,
            title: opt(field(f, 2)?).map(str::to_owned),
        })
    }
    fn derive(history: &History<Self>) -> Derived {
        let mut d = Derived::default();
        if let Some((_, current)) = history.current_all().next() {
            let p = &current.record;
            d.set("productId", Some(p.product_id.as_str()));
            d.set("productCode", p.product_code.as_ref().map(ProductCode::as_str));
            d.set("title", p.title.as_deref());
        }
        d
    }
}

impl Stored for OfferProductRow {
    const KIND: &'static str = "FEED_OFFER_PRODUCT";
    fn item_key(&self) -> Result<ItemKey, &'static str> {
        Ok(ItemKey::new(format!("FEED#OFFER#{}", self.offer_id), format!("PRODUCT#{}", self.product_id)))
    }
    fn encode(&self) -> Vec<String> {
        vec![self.offer_id.clone(), self.product_id.clone(), self.offer_revision.clone().unwrap_or_default()]
    }
    fn decode(f: &[String], _item: &ItemKey) -> Result<Self, String> {
        Ok(Self {
            offer_id: field(f, 0)?.to_owned(),
            product_id: field(f, 1)?.to_owned(),
            offer_revision: opt(field(f, 2)?).map(str::to_owned),
        })
    }
    /// `productId` only while the pair has a current version: an offer is
    /// for the products whose items carry it. Indexed by product
    /// ([`product_offers_index`]), so the subscriber report finds a
    /// product's offers.
    fn derive(history: &History<Self>) -> Derived {
        let mut d = Derived::default();
        if let Some((_, current)) = history.current_all().next() {
            let pair = &current.record;
            d.set("offerId", Some(pair.offer_id.as_str()));
            d.set("productId", Some(pair.product_id.as_str()));
            d.index = Some((product_offers_index(&pair.product_id), format!("FEED#OFFER#{}", pair.offer_id)));
        }
        d
    }
}

impl Stored for AgreementRow {
    const KIND: &'static str = "FEED_AGREEMENT";
    /// In the buyer's partition. A revision without an acceptor cannot be
    /// tied to a buyer.
    fn item_key(&self) -> Result<ItemKey, &'static str> {
        let acceptor = self.acceptor_account_id.as_ref().ok_or("acceptor_account_id is empty")?;
        Ok(ItemKey::new(account_pk(acceptor), format!("AGREEMENT#{}", self.agreement_id)))
    }
    fn encode(&self) -> Vec<String> {
        let id = |a: &Option<FeedAccountId>| a.as_ref().map(|a| a.as_str().to_owned()).unwrap_or_default();
        vec![
            self.agreement_id.clone(),
            self.status.as_str().to_owned(),
            iso(self.start_time),
            iso(self.end_time),
            iso(self.acceptance_time),
            self.offer_id.clone().unwrap_or_default(),
            id(&self.acceptor_account_id),
            id(&self.proposer_account_id),
        ]
    }
    fn decode(f: &[String], _item: &ItemKey) -> Result<Self, String> {
        let account = |i| field(f, i).map(|s| opt(s).map(FeedAccountId::new));
        Ok(Self {
            agreement_id: field(f, 0)?.to_owned(),
            status: AgreementStatus::parse(field(f, 1)?).map_err(|e| format!("status {e}"))?,
            start_time: time_field(f, 2)?,
            end_time: time_field(f, 3)?,
            acceptance_time: time_field(f, 4)?,
            offer_id: opt(field(f, 5)?).map(str::to_owned),
            acceptor_account_id: account(6)?,
            proposer_account_id: account(7)?,
        })
    }
    /// The revision in force ([`effective_revision`]).
    fn derive(history: &History<Self>) -> Derived {
        let mut d = Derived::default();
        let Some((_, versions)) = history.all_versions().next() else { return d };
        if let Some(rev) = effective_revision(versions) {
            let a = &rev.record;
            d.set("agreementId", Some(a.agreement_id.as_str()));
            d.set("status", Some(a.status.as_str()));
            d.set("startTime", a.start_time.map(|t| t.to_iso()));
            d.set("endTime", a.end_time.map(|t| t.to_iso()));
            d.set("acceptanceTime", a.acceptance_time.map(|t| t.to_iso()));
            d.set("offerId", a.offer_id.as_deref());
            d.set("revisionFrom", Some(rev.version.valid_from.to_iso()));
            d.set("acceptorAccountId", a.acceptor_account_id.as_ref().map(FeedAccountId::as_str));
            if let Some(offer) = &a.offer_id {
                d.index = Some((offer_agreements_index(offer), agreement_index_sk(a.status.as_str(), &a.agreement_id)));
            }
        }
        d
    }
}

impl Stored for DailyUsageRow {
    const KIND: &'static str = "FEED_USAGE";
    /// One item per end user, product and month of usage
    /// ([`usage_month_sk`]): a month object's rows of one (account, product)
    /// pair are one item, written once per delivery that touches the pair.
    /// Its versions are packed ([`encode_versions`](Self::encode_versions)),
    /// about 22 characters a row, so a month of daily usage of one dimension
    /// stays under 1 KB: one write unit.
    fn item_key(&self) -> Result<ItemKey, &'static str> {
        Ok(ItemKey::new(account_pk(&self.end_user_account_id), usage_month_sk(self.usage_date, &self.product_id)))
    }
    /// The id and the day of the month: the end user, product and month
    /// are the item's key. (Not what the item stores: its versions are
    /// packed, below.)
    fn encode(&self) -> Vec<String> {
        vec![self.usage_feed_id.clone(), self.usage_date.day().to_string()]
    }
    fn decode(f: &[String], item: &ItemKey) -> Result<Self, String> {
        let (user, (year, month), product) = usage_item_key(item)?;
        let date = field(f, 1)?.parse::<u8>().map_err(|_| "the day of the month is not a number".to_owned())?;
        Ok(Self {
            usage_feed_id: field(f, 0)?.to_owned(),
            usage_date: time::Date::from_calendar_date(year, month, date).map_err(|e| format!("usage date: {e}"))?,
            product_id: product.to_owned(),
            end_user_account_id: FeedAccountId::new(user),
        })
    }
    /// The last day of the month with a row that is current and not
    /// deleted (none: every row of the month is deleted).
    fn derive(history: &History<Self>) -> Derived {
        let mut d = Derived::default();
        if let Some(any) = history.entries_all().next() {
            d.set("productId", Some(any.record.product_id.as_str()));
        }
        let used = history.current_all().map(|(_, v)| v.record.usage_date).max();
        d.set("usageDate", used.map(|day| day.to_string()));
        d
    }
    /// The record's id as [`usage_id`]: 64 bits of its SHA-256.
    fn stored(self) -> Self {
        let id = usage_id(&self.usage_feed_id);
        Self { usage_feed_id: format!("#{id:016x}"), ..self }
    }
    /// `u1:` and the versions as base64url of postcard (variable-length
    /// integers): per version the record's [`usage_id`], the day of the
    /// month, the deleted flag, `valid_from` in milliseconds after the usage
    /// day's midnight, and `update_date` in milliseconds after `valid_from`.
    fn encode_versions(history: &History<Self>) -> String {
        let packed: Vec<PackedUsage> = history
            .entries_all()
            .map(|v| {
                let midnight = day_start_ms(v.record.usage_date);
                let valid_from = v.version.valid_from.unix_millis();
                PackedUsage {
                    id: usage_id(&v.record.usage_feed_id).to_be_bytes(),
                    day: v.record.usage_date.day(),
                    deleted: v.version.deleted,
                    valid_from: valid_from - midnight,
                    updated: v.version.update_date.unix_millis() - valid_from,
                }
            })
            .collect();
        let bytes = postcard::to_allocvec(&packed).expect("plain integers serialise");
        format!("{PACKED_USAGE}{}", URL_SAFE_NO_PAD.encode(bytes))
    }
    fn decode_versions(text: &str, item: &ItemKey) -> Result<History<Self>, String> {
        let (user, (year, month), product) = usage_item_key(item)?;
        let packed = text.strip_prefix(PACKED_USAGE).ok_or("not packed usage versions")?;
        let bytes = URL_SAFE_NO_PAD.decode(packed).map_err(|e| format!("not base64url: {e}"))?;
        let packed: Vec<PackedUsage> = match postcard::take_from_bytes(&bytes) {
            Ok((packed, [])) => packed,
            Ok(_) => return Err("bytes after the packed versions".into()),
            Err(e) => return Err(format!("not packed versions: {e}")),
        };
        let mut history = History::new();
        for p in packed {
            let usage_date =
                time::Date::from_calendar_date(year, month, p.day).map_err(|e| format!("usage date: {e}"))?;
            let valid_from = day_start_ms(usage_date) + p.valid_from;
            let time = |ms| Timestamp::from_unix_millis(ms).map_err(|e| format!("a version's time {e}"));
            let version = Version {
                valid_from: time(valid_from)?,
                update_date: time(valid_from + p.updated)?,
                deleted: p.deleted,
            };
            let record = Self {
                usage_feed_id: format!("#{:016x}", u64::from_be_bytes(p.id)),
                usage_date,
                product_id: product.to_owned(),
                end_user_account_id: FeedAccountId::new(user),
            };
            history.add(Versioned { version, record });
        }
        Ok(history)
    }
}

/// Marks packed usage versions (format 1).
const PACKED_USAGE: &str = "u1:";

/// One version of a usage record in a usage month item.
#[derive(serde::Serialize, serde::Deserialize)]
struct PackedUsage {
    /// Fixed width: a hash is as long as a varint's worst case.
    id: [u8; 8],
    day: u8,
    deleted: bool,
    valid_from: i64,
    updated: i64,
}

/// A usage record's id as its item keeps it: the first 64 bits of the
/// SHA-256 of `usage_feed_id`, or the id itself when already in that form
/// (`#` and 16 hex digits, [`Stored::stored`]). Two records of one account,
/// product and month would have to collide in 64 bits to be taken for one.
fn usage_id(id: &str) -> u64 {
    if let Some(hex) = id.strip_prefix('#').filter(|h| h.len() == 16)
        && let Ok(n) = u64::from_str_radix(hex, 16)
    {
        return n;
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(id.as_bytes());
    u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

fn day_start_ms(date: time::Date) -> i64 {
    date.midnight().assume_utc().unix_timestamp() * 1000
}

/// A usage item's end user, month and product, from its key.
fn usage_item_key(item: &ItemKey) -> Result<(&str, (i32, time::Month), &str), String> {
    let user = item.pk.strip_prefix("FEED#ACCOUNT#").ok_or("not a feed account's item")?;
    let (month, product) =
        item.sk.strip_prefix(USAGE_MONTH_PREFIX).and_then(|rest| rest.split_once('#')).ok_or("not a usage item")?;
    let parsed = month
        .split_once('-')
        .and_then(|(y, m)| Some((y.parse::<i32>().ok()?, time::Month::try_from(m.parse::<u8>().ok()?).ok()?)));
    Ok((user, parsed.ok_or("the item's month is not YYYY-MM")?, product))
}

#[cfg(test)]
mod tests {
    use super::super::values::parse_date;
    use super::*;

    fn version(valid_from: &str, update_date: &str, deleted: bool) -> Version {
        Version { valid_from: parse_time(valid_from).unwrap(), update_date: parse_time(update_date).unwrap(), deleted }
    }

    fn usage(id: &str, date: &str, v: Version) -> Versioned<DailyUsageRow> {
        let record = DailyUsageRow {
            usage_feed_id: id.into(),
            usage_date: parse_date(date).unwrap(),
            product_id: "prod-1".into(),
            end_user_account_id: FeedAccountId::new("acct-1"),
        };
        Versioned { version: v, record }
    }

    #[test]
    fn a_usage_month_round_trips_through_its_packed_item_without_its_ids_or_key() {
        let rows = vec![
            usage("u1", "2025-06-01", version("2025-06-02T03:04:05.678Z", "2025-06-02T03:04:05.678Z", false)),
            usage("u2", "2025-06-01", version("2025-06-02", "2025-06-03", false)),
            usage("u3", "2025-06-17", version("2025-06-18", "2025-06-18", false)),
            // A version valid before its usage day (a negative offset).
            usage("u4", "2025-06-30", version("2025-06-29", "2025-06-29", true)),
        ];
        let key = rows[0].record.item_key().unwrap();
        assert_eq!(key, ItemKey::new("FEED#ACCOUNT#acct-1", "ACTIVITY#2025-06#prod-1"));
        assert_eq!(rows[2].record.item_key().unwrap(), key, "one item for the month");
        let item = merge(&key, None, rows.clone()).unwrap().expect("a new item");
        assert!(item.versions.starts_with("u1:"), "{}", item.versions);
        for repeated in ["acct-1", "prod-1", "2025-06", "u1", "u2"] {
            assert!(!item.versions[3..].contains(repeated), "{repeated} in {}", item.versions);
        }
        assert!(item.versions.len() <= 3 + 4 * 22, "about 22 characters a version: {}", item.versions.len());
        assert_eq!(item.attrs.get("usageDate").map(String::as_str), Some("2025-06-17"), "the last day not deleted");
        let back: History<DailyUsageRow> = decode_versions(&item.versions, &key).unwrap();
        let stored: History<DailyUsageRow> =
            rows.iter().cloned().map(|v| Versioned { version: v.version, record: v.record.stored() }).collect();
        assert_eq!(back, stored);
        // The same rows again, by their original ids: nothing to write.
        let again = vec![usage("u2", "2025-06-01", version("2025-06-02", "2025-06-03", false))];
        assert_eq!(merge(&key, Some(&item.versions), again).unwrap(), None);
        // A later correction of a stored version is found by its id.
        let fix = vec![usage("u3", "2025-06-17", version("2025-06-18", "2025-06-19", true))];
        let item = merge(&key, Some(&item.versions), fix).unwrap().expect("changed");
        assert_eq!(item.attrs.get("usageDate").map(String::as_str), Some("2025-06-01"));
    }

    #[test]
    fn a_later_soft_delete_of_a_months_only_row_unmarks_the_month() {
        let first = vec![usage("u2", "2025-06-03", version("2025-06-04", "2025-06-04", false))];
        let key = first[0].record.item_key().unwrap();
        let item = merge(&key, None, first).unwrap().unwrap();
        assert_eq!(item.attrs.get("usageDate").map(String::as_str), Some("2025-06-03"));
        let delete = vec![usage("u2", "2025-06-03", version("2025-06-04", "2025-06-05", true))];
        let item = merge(&key, Some(&item.versions), delete).unwrap().expect("changed");
        assert_eq!(item.attrs.get("usageDate"), None);
    }

    #[test]
    fn packed_usage_that_cannot_be_read_is_an_error_naming_the_item() {
        let key = ItemKey::new("FEED#ACCOUNT#acct-1", "ACTIVITY#2025-06#prod-1");
        for bad in ["[[\"x\"]]", "u1:!!", "u1:AAAA"] {
            let e = merge::<DailyUsageRow>(&key, Some(bad), Vec::new()).unwrap_err();
            assert_eq!(e.sk, "ACTIVITY#2025-06#prod-1", "{bad}");
        }
    }

    #[test]
    fn versions_that_cannot_be_read_are_an_error_naming_the_item_not_a_value() {
        let key = ItemKey::new("FEED#PRODUCTS", "prod-1");
        let e = merge::<ProductRow>(&key, Some("[[\"x\"]]"), Vec::new()).unwrap_err();
        assert_eq!((e.pk.as_str(), e.sk.as_str()), ("FEED#PRODUCTS", "prod-1"));
        assert!(e.reason.contains("fewer than three"), "{}", e.reason);
    }
}
