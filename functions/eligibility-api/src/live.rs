//! The live checks beside the PSC contacts: the buyer's purchase agreements
//! (Agreement API) and the instance check (EC2), for the seller's products.
//!
//! * [`LiveChecks`]: the seller's products, the two ports, the agreement
//!   timeout and the agreement cache.
//! * [`AgreementsLookup`]: what the agreement source said, or why it said
//!   nothing (not configured, unavailable). An unavailable Agreement API
//!   never fails a lookup: the answer says so and carries the PSC part.
//!
//! The agreement cache is in memory, per function instance: a warm function
//! reuses an account's agreements for [`DEFAULT_AGREEMENTS_CACHE_TTL`], so an
//! agent's repeated lookups do not call the Agreement API every time. Only
//! answers are cached, never a failure. It holds at most
//! [`AGREEMENTS_CACHE_CAPACITY`] accounts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use psc_bridge::aws::{AwsError, Failure as AwsFailure};
use psc_bridge::domain::{AwsAccountId, ProductCode, Timestamp};
use psc_bridge::entitlement::{Agreement, InstanceCheck, InstanceId, Region, SellerProducts};
use psc_bridge::ports::{AgreementSource, InstanceConfirmer};

/// How long the API waits for the Agreement API before answering without it.
pub const DEFAULT_AGREEMENTS_TIMEOUT: Duration = Duration::from_millis(1500);
/// How long a warm function reuses an account's agreements.
pub const DEFAULT_AGREEMENTS_CACHE_TTL: Duration = Duration::from_secs(300);
/// Accounts the agreement cache holds at most.
pub const AGREEMENTS_CACHE_CAPACITY: usize = 1024;

/// The ports of a function with no live checks configured: never called,
/// since no product is configured to check.
#[derive(Debug, Default, Clone, Copy)]
pub struct NotConfigured;

impl InstanceConfirmer for NotConfigured {
    async fn confirm_product_instance(
        &self,
        _: &Region,
        _: &InstanceId,
        _: &ProductCode,
    ) -> Result<InstanceCheck, AwsError> {
        Err(AwsError::service("EC2", "ConfirmProductInstance", "NotConfigured", "no seller products", 400))
    }
}

impl AgreementSource for NotConfigured {
    async fn purchase_agreements(&self, _: &AwsAccountId) -> Result<Vec<Agreement>, AwsError> {
        Err(AwsError::service("MarketplaceAgreement", "SearchAgreements", "NotConfigured", "no seller products", 400))
    }
}

/// Why the agreements are missing from an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// No answer within the timeout.
    Timeout,
    /// The API throttled us.
    Throttled,
    /// Any other failure (5xx, unreachable, access denied).
    Failed,
}

impl Unavailable {
    pub fn message(&self) -> &'static str {
        match self {
            Self::Timeout => "the AWS Marketplace Agreement API did not answer in time; retry in a moment",
            Self::Throttled => "the AWS Marketplace Agreement API is throttling requests; retry in a moment",
            Self::Failed => "the AWS Marketplace Agreement API could not be reached; the operators have the details",
        }
    }
}

/// What the agreement source gave for one lookup.
#[derive(Debug, Clone)]
pub enum AgreementsLookup {
    /// No seller product configured (or not this product): not asked.
    NotConfigured,
    Unavailable(Unavailable),
    /// The account's agreements for the products asked about, as of `as_of`.
    Found {
        agreements: Vec<Agreement>,
        as_of: Timestamp,
        cached: bool,
    },
}

impl AgreementsLookup {
    /// True when an ACTIVE agreement is among them.
    pub fn has_active(&self) -> bool {
        matches!(self, Self::Found { agreements, .. } if agreements.iter().any(Agreement::is_active))
    }
}

struct Cached {
    at: Instant,
    as_of: Timestamp,
    agreements: Arc<Vec<Agreement>>,
}

/// The live checks and their cache.
pub struct LiveChecks<E, G> {
    /// `SellerProducts`; when empty, the API uses the products the data
    /// feeds list instead (if `products_from_feeds`).
    pub products: SellerProducts,
    /// False for [`LiveChecks::off`], whose ports are never to be called.
    pub products_from_feeds: bool,
    pub instances: E,
    pub agreements: G,
    pub agreements_timeout: Duration,
    pub cache_ttl: Duration,
    cache: Mutex<HashMap<AwsAccountId, Cached>>,
}

impl LiveChecks<NotConfigured, NotConfigured> {
    pub fn off() -> Self {
        Self { products_from_feeds: false, ..Self::new(SellerProducts::default(), NotConfigured, NotConfigured) }
    }
}

impl<E: InstanceConfirmer, G: AgreementSource> LiveChecks<E, G> {
    pub fn new(products: SellerProducts, instances: E, agreements: G) -> Self {
        Self {
            products,
            products_from_feeds: true,
            instances,
            agreements,
            agreements_timeout: DEFAULT_AGREEMENTS_TIMEOUT,
            cache_ttl: DEFAULT_AGREEMENTS_CACHE_TTL,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_agreements_timeout(mut self, timeout: Duration) -> Self {
        self.agreements_timeout = timeout;
        self
    }

    /// Zero turns the cache off.
    pub fn with_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// The account's agreements for `product` (or for every one of
    /// `products`, the seller's), from the cache or the source, within the
    /// timeout. The error, when there is one, is for the log: the answer
    /// only says "unavailable".
    pub async fn agreements(
        &self,
        products: &SellerProducts,
        account: &AwsAccountId,
        product: Option<&ProductCode>,
        now: Timestamp,
    ) -> (AgreementsLookup, Option<AwsError>) {
        if products.is_empty() {
            return (AgreementsLookup::NotConfigured, None);
        }
        let wanted: Vec<&str> = match product {
            Some(code) => match products.by_code(code) {
                Some(p) => vec![p.product_id.as_str()],
                None => return (AgreementsLookup::NotConfigured, None),
            },
            None => products.iter().map(|p| p.product_id.as_str()).collect(),
        };
        let (all, as_of, cached) = match self.cached(account) {
            Some((as_of, all)) => (all, as_of, true),
            None => match tokio::time::timeout(self.agreements_timeout, self.agreements.purchase_agreements(account))
                .await
            {
                Err(_) => return (AgreementsLookup::Unavailable(Unavailable::Timeout), None),
                Ok(Err(e)) => {
                    // The SDK's own operation timeout may fire first: the same timeout.
                    let why = if e.is_throttling() {
                        Unavailable::Throttled
                    } else if e.failure == AwsFailure::Timeout {
                        Unavailable::Timeout
                    } else {
                        Unavailable::Failed
                    };
                    return (AgreementsLookup::Unavailable(why), Some(e));
                }
                Ok(Ok(found)) => (self.remember(account, now, found), now, false),
            },
        };
        let agreements =
            all.iter().filter(|a| a.product_id.as_deref().is_some_and(|id| wanted.contains(&id))).cloned().collect();
        (AgreementsLookup::Found { agreements, as_of, cached }, None)
    }

    fn cached(&self, account: &AwsAccountId) -> Option<(Timestamp, Arc<Vec<Agreement>>)> {
        let cache = self.cache.lock().ok()?;
        let hit = cache.get(account)?;
        (hit.at.elapsed() < self.cache_ttl).then(|| (hit.as_of, hit.agreements.clone()))
    }

    fn remember(&self, account: &AwsAccountId, as_of: Timestamp, found: Vec<Agreement>) -> Arc<Vec<Agreement>> {
        let found = Arc::new(found);
        if self.cache_ttl.is_zero() {
            return found;
        }
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= AGREEMENTS_CACHE_CAPACITY {
                let ttl = self.cache_ttl;
                cache.retain(|_, c| c.at.elapsed() < ttl);
                if cache.len() >= AGREEMENTS_CACHE_CAPACITY
                    && let Some(oldest) = cache.iter().min_by_key(|(_, c)| c.at).map(|(k, _)| k.clone())
                {
                    cache.remove(&oldest);
                }
            }
            cache.insert(account.clone(), Cached { at: Instant::now(), as_of, agreements: found.clone() });
        }
        found
    }
}
