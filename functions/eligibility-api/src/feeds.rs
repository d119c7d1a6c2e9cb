//! The data feeds' part of the answers: the `dataFeeds` source of the
//! account routes, the overall `eligibility` ([`decide`]), the seller's
//! products as the feeds list them ([`products_from_feeds`]), and the
//! subscriber report's bodies (JSON and CSV).
//!
//! `docs/data-feeds.md` ("Eligibility from the feeds") states the rules
//! these functions implement.

use psc_bridge::api::{
    AgreementBody, AgreementsSource, DataFeedsSource, Eligibility, FeedAgreementBody, FeedProductBody, PscSource,
    SubscriberBody, SubscriberStatus, SubscribersView, Verdict,
};
use psc_bridge::aws::AwsError;
use psc_bridge::domain::{ProductCode, Timestamp};
use psc_bridge::entitlement::SellerProducts;
use psc_bridge::feeds::{AccountFeeds, FeedAgreement, FeedProduct, FeedsDecision, SubscriberPage};
use time::Date;
use time::macros::format_description;

/// No data feeds (the tests' `Api::new`): the `dataFeeds` source is `notConfigured`.
pub use psc_bridge::feeds::NoFeeds;

/// Older than this, the feeds' `asOf` is `stale` (they are delivered daily).
pub const STALE_AFTER_SECONDS: i64 = 2 * 24 * 3600;

/// The seller's products as the feeds list them (those with a product code
/// and a `prod-` id), in the shape of `SellerProducts`.
pub fn products_from_feeds(products: &[FeedProduct]) -> SellerProducts {
    let mut entries: Vec<String> = Vec::new();
    let mut codes: Vec<&ProductCode> = Vec::new();
    for p in products {
        let Some(code) = &p.product_code else { continue };
        let entry = format!("{code}={}", p.product_id);
        // One code once; an id SellerProducts would refuse is left out.
        if codes.contains(&code) || SellerProducts::parse(&entry).is_err() {
            continue;
        }
        codes.push(code);
        entries.push(entry);
    }
    SellerProducts::parse(&entries.join(",")).unwrap_or_default()
}

fn date(d: Date) -> String {
    d.format(format_description!("[year]-[month]-[day]")).unwrap_or_default()
}

fn age(as_of: Option<Timestamp>, now: Timestamp) -> Option<i64> {
    as_of.map(|t| (now.unix_seconds() - t.unix_seconds()).max(0))
}

fn agreement_body(a: &FeedAgreement) -> FeedAgreementBody {
    FeedAgreementBody {
        agreement_id: a.agreement_id.clone(),
        status: a.status.clone(),
        since: a.start_time,
        until: a.end_time,
        acceptance_time: a.acceptance_time,
        offer_id: a.offer_id.clone(),
    }
}

fn the_product(code: Option<&ProductCode>, id: &str) -> String {
    match code {
        Some(c) => format!("product {c}"),
        None => format!("product {id}"),
    }
}

/// The `dataFeeds` source of an account (and product) lookup at `now`:
/// `found` is what [`psc_bridge::feeds::account_feeds`] read, or why not.
pub fn data_feeds_source(
    found: &Result<AccountFeeds, AwsError>,
    usage_within_days: Option<u32>,
    now: Timestamp,
) -> DataFeedsSource {
    let feeds = match found {
        Ok(feeds) => feeds,
        Err(_) => {
            return DataFeedsSource {
                verdict: Verdict::Unavailable,
                as_of: None,
                age_seconds: None,
                stale: true,
                usage_within_days,
                decided_by_usage_rule: false,
                message: Some("the data feeds could not be read now; the operators have the details".to_owned()),
                products: Vec::new(),
            };
        }
    };
    let age_seconds = age(feeds.as_of, now);
    let stale = age_seconds.is_none_or(|a| a > STALE_AFTER_SECONDS);
    let products: Vec<FeedProductBody> = feeds
        .products
        .iter()
        .map(|p| FeedProductBody {
            product_id: p.product_id.clone(),
            product_code: p.product_code.as_ref().map(|c| c.as_str().to_owned()),
            title: p.title.clone(),
            active: p.active(),
            agreements: p.agreements.iter().map(agreement_body).collect(),
            last_usage_date: p.last_usage_date.map(date),
        })
        .collect();
    let source = |verdict, decided_by_usage_rule, message: String| DataFeedsSource {
        verdict,
        as_of: feeds.as_of,
        age_seconds,
        stale,
        usage_within_days,
        decided_by_usage_rule,
        message: Some(message),
        products: products.clone(),
    };
    let as_of = feeds.as_of.map_or_else(|| "no delivery finished yet".to_owned(), |t| format!("as of {t}"));
    if feeds.as_of.is_none() && feeds.feed_accounts.is_empty() && feeds.products.is_empty() {
        return source(
            Verdict::NotConfigured,
            false,
            "no data-feed delivery has been applied: Seller Delivery Data Feeds are not set up, \
             or their first delivery is not ingested yet"
                .to_owned(),
        );
    }
    let today = now.datetime().date();
    let decisions: Vec<(&psc_bridge::feeds::ProductFeeds, FeedsDecision)> =
        feeds.products.iter().map(|p| (p, p.decide(usage_within_days, today))).collect();
    if let Some((p, _)) = decisions.iter().find(|(_, d)| *d == FeedsDecision::Eligible) {
        let used = match (usage_within_days, p.last_usage_date) {
            (Some(_), Some(d)) => format!(", used on {}", date(d)),
            _ => String::new(),
        };
        let what = the_product(p.product_code.as_ref(), &p.product_id);
        return source(Verdict::Eligible, false, format!("an ACTIVE agreement for {what}{used} ({as_of})"));
    }
    if let Some((p, FeedsDecision::NoRecentUsage { within_days, since })) =
        decisions.iter().find(|(_, d)| matches!(d, FeedsDecision::NoRecentUsage { .. }))
    {
        let what = the_product(p.product_code.as_ref(), &p.product_id);
        let last =
            p.last_usage_date.map_or_else(|| "no usage reported".to_owned(), |d| format!("last used {}", date(d)));
        return source(
            Verdict::NotEligible,
            true,
            format!(
                "an ACTIVE agreement for {what}, but no usage since {} ({last}): \
                 SupportRequiresUsageWithinDays is {within_days} ({as_of})",
                date(*since)
            ),
        );
    }
    let message = if feeds.products.is_empty() {
        format!("no agreement of this account in the data feeds ({as_of})")
    } else {
        format!("no ACTIVE agreement in the data feeds ({as_of})")
    };
    source(Verdict::NotEligible, false, message)
}

/// The answer of every source together, and the sentence that says which
/// decided (`docs/data-feeds.md`, "Eligibility from the feeds"):
///
/// 1. the usage rule: when it is set and the feeds found an `ACTIVE`
///    agreement with no usage in those days, `notEligible` whatever the
///    other sources say (they know the subscription, not the usage), unless
///    the Agreement API has an `ACTIVE` agreement for a product the feeds
///    do not show active (a subscription newer than the feeds);
/// 2. `eligible` when a source says eligible (live agreements first, then
///    the feeds, then the PSC contacts);
/// 3. `unconfirmed` when the live agreement check did not answer (not
///    configured, or unavailable): a subscription newer than the feeds'
///    `asOf` and the PSC watermark would not show yet;
/// 4. `notEligible` otherwise: the Agreement API answered, with no `ACTIVE`
///    agreement, and neither the feeds nor the contacts say otherwise.
pub fn decide(
    agreements: &AgreementsSource,
    live: &[AgreementBody],
    psc: &PscSource,
    feeds: &DataFeedsSource,
) -> (Eligibility, String) {
    // Every product the feeds show active failed the rule (else their
    // verdict would be eligible): a live ACTIVE agreement for another is new.
    let known = |id: &str| feeds.products.iter().any(|p| p.active && p.product_id == id);
    let live_new = live.iter().any(|a| a.active && !a.product_id.as_deref().is_some_and(known));
    if feeds.decided_by_usage_rule && feeds.verdict == Verdict::NotEligible && !live_new {
        let days = feeds.usage_within_days.unwrap_or_default();
        return (
            Eligibility::NotEligible,
            format!(
                "the data feeds show an ACTIVE agreement but no usage in the last {days} days, \
                 which the seller's usage rule (SupportRequiresUsageWithinDays) requires"
            ),
        );
    }
    if agreements.verdict == Verdict::Eligible {
        return (Eligibility::Eligible, "an ACTIVE agreement for the product (Agreement API)".to_owned());
    }
    if feeds.verdict == Verdict::Eligible {
        let as_of = feeds.as_of.map_or_else(String::new, |t| format!(" as of {t}"));
        let rule =
            feeds.usage_within_days.map_or_else(String::new, |days| format!(", with usage in the last {days} days"));
        return (Eligibility::Eligible, format!("an ACTIVE agreement in the data feeds{as_of}{rule}"));
    }
    if psc.verdict == Verdict::Eligible {
        return (Eligibility::Eligible, "a contact on file in the PSC data (Buyer contact sharing)".to_owned());
    }
    let live = match agreements.verdict {
        Verdict::NotConfigured => Some("is not configured for this product"),
        Verdict::Unavailable => Some("did not answer"),
        _ => None,
    };
    if let Some(why) = live {
        let since = match feeds.as_of {
            Some(t) if feeds.verdict == Verdict::NotEligible => format!("the data feeds' asOf ({t})"),
            _ => "the last data the bridge holds".to_owned(),
        };
        return (
            Eligibility::Unconfirmed,
            format!(
                "no source confirms a subscription, and the live agreement check {why}: \
                 a subscription newer than {since} would not show yet, so help in good faith"
            ),
        );
    }
    (
        Eligibility::NotEligible,
        "the Agreement API lists no ACTIVE agreement for the product, and neither the data feeds nor the PSC \
         contacts show one"
            .to_owned(),
    )
}

/// The report's JSON body.
pub fn subscribers_view(
    code: &ProductCode,
    status: SubscriberStatus,
    page: &SubscriberPage,
    now: Timestamp,
) -> SubscribersView {
    SubscribersView {
        product_code: code.as_str().to_owned(),
        product_id: page.product.as_ref().map(|p| p.product_id.clone()),
        title: page.product.as_ref().and_then(|p| p.title.clone()),
        status,
        as_of: page.as_of,
        age_seconds: age(page.as_of, now),
        subscribers: subscriber_bodies(code, page),
        next_cursor: page.next_cursor.clone(),
    }
}

fn subscriber_bodies(code: &ProductCode, page: &SubscriberPage) -> Vec<SubscriberBody> {
    let Some(product) = &page.product else { return Vec::new() };
    page.subscribers
        .iter()
        .map(|s| SubscriberBody {
            product_id: product.product_id.clone(),
            product_code: code.as_str().to_owned(),
            aws_account_id: s.aws_account_id.as_ref().map(|a| a.as_str().to_owned()),
            agreement_id: s.agreement.agreement_id.clone(),
            agreement_status: s.agreement.status.clone(),
            since: s.agreement.start_time,
            until: s.agreement.end_time,
            last_usage_date: s.last_usage_date.map(date),
        })
        .collect()
}

/// The CSV report's columns, in order.
pub const CSV_COLUMNS: [&str; 8] = [
    "product_id",
    "product_code",
    "aws_account_id",
    "agreement_id",
    "agreement_status",
    "since",
    "until",
    "last_usage_date",
];

/// The report as CSV: a first line `as_of,<the feeds' asOf>` (two cells, a
/// label and the time, empty before the first delivery), then the header
/// row ([`CSV_COLUMNS`]) and one row per subscriber.
pub fn subscribers_csv(view: &SubscribersView) -> Vec<u8> {
    // Flexible: the as_of line has two cells, the table eight.
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
    let t = |t: Option<Timestamp>| t.map(|t| t.to_iso()).unwrap_or_default();
    // Writing to a Vec cannot fail.
    let _ = w.write_record(["as_of", t(view.as_of).as_str()]);
    let _ = w.write_record(CSV_COLUMNS);
    for s in &view.subscribers {
        let _ = w.write_record([
            s.product_id.as_str(),
            s.product_code.as_str(),
            s.aws_account_id.as_deref().unwrap_or(""),
            s.agreement_id.as_str(),
            s.agreement_status.as_str(),
            &t(s.since),
            &t(s.until),
            s.last_usage_date.as_deref().unwrap_or(""),
        ]);
    }
    w.into_inner().unwrap_or_default()
}

/// `subscribers-<code>-<asOf date>.csv` (`subscribers-<code>.csv` before
/// the first delivery).
pub fn csv_filename(view: &SubscribersView) -> String {
    match view.as_of {
        Some(t) => format!("subscribers-{}-{}.csv", view.product_code, date(t.datetime().date())),
        None => format!("subscribers-{}.csv", view.product_code),
    }
}
