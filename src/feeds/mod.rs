//! AWS Marketplace's Seller Delivery Data Feeds (SDDF): the domain layer.
//!
//! AWS writes one CSV per feed and month into the seller's bucket
//! (`AccountFeed_V1/year=2025/month=03/data.csv`), rewritten daily with more
//! rows. This module knows, without any AWS type:
//!
//! * which feed and month a key is ([`folder`]);
//! * how to read the five feeds the lookups need, row by row, by header
//!   name, keeping only the columns they need ([`csv`]; the values'
//!   spellings in [`values`]);
//! * which version of a record is current, the agreement revision in force
//!   and each account's last usage of a product, whatever order the rows
//!   come in ([`history`]).
//!
//! It never reads the Address, Tax item or Billing event feeds, nor any
//! personal or tax column of the feeds it reads. `docs/data-feeds.md` says
//! what is read, the rules, and what about the real feeds is unconfirmed.
//! What the table keeps of them is [`store`]'s; the function that ingests
//! them is `functions/ingest-feeds`.

pub mod cache;
pub mod csv;
pub mod folder;
pub mod history;
pub mod lookup;
pub mod notice;
pub mod run;
pub mod store;
pub mod values;

pub use self::cache::{CachedReference, REFERENCE_TTL};
pub use self::csv::{
    AccountRow, AgreementRow, DailyUsageRow, FeedReader, FeedRecord, HeaderError, OfferProductRow, Position,
    ProductRow, ReadError, Reject, Row, Version, Versioned,
};
pub use self::folder::{FeedKey, FeedKind, MonthObject};
pub use self::history::{FeedState, History, Keyed, RevisionClass, Subscription, effective_revision, last_usage};
pub use self::lookup::{
    ACCOUNT_PAGE, AccountFeeds, AccountPage, FeedAgreement, FeedProduct, FeedsDecision, NoFeeds, ProductFeeds,
    Subscriber, SubscriberPage, UsageDay, account_feeds, account_feeds_paged, subscribers,
};
pub use self::notice::{Trigger, continuation_payload, parse_delivery, parse_trigger};
pub use self::run::{Delivery, FeedRun, ObjectReport, ObjectState, ReadMode, RunStatus, Sweep, pass_of};
pub use self::store::{Derived, FeedItem, ItemKey, Stored, Undecodable, merge};
pub use self::values::{AgreementStatus, FeedAccountId, pad_account_id, parse_date, parse_time};

#[cfg(test)]
mod tests;
