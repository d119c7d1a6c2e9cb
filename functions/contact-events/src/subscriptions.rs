//! From a stream record of a data-feeds agreement item (`FEED_AGREEMENT`,
//! written by ingest-feeds) to the subscription event it means, or to none;
//! and the lookups that complete the event (the buyer's AWS account id, the
//! offer's product).
//!
//! An agreement item carries the **revision in force** of one agreement
//! (`status`, `startTime`, `endTime`, `acceptanceTime`, `offerId`,
//! `revisionFrom`; `docs/data-model.md`), derived from every version the
//! feeds delivered. The event compares the revision in force before and
//! after the write, and "active" means `status` = `ACTIVE`, as the
//! eligibility lookups read it:
//!
//! | before | after | event |
//! |---|---|---|
//! | none (a new item), or not `ACTIVE` | `ACTIVE` | `Marketplace Subscription Started` |
//! | `ACTIVE` | not `ACTIVE` (an ending status, see [`ENDING_STATUSES`], or no revision in force any more) | `Marketplace Subscription Ended` |
//! | `ACTIVE` | `ACTIVE`, with another start, end or acceptance time or offer | `Marketplace Subscription Changed` |
//! | none or not `ACTIVE` | another status that is not `ACTIVE`, or other dates | `Marketplace Subscription Changed` |
//! | anything | the same status, dates and offer (only `versions` or `revisionFrom` moved: a re-delivery, a correction that changed nothing, an identical write) | none |
//! | none | an item with no revision in force | none |
//! | an agreement item | the item removed (`REMOVE`; ingest-feeds never deletes one) | none |
//!
//! Nothing personal is in these items, and the events carry identifiers,
//! statuses and dates only.

use std::collections::{BTreeMap, BTreeSet};

use psc_bridge::aws::AwsError;
use psc_bridge::aws::dynamodb::item::Item;
use psc_bridge::feeds::{AgreementRow, FeedAccountId, Stored};
use psc_bridge::ports::FeedLookup;
use serde_json::{Map, Value, json};

use crate::mapping::{ChangeEvent, SCHEMA_VERSION, StreamChange};

pub const SUBSCRIPTION_STARTED: &str = "Marketplace Subscription Started";
pub const SUBSCRIPTION_CHANGED: &str = "Marketplace Subscription Changed";
pub const SUBSCRIPTION_ENDED: &str = "Marketplace Subscription Ended";

/// The status of an agreement in force.
pub const ACTIVE: &str = "ACTIVE";

/// The statuses of an ended agreement (fact sheet §5.2): ended early by
/// AWS, by the buyer, on its end date, replaced by a replacement offer,
/// renewed into a new agreement (which starts on its own), or ended for an
/// unspecified reason.
pub const ENDING_STATUSES: [&str; 6] = ["TERMINATED", "CANCELLED", "EXPIRED", "REPLACED", "RENEWED", "ARCHIVED"];

/// The fields of the revision in force that an event compares, by their
/// names in the detail (and on the item).
const COMPARED: [&str; 5] = ["status", "startTime", "endTime", "acceptanceTime", "offerId"];

/// What a `Marketplace Subscription *` event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Started,
    Changed,
    Ended,
}

impl Transition {
    pub fn detail_type(self) -> &'static str {
        match self {
            Self::Started => SUBSCRIPTION_STARTED,
            Self::Changed => SUBSCRIPTION_CHANGED,
            Self::Ended => SUBSCRIPTION_ENDED,
        }
    }
}

/// An agreement's revision in force, as its item holds it (times as the
/// item spells them: ISO 8601, UTC, milliseconds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InForce {
    pub status: String,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub acceptance_time: Option<String>,
    pub offer_id: Option<String>,
    pub revision_from: Option<String>,
}

impl InForce {
    pub fn active(&self) -> bool {
        self.status == ACTIVE
    }

    fn field(&self, name: &str) -> Option<&str> {
        match name {
            "status" => Some(self.status.as_str()),
            "startTime" => self.start_time.as_deref(),
            "endTime" => self.end_time.as_deref(),
            "acceptanceTime" => self.acceptance_time.as_deref(),
            "offerId" => self.offer_id.as_deref(),
            _ => None,
        }
    }
}

/// A change of an agreement that is an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionChange {
    pub transition: Transition,
    pub agreement_id: String,
    /// The buyer, as the feeds name it (the acceptor).
    pub feed_account: FeedAccountId,
    pub before: Option<InForce>,
    pub after: Option<InForce>,
    /// The names of the compared fields that differ (see the module's docs).
    pub changed_fields: Vec<&'static str>,
}

impl SubscriptionChange {
    /// The revision the event describes: the one in force after the
    /// change, or the last one when none is in force any more.
    fn described(&self) -> Option<&InForce> {
        self.after.as_ref().or(self.before.as_ref())
    }

    /// The offer whose product the event names.
    pub fn offer_id(&self) -> Option<&str> {
        self.described().and_then(|r| r.offer_id.as_deref())
    }
}

/// An agreement item: its ids, and its revision in force if it has one.
struct AgreementImage {
    agreement_id: String,
    feed_account: FeedAccountId,
    in_force: Option<InForce>,
}

fn agreement_image(item: Option<&Item>) -> Option<AgreementImage> {
    let item = item?;
    let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str);
    if s("kind") != Some(AgreementRow::KIND) {
        return None;
    }
    let account = s("pk")?.strip_prefix("FEED#ACCOUNT#")?;
    let agreement_id = s("sk")?.strip_prefix("AGREEMENT#")?;
    let owned = |name: &str| s(name).map(str::to_owned);
    let in_force = s("status").map(|status| InForce {
        status: status.to_owned(),
        start_time: owned("startTime"),
        end_time: owned("endTime"),
        acceptance_time: owned("acceptanceTime"),
        offer_id: owned("offerId"),
        revision_from: owned("revisionFrom"),
    });
    Some(AgreementImage { agreement_id: agreement_id.to_owned(), feed_account: FeedAccountId::new(account), in_force })
}

/// Is this stream record one of an agreement item (whatever it means)?
pub fn is_agreement(change: &StreamChange) -> bool {
    agreement_image(change.new_image.as_ref()).is_some() || agreement_image(change.old_image.as_ref()).is_some()
}

/// The subscription change a stream record means, if any (the module's
/// table).
pub fn subscription_change(change: &StreamChange) -> Option<SubscriptionChange> {
    if change.event_name == "REMOVE" {
        return None;
    }
    let new = agreement_image(change.new_image.as_ref())?;
    let before = agreement_image(change.old_image.as_ref())
        .filter(|old| old.agreement_id == new.agreement_id)
        .and_then(|old| old.in_force);
    let after = new.in_force;
    let changed_fields: Vec<&'static str> = COMPARED
        .into_iter()
        .filter(|f| before.as_ref().and_then(|b| b.field(f)) != after.as_ref().and_then(|a| a.field(f)))
        .collect();
    if changed_fields.is_empty() {
        return None;
    }
    let was = before.as_ref().is_some_and(InForce::active);
    let is = after.as_ref().is_some_and(InForce::active);
    let transition = match (was, is) {
        (false, true) => Transition::Started,
        (true, false) => Transition::Ended,
        _ => Transition::Changed,
    };
    Some(SubscriptionChange {
        transition,
        agreement_id: new.agreement_id,
        feed_account: new.feed_account,
        before,
        after,
        changed_fields,
    })
}

/// What the table knows, at the time of the event, of the buyers and
/// offers of a batch's subscription events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lookups {
    /// The bridge: feed account id to 12-digit AWS account id.
    pub accounts: BTreeMap<FeedAccountId, String>,
    /// An offer's products (ids, in order).
    pub offers: BTreeMap<String, Vec<String>>,
    /// A product's code, when the Product feed lists one.
    pub codes: BTreeMap<String, String>,
}

impl Lookups {
    /// Reads what `changes` need: one `aws_account_ids` for all the buyers,
    /// one `offer_products` per offer, and `feed_products` once when an
    /// offer has products. An unknown buyer, offer or product is simply
    /// absent (its event carries nulls); a failed read is an error.
    pub async fn load<F: FeedLookup>(feeds: &F, changes: &[&SubscriptionChange]) -> Result<Self, AwsError> {
        let mut out = Self::default();
        if changes.is_empty() {
            return Ok(out);
        }
        let accounts: BTreeSet<FeedAccountId> = changes.iter().map(|c| c.feed_account.clone()).collect();
        let accounts: Vec<FeedAccountId> = accounts.into_iter().collect();
        out.accounts =
            feeds.aws_account_ids(&accounts).await?.into_iter().map(|(k, v)| (k, v.as_str().to_owned())).collect();
        let offers: BTreeSet<&str> = changes.iter().filter_map(|c| c.offer_id()).collect();
        for offer in offers {
            let mut products = feeds.offer_products(offer).await?;
            products.sort();
            products.dedup();
            out.offers.insert(offer.to_owned(), products);
        }
        if out.offers.values().any(|p| !p.is_empty()) {
            for p in feeds.feed_products().await? {
                if let Some(code) = p.product_code {
                    out.codes.insert(p.product_id, code.as_str().to_owned());
                }
            }
        }
        Ok(out)
    }
}

/// The event of a subscription change, completed with what `lookups` know.
pub fn subscription_event(record: &StreamChange, c: &SubscriptionChange, lookups: &Lookups) -> ChangeEvent {
    let described = c.described().cloned().unwrap_or_default();
    let product_ids: Vec<String> = c.offer_id().and_then(|o| lookups.offers.get(o)).cloned().unwrap_or_default();
    let product_id = product_ids.first().cloned();
    let product_code = product_id.as_ref().and_then(|p| lookups.codes.get(p)).cloned();
    let mut d = Map::new();
    d.insert("schemaVersion".into(), json!(SCHEMA_VERSION));
    d.insert("eventId".into(), json!(record.event_id));
    d.insert("agreementId".into(), json!(c.agreement_id));
    d.insert("feedAccountId".into(), json!(c.feed_account.as_str()));
    d.insert("awsAccountId".into(), json!(lookups.accounts.get(&c.feed_account)));
    d.insert("offerId".into(), json!(described.offer_id));
    d.insert("productId".into(), json!(product_id));
    d.insert("productCode".into(), json!(product_code));
    d.insert("productIds".into(), json!(product_ids));
    d.insert("status".into(), json!(c.after.as_ref().map(|a| a.status.as_str())));
    d.insert("previousStatus".into(), json!(c.before.as_ref().map(|b| b.status.as_str())));
    d.insert("startTime".into(), json!(described.start_time));
    d.insert("endTime".into(), json!(described.end_time));
    d.insert("acceptanceTime".into(), json!(described.acceptance_time));
    d.insert("revisionFrom".into(), json!(described.revision_from));
    d.insert("changedFields".into(), json!(c.changed_fields));
    d.insert("recordedAt".into(), json!(record.time.map(|t| t.to_iso())));
    ChangeEvent {
        detail_type: c.transition.detail_type(),
        detail: Value::Object(d),
        key: format!("AGREEMENT#{}", c.agreement_id),
    }
}
