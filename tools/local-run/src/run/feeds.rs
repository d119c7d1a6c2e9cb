//! The local run's data-feeds step: aws-standin delivers two days of the
//! Seller Delivery Data Feeds to the feeds bucket, each notification invokes
//! ingest-feeds, and the subscriber report and an account lookup with every
//! source show the result.

use anyhow::{Result, bail};
use psc_bridge::api::{AccountView, Eligibility, InstanceView, SubscribersView, Verdict};
use serde_json::Value;

use super::{FEEDS_BUCKET, QUERY_TIMEOUT, Session, answers, say, ui};
use crate::http::preview;

/// The stand-in's buyer whose agreement for [`answers::EXAMPLE_PRODUCT`] is
/// cancelled "the next day" (no PSC contact).
const CANCELLED_ACCOUNT: &str = "777788889999";

impl Session {
    /// Step 8: two days of data feeds, then the report and the lookup.
    pub(super) async fn data_feeds(&mut self) -> Result<bool> {
        say(format!(
            "[8/8] the data feeds: aws-standin writes the first day (the backfill in year=2010/month=01, and \
             yesterday) to s3://{FEEDS_BUCKET}, and each feed's notification invokes ingest-feeds"
        ));
        self.deliver_feeds().await?;
        say("the next day: a new subscriber, a cancellation, more usage, a soft-deleted usage row");
        let next = self.deliver_feeds().await?;
        let today = next["dataDate"].as_str().unwrap_or_default().to_owned();

        let mut failures = Vec::new();
        self.show_report(&mut failures).await;
        self.show_lookup(&today, &mut failures).await;
        if failures.is_empty() {
            say(format!(
                "checks: {} used {} on {today} and is eligible by the feeds too; {CANCELLED_ACCOUNT}'s cancellation \
                 leaves it out of the active report: OK",
                answers::EXAMPLE_ACCOUNT,
                answers::EXAMPLE_PRODUCT
            ));
            Ok(true)
        } else {
            for f in &failures {
                ui::error(format!("check failed: {f}"));
            }
            Ok(false)
        }
    }

    /// The subscriber report of the example product, printed as CSV; its
    /// active subscribers checked.
    async fn show_report(&self, failures: &mut Vec<String>) {
        let base = self.api_base();
        let report = format!("{base}/products/{}/subscribers?status=all&format=csv", answers::EXAMPLE_PRODUCT);
        ui::print(format!(
            "\n# the daily subscription report of {}, every status\n$ curl -s '{report}'",
            answers::EXAMPLE_PRODUCT
        ));
        match self.http.get(&report, QUERY_TIMEOUT).await {
            Ok(a) if a.status == 200 => ui::print(a.body.trim_end()),
            Ok(a) => failures.push(format!("GET the report as CSV: HTTP {}: {}", a.status, preview(&a.body))),
            Err(e) => failures.push(format!("GET the report as CSV: {e:#}")),
        }
        let active = format!("{base}/products/{}/subscribers", answers::EXAMPLE_PRODUCT);
        match self.get_as::<SubscribersView>(&active).await {
            Ok(v) => {
                let accounts: Vec<_> = v.subscribers.iter().filter_map(|s| s.aws_account_id.as_deref()).collect();
                if accounts != [answers::EXAMPLE_ACCOUNT] {
                    failures.push(format!(
                        "the active subscribers of {} are {accounts:?}, expected [{}] ({CANCELLED_ACCOUNT} cancelled)",
                        answers::EXAMPLE_PRODUCT,
                        answers::EXAMPLE_ACCOUNT
                    ));
                }
            }
            Err(e) => failures.push(e),
        }
    }

    /// The example account with every source (and its instance's check),
    /// printed; the feeds' verdict and last usage checked.
    async fn show_lookup(&self, today: &str, failures: &mut Vec<String>) {
        let base = self.api_base();
        let lookup = format!("{base}/accounts/{}", answers::EXAMPLE_ACCOUNT);
        ui::print(format!(
            "\n# account {} with every source: the live Agreement API, PSC contacts and the data feeds\n$ curl -s '{lookup}'",
            answers::EXAMPLE_ACCOUNT
        ));
        match self.get_as::<AccountView>(&lookup).await {
            Ok(v) => {
                let s = &v.sources;
                ui::print(format!(
                    "eligibility: {} ({})\n  agreements (live): {:?}\n  pscContacts: {:?}\n  dataFeeds: {:?}, asOf {}",
                    v.eligibility.as_str(),
                    v.eligibility_reason,
                    s.agreements.verdict,
                    s.psc_contacts.verdict,
                    s.data_feeds.verdict,
                    s.data_feeds.as_of.map(|t| t.to_iso()).unwrap_or_default(),
                ));
                for p in &s.data_feeds.products {
                    ui::print(format!(
                        "  {} {}: {} agreement(s), {}, last used {}",
                        p.product_code.as_deref().unwrap_or("-"),
                        p.title.as_deref().unwrap_or(""),
                        p.agreements.len(),
                        if p.active { "active" } else { "not active" },
                        p.last_usage_date.as_deref().unwrap_or("never"),
                    ));
                }
                let used = s.data_feeds.products.iter().any(|p| p.last_usage_date.as_deref() == Some(today));
                if v.eligibility != Eligibility::Eligible || s.data_feeds.verdict != Verdict::Eligible || !used {
                    failures.push(format!(
                        "account {}: eligibility {}, dataFeeds {:?}, expected eligible with usage on {today}",
                        answers::EXAMPLE_ACCOUNT,
                        v.eligibility.as_str(),
                        s.data_feeds.verdict
                    ));
                }
            }
            Err(e) => failures.push(e),
        }
        let instance = format!(
            "{base}/accounts/{}/instances/{}?productCode={}",
            answers::EXAMPLE_ACCOUNT,
            answers::EXAMPLE_INSTANCE,
            answers::EXAMPLE_PRODUCT
        );
        match self.get_as::<InstanceView>(&instance).await {
            Ok(v) => ui::print(format!(
                "  instance (EC2, live): {:?}: {}",
                v.sources.instance.verdict, v.sources.instance.message
            )),
            Err(e) => failures.push(e),
        }
    }

    /// One day of the feeds, through the stand-in's admin call; fails
    /// when a notification could not be delivered to ingest-feeds.
    async fn deliver_feeds(&self) -> Result<Value> {
        let url = format!("{}/_admin/feeds/deliver", self.cas_url());
        ui::print(format!("$ curl -s -XPOST '{url}'"));
        let answer = self.http.post_json(&url, &Value::Null, super::INVOKE_TIMEOUT).await?;
        if answer.status != 200 {
            bail!("aws-standin's POST {url} answered HTTP {}: {}", answer.status, preview(&answer.body));
        }
        let v = answer.json()?;
        for o in v["objects"].as_array().into_iter().flatten() {
            ui::print(format!(
                "  s3://{FEEDS_BUCKET}/{} ({} rows, {} bytes)",
                o["key"].as_str().unwrap_or(""),
                o["rows"],
                o["bytes"]
            ));
        }
        for (n, status) in
            v["notifications"].as_array().into_iter().flatten().zip(v["statuses"].as_array().into_iter().flatten())
        {
            let feed = n["feedType"].as_str().unwrap_or("?");
            match status["state"].as_str() {
                Some("delivered") => {
                    let detail = status["detail"].as_str().unwrap_or_default();
                    let run: Value =
                        detail.split_once(": ").and_then(|(_, b)| serde_json::from_str(b).ok()).unwrap_or_default();
                    ui::print(format!(
                        "  {feed} {}: ingest-feeds {} (rows {}, items written {}, bytes read {})",
                        n["executionStatus"].as_str().unwrap_or(""),
                        run["status"].as_str().unwrap_or("?"),
                        run["rows"],
                        run["itemsWritten"],
                        run["bytesRead"]
                    ));
                }
                _ => bail!("the {feed} notification was not delivered to ingest-feeds: {status}"),
            }
        }
        Ok(v)
    }

    async fn get_as<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let a = self.http.get(url, QUERY_TIMEOUT).await.map_err(|e| format!("GET {url}: {e:#}"))?;
        if a.status != 200 {
            return Err(format!("GET {url}: HTTP {}: {}", a.status, preview(&a.body)));
        }
        serde_json::from_str(&a.body).map_err(|e| format!("GET {url}: the answer does not fit the contract: {e}"))
    }
}
