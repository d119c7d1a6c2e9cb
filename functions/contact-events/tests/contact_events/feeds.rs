//! Data-feed items for the subscription tests, made as ingest-feeds makes
//! them: rows folded by `psc_bridge::feeds::store::merge`, stored by the
//! table's own codec (`psc_bridge::aws::dynamodb::feed_item`).

use psc_bridge::aws::dynamodb::feed_item;
use psc_bridge::aws::dynamodb::item::Item;
use psc_bridge::domain::{AwsAccountId, ProductCode};
use psc_bridge::feeds::store::merge;
use psc_bridge::feeds::{
    AccountRow, AgreementRow, AgreementStatus, FeedAccountId, FeedItem, OfferProductRow, ProductRow, Stored, Version,
    Versioned, parse_time,
};

pub const BUYER: &str = "Qw3rTy7uIo1pAs5dFg9hJk2lZx6cVb0nMq4wEr8tYu";
pub const BUYER_AWS: &str = "000011112222";
pub const AGREEMENT: &str = "agmt-aaaa1111bbbb2222cccc3333d";
pub const OFFER: &str = "offer-abcd1234efgh5";
pub const PRODUCT: &str = "prod-x7bdfpkk4mtnq";
pub const CODE: &str = "4gzp2symm0v9zidfrn9f854w6";

pub fn version(valid_from: &str, update_date: &str, deleted: bool) -> Version {
    Version { valid_from: parse_time(valid_from).unwrap(), update_date: parse_time(update_date).unwrap(), deleted }
}

/// A revision of [`AGREEMENT`] by [`BUYER`] on [`OFFER`], valid from
/// `valid_from` (written that day), starting 2025-03-04 and ending `end`.
pub fn revision(valid_from: &str, status: &str, end: Option<&str>) -> Versioned<AgreementRow> {
    revision_of(AGREEMENT, valid_from, status, end)
}

pub fn revision_of(agreement: &str, valid_from: &str, status: &str, end: Option<&str>) -> Versioned<AgreementRow> {
    Versioned {
        version: version(valid_from, valid_from, false),
        record: AgreementRow {
            agreement_id: agreement.to_owned(),
            status: AgreementStatus::parse(status).unwrap(),
            start_time: Some(parse_time("2025-03-04T09:15:00Z").unwrap()),
            end_time: end.map(|e| parse_time(e).unwrap()),
            acceptance_time: Some(parse_time("2025-03-04T09:15:00Z").unwrap()),
            offer_id: Some(OFFER.to_owned()),
            acceptor_account_id: Some(FeedAccountId::new(BUYER)),
            proposer_account_id: Some(FeedAccountId::new("Sel1erAcct00000000000000000000000000000000")),
        },
    }
}

/// The item after folding `rows` into `stored` (`None`: a new item), as
/// ingest-feeds writes it; `None` when merge finds nothing to write.
pub fn fold<T: Stored>(stored: Option<&FeedItem>, rows: Vec<Versioned<T>>) -> Option<FeedItem> {
    let key = rows.first().map(|r| r.record.item_key().unwrap()).or_else(|| stored.map(|s| s.key.clone())).unwrap();
    merge(&key, stored.map(|s| s.versions.as_str()), rows).unwrap()
}

/// An agreement item from its rows.
pub fn agreement(stored: Option<&FeedItem>, rows: Vec<Versioned<AgreementRow>>) -> FeedItem {
    fold(stored, rows).expect("the rows change the item")
}

/// A stored item as its stream image.
pub fn image(item: &FeedItem) -> Item {
    feed_item(item)
}

/// The reference items: the bridge of [`BUYER`], [`OFFER`]'s product and
/// that product with its code.
pub fn reference_items() -> Vec<FeedItem> {
    let v = || version("2025-03-01T00:00:00Z", "2025-03-01T00:00:00Z", false);
    let account = AccountRow {
        account_id: FeedAccountId::new(BUYER),
        aws_account_id: Some(AwsAccountId::parse(BUYER_AWS).unwrap()),
    };
    let pair = OfferProductRow { offer_id: OFFER.into(), product_id: PRODUCT.into(), offer_revision: Some("3".into()) };
    let product = ProductRow {
        product_id: PRODUCT.into(),
        product_code: Some(ProductCode::parse(CODE).unwrap()),
        title: Some("Example Product".into()),
    };
    vec![
        fold(None, vec![Versioned { version: v(), record: account }]).unwrap(),
        fold(None, vec![Versioned { version: v(), record: pair }]).unwrap(),
        fold(None, vec![Versioned { version: v(), record: product }]).unwrap(),
    ]
}
