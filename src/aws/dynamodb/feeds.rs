//! [`FeedStore`] on the table: the data-feeds items (`crate::feeds::store`),
//! the month objects' states, the runs and the feeds' lease
//! (`docs/data-model.md`, "Data-feed items").

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeValue, ConsumedCapacity, KeysAndAttributes, PutRequest, ReturnConsumedCapacity, WriteRequest,
};

use std::collections::BTreeMap;

use time::Date;

use super::item::{BY_ACCOUNT_INDEX, Item, s};
use super::{DynamoStore, condition_met, cursor, ddb_error};
use crate::aws::error::{AwsError, Failure, codes};
use crate::domain::{AwsAccountId, ProductCode, Timestamp};
use crate::feeds::store::{
    PRODUCTS_PK, USAGE_MONTH_PREFIX, account_pk, agreements_with_status, offer_agreements_index, product_offers_index,
};
use crate::feeds::{
    AccountPage, FeedAccountId, FeedAgreement, FeedItem, FeedProduct, FeedRun, ItemKey, ObjectState, parse_date,
    parse_time,
};
use crate::model::{Lease, Page};
use crate::ports::{FeedLookup, FeedStore, LookupError};
use crate::retry::{Backoff, seed};

const OBJECTS_PK: &str = "FEED#OBJECT";
const RUNS_PK: &str = "FEED#RUN";
const STATE_PK: &str = "FEED#STATE";
const LEASE_SK: &str = "LEASE";
const AS_OF_SK: &str = "AS_OF";

/// How many usage months one query of an account's last usage of a product
/// reads at a time, newest first (the account's other products' days and
/// soft-deleted days make it read on).
const USAGE_PAGE: i32 = 64;

/// What a page of an account's partition reads: an agreement's attributes
/// (`decode_agreement`; `#s` is `status`, a reserved word) and a usage month's.
const ACCOUNT_PAGE_ATTRIBUTES: &str =
    "pk, sk, agreementId, #s, startTime, endTime, acceptanceTime, offerId, productId, usageDate";

/// BatchGetItem's and BatchWriteItem's limits.
const GET_BATCH: usize = 100;
const WRITE_BATCH: usize = 25;

/// Keys or items DynamoDB left unprocessed (throttling) are sent again,
/// with backoff, up to this many times (about a minute in all).
const UNPROCESSED: Backoff = Backoff::new(12, Duration::from_millis(100), Duration::from_secs(8));

fn key(k: &ItemKey) -> Item {
    HashMap::from([("pk".to_owned(), s(k.pk.as_str())), ("sk".to_owned(), s(k.sk.as_str()))])
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// A data-feed item as the table stores it (also what its stream records'
/// images hold).
pub fn encode_item(f: &FeedItem) -> Item {
    let mut item = key(&f.key);
    item.insert("kind".into(), s(f.kind));
    item.insert("versions".into(), s(f.versions.as_str()));
    if let Some((pk, sk)) = &f.index {
        item.insert("gsi1pk".into(), s(pk.as_str()));
        item.insert("gsi1sk".into(), s(sk.as_str()));
    }
    for (name, value) in &f.attrs {
        item.insert((*name).to_owned(), s(value.as_str()));
    }
    item
}

fn json_item(pk: &str, sk: &str, kind: &str, body: &impl serde::Serialize) -> Item {
    let mut item = key(&ItemKey::new(pk, sk));
    item.insert("kind".into(), s(kind));
    item.insert("body".into(), s(serde_json::to_string(body).expect("records serialise")));
    item
}

fn decode_json<T: serde::de::DeserializeOwned>(item: &Item) -> Result<T, AwsError> {
    let body = text(item, "body").unwrap_or_default();
    serde_json::from_str(body).map_err(|e| {
        AwsError::local("DynamoDB", "Query", Failure::BadResponse, format!("a data-feeds record cannot be read: {e}"))
    })
}

impl DynamoStore {
    /// The items among `keys` that exist (any number of keys), with the
    /// attributes of `projection`; keys DynamoDB leaves unprocessed
    /// (throttling) are asked again with backoff.
    async fn batch_get(&self, keys: &[ItemKey], projection: &str, consistent: bool) -> Result<Vec<Item>, AwsError> {
        let mut found = Vec::new();
        let table = self.table().to_owned();
        let seed = seed();
        for chunk in keys.chunks(GET_BATCH) {
            let mut pending: Vec<Item> = chunk.iter().map(key).collect();
            for retry in 0.. {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(pending))
                    .projection_expression(projection)
                    .consistent_read(consistent)
                    .build()
                    .expect("keys are set");
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&table, request)
                    .send()
                    .await
                    .map_err(ddb_error("BatchGetItem"))?;
                found.extend(out.responses().and_then(|r| r.get(&table)).into_iter().flatten().cloned());
                pending =
                    out.unprocessed_keys().and_then(|u| u.get(&table)).map(|k| k.keys().to_vec()).unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                if retry >= UNPROCESSED.retries {
                    return Err(unprocessed("BatchGetItem", pending.len()));
                }
                tokio::time::sleep(UNPROCESSED.delay(retry + 1, seed)).await;
            }
        }
        Ok(found)
    }

    async fn put_json(&self, item: Item) -> Result<(), AwsError> {
        self.client
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .send()
            .await
            .map_err(ddb_error("PutItem"))?;
        Ok(())
    }

    /// Every item of partition `pk`, newest sort key first when `newest_first`.
    async fn partition(&self, pk: &str, newest_first: bool, limit: Option<i32>) -> Result<Vec<Item>, AwsError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :p")
                .expression_attribute_values(":p", s(pk))
                .scan_index_forward(!newest_first)
                .set_limit(limit)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(ddb_error("Query"))?;
            out.extend(page.items().iter().cloned());
            start = page.last_evaluated_key().cloned();
            if start.is_none() || limit.is_some_and(|l| out.len() >= l as usize) {
                return Ok(out);
            }
        }
    }
}

impl DynamoStore {
    /// The write request units DynamoDB reported consumed
    /// (`ReturnConsumedCapacity=INDEXES`) by the data-feed items this store
    /// and its clones wrote so far: in all (the table's and its indexes'),
    /// and the table's own.
    pub fn feed_write_units(&self) -> (f64, f64) {
        self.feed_write_units.total()
    }

    fn count_feed_write_units(&self, consumed: &[ConsumedCapacity]) {
        for c in consumed {
            let table = c.table().and_then(|t| t.capacity_units()).unwrap_or(0.0);
            self.feed_write_units.add(c.capacity_units().unwrap_or(0.0), table);
        }
    }
}

impl FeedStore for DynamoStore {
    async fn feed_versions(&self, keys: &[ItemKey]) -> Result<Vec<(ItemKey, String)>, AwsError> {
        let items = self.batch_get(keys, "pk, sk, versions", true).await?;
        Ok(items
            .iter()
            .filter_map(|i| Some((ItemKey::new(text(i, "pk")?, text(i, "sk")?), text(i, "versions")?.to_owned())))
            .collect())
    }

    async fn put_feed_items(&self, items: &[FeedItem]) -> Result<(), AwsError> {
        let table = self.table().to_owned();
        let seed = seed();
        for chunk in items.chunks(WRITE_BATCH) {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|i| {
                    let put = PutRequest::builder().set_item(Some(encode_item(i))).build().expect("item is set");
                    WriteRequest::builder().put_request(put).build()
                })
                .collect();
            for retry in 0.. {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&table, pending)
                    .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
                    .send()
                    .await
                    .map_err(ddb_error("BatchWriteItem"))?;
                self.count_feed_write_units(out.consumed_capacity());
                pending = out.unprocessed_items().and_then(|u| u.get(&table)).cloned().unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                if retry >= UNPROCESSED.retries {
                    return Err(unprocessed("BatchWriteItem", pending.len()));
                }
                tokio::time::sleep(UNPROCESSED.delay(retry + 1, seed)).await;
            }
        }
        Ok(())
    }

    async fn object_states(&self) -> Result<Vec<ObjectState>, AwsError> {
        self.partition(OBJECTS_PK, false, None).await?.iter().map(decode_json).collect()
    }

    async fn save_object_state(&self, state: &ObjectState) -> Result<(), AwsError> {
        self.put_json(json_item(OBJECTS_PK, &state.key, "FEED_OBJECT", state)).await
    }

    async fn claim_feeds(&self, lease: &Lease, now: Timestamp) -> Result<bool, AwsError> {
        let result = self
            .client
            .update_item()
            .table_name(self.table())
            .key("pk", s(STATE_PK))
            .key("sk", s(LEASE_SK))
            .update_expression("SET leaseOwner = :owner, leaseUntil = :until, kind = :kind")
            .condition_expression("attribute_not_exists(leaseOwner) OR leaseOwner = :owner OR leaseUntil < :now")
            .expression_attribute_values(":owner", s(lease.owner.as_str()))
            .expression_attribute_values(":until", s(lease.until.to_iso()))
            .expression_attribute_values(":now", s(now.to_iso()))
            .expression_attribute_values(":kind", s("FEED_LEASE"))
            .send()
            .await
            .map_err(ddb_error("UpdateItem"));
        condition_met(result)
    }

    async fn release_feeds(&self, owner: &str) -> Result<(), AwsError> {
        let result = self
            .client
            .update_item()
            .table_name(self.table())
            .key("pk", s(STATE_PK))
            .key("sk", s(LEASE_SK))
            .update_expression("REMOVE leaseOwner, leaseUntil")
            .condition_expression("leaseOwner = :owner")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await
            .map_err(ddb_error("UpdateItem"));
        // Not held by `owner` (any more): nothing to release.
        condition_met(result).map(|_| ())
    }

    async fn save_feed_run(&self, run: &FeedRun) -> Result<(), AwsError> {
        let mut item = json_item(RUNS_PK, &run.run_id, "FEED_RUN", run);
        item.insert("status".into(), AttributeValue::S(run.status.as_str().to_owned()));
        self.put_json(item).await
    }

    async fn feed_run(&self, run_id: &str) -> Result<Option<FeedRun>, AwsError> {
        self.get(RUNS_PK.to_owned(), run_id, true).await?.as_ref().map(decode_json).transpose()
    }

    async fn recent_feed_runs(&self, limit: i32) -> Result<Vec<FeedRun>, AwsError> {
        self.partition(RUNS_PK, true, Some(limit)).await?.iter().take(limit.max(0) as usize).map(decode_json).collect()
    }

    async fn save_feeds_as_of(&self, as_of: Timestamp) -> Result<(), AwsError> {
        let mut item = key(&ItemKey::new(STATE_PK, AS_OF_SK));
        item.insert("kind".into(), s("FEED_AS_OF"));
        item.insert("asOf".into(), s(as_of.to_iso()));
        self.put_json(item).await
    }
}

/// An agreement item's attributes, as [`crate::feeds::store`] derives them.
fn decode_agreement(item: &Item) -> Option<FeedAgreement> {
    let time = |name| text(item, name).and_then(|t| parse_time(t).ok());
    let account = text(item, "pk")?.strip_prefix("FEED#ACCOUNT#")?;
    Some(FeedAgreement {
        agreement_id: text(item, "agreementId")?.to_owned(),
        account: FeedAccountId::new(account),
        status: text(item, "status")?.to_owned(),
        start_time: time("startTime"),
        end_time: time("endTime"),
        acceptance_time: time("acceptanceTime"),
        offer_id: text(item, "offerId").map(str::to_owned),
    })
}

impl DynamoStore {
    /// Every item of a `ByAccount` partition whose sort key starts with `prefix`.
    async fn index_partition(&self, gsi1pk: &str, prefix: &str) -> Result<Vec<Item>, AwsError> {
        self.query_prefix(Some(BY_ACCOUNT_INDEX), "gsi1pk = :p AND begins_with(gsi1sk, :prefix)", gsi1pk, prefix).await
    }

    /// Every item of table partition `pk` whose sort key starts with `prefix`.
    async fn partition_prefix(&self, pk: &str, prefix: &str) -> Result<Vec<Item>, AwsError> {
        self.query_prefix(None, "pk = :p AND begins_with(sk, :prefix)", pk, prefix).await
    }

    /// Every page of a Query of `index` (`None`: the table) by `condition`
    /// on `:p` and `:prefix`.
    async fn query_prefix(
        &self,
        index: Option<&str>,
        condition: &str,
        partition: &str,
        prefix: &str,
    ) -> Result<Vec<Item>, AwsError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(self.table())
                .set_index_name(index.map(str::to_owned))
                .key_condition_expression(condition)
                .expression_attribute_values(":p", s(partition))
                .expression_attribute_values(":prefix", s(prefix))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(ddb_error("Query"))?;
            out.extend(page.items().iter().cloned());
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(out);
            }
        }
    }
}

impl FeedLookup for DynamoStore {
    async fn feeds_as_of(&self) -> Result<Option<Timestamp>, AwsError> {
        let item = self.get(STATE_PK.to_owned(), AS_OF_SK, false).await?;
        Ok(item.as_ref().and_then(|i| text(i, "asOf")).and_then(|t| parse_time(t).ok()))
    }

    async fn feed_accounts(&self, account: &AwsAccountId) -> Result<Vec<FeedAccountId>, AwsError> {
        let items = self.index_partition(&format!("ACCOUNT#{}", account.as_str()), "FEED#ACCOUNT#").await?;
        Ok(items.iter().filter_map(|i| text(i, "feedAccountId")).map(FeedAccountId::new).collect())
    }

    async fn aws_account_ids(&self, ids: &[FeedAccountId]) -> Result<BTreeMap<FeedAccountId, AwsAccountId>, AwsError> {
        let keys: Vec<ItemKey> = ids.iter().map(|id| ItemKey::new(account_pk(id), "ACCOUNT")).collect();
        let items = self.batch_get(&keys, "feedAccountId, awsAccountId", false).await?;
        Ok(items
            .iter()
            .filter_map(|i| {
                let aws = AwsAccountId::parse(text(i, "awsAccountId")?).ok()?;
                Some((FeedAccountId::new(text(i, "feedAccountId")?), aws))
            })
            .collect())
    }

    async fn account_page(
        &self,
        account: &FeedAccountId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<AccountPage, AwsError> {
        let pk = account_pk(account);
        let start = after.map(|sk| key(&ItemKey::new(pk.as_str(), sk)));
        // Every sort key after the account's own item: its agreements, then
        // (newest first) its usage months (`store::USAGE_MONTH_PREFIX`).
        let page = self
            .client
            .query()
            .table_name(self.table())
            .key_condition_expression("pk = :p AND sk > :account")
            .expression_attribute_values(":p", s(pk.as_str()))
            .expression_attribute_values(":account", s("ACCOUNT"))
            .projection_expression(ACCOUNT_PAGE_ATTRIBUTES)
            .expression_attribute_names("#s", "status")
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(ddb_error("Query"))?;
        let mut out = AccountPage::default();
        for item in page.items() {
            out.add(text(item, "sk").unwrap_or_default(), |name| text(item, name), || decode_agreement(item));
        }
        out.next = page.last_evaluated_key().and_then(|k| k.get("sk")).and_then(|v| v.as_s().ok()).cloned();
        Ok(out)
    }

    /// The account's usage months, newest first, until one of `product_id`'s
    /// (the subscriber report's last usage column).
    async fn last_usage(&self, account: &FeedAccountId, product_id: &str) -> Result<Option<Date>, AwsError> {
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :p AND begins_with(sk, :prefix)")
                .filter_expression("productId = :product AND attribute_exists(usageDate)")
                .projection_expression("pk, sk, usageDate")
                .expression_attribute_values(":p", s(account_pk(account)))
                .expression_attribute_values(":prefix", s(USAGE_MONTH_PREFIX))
                .expression_attribute_values(":product", s(product_id))
                .scan_index_forward(false)
                .limit(USAGE_PAGE)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(ddb_error("Query"))?;
            if let Some(day) = page.items().iter().find_map(|i| text(i, "usageDate")) {
                return Ok(parse_date(day).ok());
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(None);
            }
        }
    }

    async fn feed_products(&self) -> Result<Vec<FeedProduct>, AwsError> {
        let items = self.partition(PRODUCTS_PK, false, None).await?;
        Ok(items
            .iter()
            .filter_map(|i| {
                Some(FeedProduct {
                    product_id: text(i, "productId")?.to_owned(),
                    product_code: text(i, "productCode").and_then(|c| ProductCode::parse(c).ok()),
                    title: text(i, "title").map(str::to_owned),
                })
            })
            .collect())
    }

    async fn offer_products(&self, offer_id: &str) -> Result<Vec<String>, AwsError> {
        let items = self.partition_prefix(&format!("FEED#OFFER#{offer_id}"), "PRODUCT#").await?;
        Ok(items.iter().filter_map(|i| text(i, "productId")).map(str::to_owned).collect())
    }

    async fn product_offers(&self, product_id: &str) -> Result<Vec<String>, AwsError> {
        let items = self.index_partition(&product_offers_index(product_id), "FEED#OFFER#").await?;
        Ok(items.iter().filter_map(|i| text(i, "offerId")).map(str::to_owned).collect())
    }

    async fn offer_agreements(
        &self,
        offer_id: &str,
        active_only: bool,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<FeedAgreement>, LookupError> {
        let gsi1pk = offer_agreements_index(offer_id);
        let start = match cursor {
            Some(c) => Some(cursor::decode(c, &gsi1pk).ok_or(LookupError::BadCursor)?),
            None => None,
        };
        let prefix = agreements_with_status(if active_only { "ACTIVE" } else { "" });
        let out = self
            .client
            .query()
            .table_name(self.table())
            .index_name(BY_ACCOUNT_INDEX)
            .key_condition_expression("gsi1pk = :p AND begins_with(gsi1sk, :prefix)")
            .expression_attribute_values(":p", s(gsi1pk))
            .expression_attribute_values(":prefix", s(prefix))
            .set_exclusive_start_key(start)
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(ddb_error("Query"));
        let out = match out {
            Ok(out) => out,
            Err(e) if cursor.is_some() && e.has_code(codes::VALIDATION) => return Err(LookupError::BadCursor),
            Err(e) => return Err(e.into()),
        };
        Ok(Page {
            items: out.items().iter().filter_map(decode_agreement).collect(),
            next_cursor: out.last_evaluated_key().and_then(cursor::encode),
        })
    }
}

fn unprocessed(operation: &'static str, left: usize) -> AwsError {
    let message = format!("{left} requests still unprocessed after {} rounds of backoff", UNPROCESSED.retries);
    AwsError::service("DynamoDB", operation, "ProvisionedThroughputExceededException", &message, 400)
}
