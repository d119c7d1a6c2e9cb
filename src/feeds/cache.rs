//! The feeds' reference data, kept in a warm function for a short while.
//!
//! A lookup joins an account's agreements to their offers' products and the
//! products' codes, and gives the feeds' `asOf` (`super::lookup`). Those
//! change once a day, when a delivery is applied, yet without a cache they
//! are read on every lookup: three to four of its DynamoDB requests.
//! [`CachedReference`] keeps them for [`REFERENCE_TTL`], like the freshness
//! state the lookups give; what is per account (the bridge, the agreements,
//! the usage) is always read. A failed read is not kept, nor is an empty
//! answer (no delivery applied yet, an offer not listed yet): the first
//! delivery, and a new offer, show at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use time::Date;

use super::lookup::{AccountPage, FeedAgreement, FeedProduct};
use super::values::FeedAccountId;
use crate::aws::AwsError;
use crate::domain::{AwsAccountId, Timestamp};
use crate::model::Page;
use crate::ports::{FeedLookup, LookupError};

/// How long reference data is kept: a new delivery's products and offers,
/// and its `asOf`, show within a minute of the run that applied them.
pub const REFERENCE_TTL: Duration = Duration::from_secs(60);

/// Offers whose products are kept at most (a seller with more private
/// offers than this reads the rest on each lookup).
const MAX_OFFERS: usize = 10_000;

/// A value read at a time.
type Kept<T> = Mutex<Option<(Instant, T)>>;

/// A [`FeedLookup`] that keeps the reference data (the feeds' `asOf`, the
/// products, each offer's products) for a time.
#[derive(Debug)]
pub struct CachedReference<L> {
    inner: L,
    ttl: Duration,
    as_of: Kept<Option<Timestamp>>,
    products: Kept<Vec<FeedProduct>>,
    offers: Mutex<HashMap<String, (Instant, Vec<String>)>>,
}

impl<L> CachedReference<L> {
    pub fn new(inner: L, ttl: Duration) -> Self {
        Self { inner, ttl, as_of: Mutex::new(None), products: Mutex::new(None), offers: Mutex::new(HashMap::new()) }
    }

    pub fn inner(&self) -> &L {
        &self.inner
    }

    fn fresh<T: Clone>(&self, kept: &Kept<T>) -> Option<T> {
        let kept = kept.lock().ok()?;
        let (at, value) = kept.as_ref()?;
        (at.elapsed() < self.ttl).then(|| value.clone())
    }

    fn keep<T>(&self, kept: &Kept<T>, value: T) {
        if let Ok(mut kept) = kept.lock() {
            *kept = Some((Instant::now(), value));
        }
    }
}

impl<L: FeedLookup> FeedLookup for CachedReference<L> {
    async fn feeds_as_of(&self) -> Result<Option<Timestamp>, AwsError> {
        if let Some(as_of) = self.fresh(&self.as_of) {
            return Ok(as_of);
        }
        let as_of = self.inner.feeds_as_of().await?;
        if as_of.is_some() {
            self.keep(&self.as_of, as_of);
        }
        Ok(as_of)
    }

    async fn feed_products(&self) -> Result<Vec<FeedProduct>, AwsError> {
        if let Some(products) = self.fresh(&self.products) {
            return Ok(products);
        }
        let products = self.inner.feed_products().await?;
        if !products.is_empty() {
            self.keep(&self.products, products.clone());
        }
        Ok(products)
    }

    async fn offer_products(&self, offer_id: &str) -> Result<Vec<String>, AwsError> {
        if let Ok(offers) = self.offers.lock()
            && let Some((at, products)) = offers.get(offer_id)
            && at.elapsed() < self.ttl
        {
            return Ok(products.clone());
        }
        let products = self.inner.offer_products(offer_id).await?;
        if let Ok(mut offers) = self.offers.lock()
            && !products.is_empty()
        {
            if offers.len() >= MAX_OFFERS {
                offers.retain(|_, (at, _)| at.elapsed() < self.ttl);
            }
            if offers.len() < MAX_OFFERS {
                offers.insert(offer_id.to_owned(), (Instant::now(), products.clone()));
            }
        }
        Ok(products)
    }

    async fn feed_accounts(&self, account: &AwsAccountId) -> Result<Vec<FeedAccountId>, AwsError> {
        self.inner.feed_accounts(account).await
    }

    async fn aws_account_ids(&self, ids: &[FeedAccountId]) -> Result<BTreeMap<FeedAccountId, AwsAccountId>, AwsError> {
        self.inner.aws_account_ids(ids).await
    }

    async fn account_page(
        &self,
        account: &FeedAccountId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<AccountPage, AwsError> {
        self.inner.account_page(account, after, limit).await
    }

    async fn last_usage(&self, account: &FeedAccountId, product_id: &str) -> Result<Option<Date>, AwsError> {
        self.inner.last_usage(account, product_id).await
    }

    async fn product_offers(&self, product_id: &str) -> Result<Vec<String>, AwsError> {
        self.inner.product_offers(product_id).await
    }

    async fn offer_agreements(
        &self,
        offer_id: &str,
        active_only: bool,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<FeedAgreement>, LookupError> {
        self.inner.offer_agreements(offer_id, active_only, cursor, limit).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::feeds::NoFeeds;

    /// Counts the reads that reach the table; fails them while `down`.
    #[derive(Default)]
    struct Counted {
        reads: AtomicUsize,
        down: std::sync::atomic::AtomicBool,
    }

    impl Counted {
        fn read(&self) -> Result<(), AwsError> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            if self.down.load(Ordering::Relaxed) {
                Err(AwsError::service("DynamoDB", "Query", "InternalServerError", "down", 500))
            } else {
                Ok(())
            }
        }
    }

    impl FeedLookup for Counted {
        async fn feeds_as_of(&self) -> Result<Option<Timestamp>, AwsError> {
            self.read()?;
            Ok(Some(Timestamp::parse("2026-12-01T00:00:00Z").unwrap()))
        }
        async fn feed_products(&self) -> Result<Vec<FeedProduct>, AwsError> {
            self.read()?;
            Ok(vec![FeedProduct { product_id: "prod-1".into(), product_code: None, title: None }])
        }
        async fn offer_products(&self, offer_id: &str) -> Result<Vec<String>, AwsError> {
            self.read()?;
            Ok(vec![format!("product of {offer_id}")])
        }
        async fn feed_accounts(&self, a: &AwsAccountId) -> Result<Vec<FeedAccountId>, AwsError> {
            self.read()?;
            NoFeeds.feed_accounts(a).await
        }
        async fn aws_account_ids(
            &self,
            ids: &[FeedAccountId],
        ) -> Result<BTreeMap<FeedAccountId, AwsAccountId>, AwsError> {
            NoFeeds.aws_account_ids(ids).await
        }
        async fn account_page(
            &self,
            a: &FeedAccountId,
            after: Option<&str>,
            n: usize,
        ) -> Result<AccountPage, AwsError> {
            self.read()?;
            NoFeeds.account_page(a, after, n).await
        }
        async fn last_usage(&self, a: &FeedAccountId, p: &str) -> Result<Option<Date>, AwsError> {
            NoFeeds.last_usage(a, p).await
        }
        async fn product_offers(&self, p: &str) -> Result<Vec<String>, AwsError> {
            NoFeeds.product_offers(p).await
        }
        async fn offer_agreements(
            &self,
            o: &str,
            active_only: bool,
            cursor: Option<&str>,
            limit: usize,
        ) -> Result<Page<FeedAgreement>, LookupError> {
            NoFeeds.offer_agreements(o, active_only, cursor, limit).await
        }
    }

    fn reads(c: &CachedReference<Counted>) -> usize {
        c.inner().reads.load(Ordering::Relaxed)
    }

    #[tokio::test]
    async fn reference_data_is_read_once_within_the_ttl_and_account_data_every_time() {
        let c = CachedReference::new(Counted::default(), Duration::from_secs(60));
        let account = AwsAccountId::parse("123456789012").unwrap();
        for _ in 0..3 {
            assert!(c.feeds_as_of().await.unwrap().is_some());
            assert_eq!(c.feed_products().await.unwrap().len(), 1);
            assert_eq!(c.offer_products("offer-a").await.unwrap(), ["product of offer-a"]);
            c.feed_accounts(&account).await.unwrap();
            c.account_page(&FeedAccountId::new("fa-1"), None, 10).await.unwrap();
        }
        // Three reference reads once, then two account reads per lookup.
        assert_eq!(reads(&c), 3 + 3 * 2);
        assert_eq!(c.offer_products("offer-b").await.unwrap(), ["product of offer-b"]);
        assert_eq!(reads(&c), 3 + 3 * 2 + 1, "another offer is read");
    }

    #[tokio::test]
    async fn nothing_applied_yet_is_not_kept_so_the_first_delivery_shows_at_once() {
        let c = CachedReference::new(NoFeeds, Duration::from_secs(60));
        assert_eq!(c.feeds_as_of().await.unwrap(), None);
        assert!(c.feed_products().await.unwrap().is_empty());
        assert!(c.offer_products("offer-a").await.unwrap().is_empty());
        assert!(c.as_of.lock().unwrap().is_none() && c.products.lock().unwrap().is_none());
        assert!(c.offers.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_expired_value_is_read_again_and_a_failed_read_is_not_kept() {
        let c = CachedReference::new(Counted::default(), Duration::ZERO);
        c.feed_products().await.unwrap();
        c.feed_products().await.unwrap();
        assert_eq!(reads(&c), 2, "a zero ttl keeps nothing");

        let c = CachedReference::new(Counted::default(), Duration::from_secs(60));
        c.inner().down.store(true, Ordering::Relaxed);
        assert!(c.feeds_as_of().await.is_err());
        assert!(c.offer_products("offer-a").await.is_err());
        c.inner().down.store(false, Ordering::Relaxed);
        assert!(c.feeds_as_of().await.unwrap().is_some(), "the failure was not kept");
        assert_eq!(c.offer_products("offer-a").await.unwrap(), ["product of offer-a"]);
        assert_eq!(reads(&c), 4);
    }
}
