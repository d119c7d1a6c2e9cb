//! What a person reads: the API's answers as short headlines and tables
//! (comfy-table). `--json` bypasses all of this.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use psc_bridge::api::{
    AccountProductView, AccountView, AgreementBody, ContactBody, ContactView, ContactsView, Eligibility, ErrorBody,
    FeedProductBody, Freshness, InstanceView, Sources, SubscriberStatus, SubscribersView, SubscriptionView, SyncView,
    Verdict,
};
use serde_json::Value;

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// An optional member: its text, or `-`.
fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map_or_else(|| "-".to_owned(), T::to_string)
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic).set_header(header);
    t
}

fn verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Eligible => "eligible",
        Verdict::NotEligible => "not eligible",
        Verdict::Unavailable => "UNAVAILABLE",
        Verdict::NotConfigured => "not configured",
    }
}

const STALE: &str = "STALE: older than one business day";

/// How fresh the PSC data is, flagged beyond one business day.
pub fn freshness(f: &Freshness) -> String {
    let Some(w) = f.watermark else {
        return "PSC data: no export applied yet (STALE)".to_owned();
    };
    let hours = f.business_age_seconds.unwrap_or(0) as f64 / 3600.0;
    let flag = if f.stale_beyond_one_business_day { STALE } else { "within one business day" };
    format!("PSC data as of {w} ({hours:.1} business hours old, {flag})")
}

/// An age in seconds as a person reads it: `45 s`, `12 min`, `15.5 h`, `3.2 days`.
fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..172_800 => format!("{:.1} h", s as f64 / 3600.0),
        _ => format!("{:.1} days", s as f64 / 86_400.0),
    }
}

const FEEDS_STALE: &str = "STALE: older than two days";

/// The sources of an account lookup: the agreements, the PSC contacts, then
/// the data feeds.
fn sources(src: &Sources) -> Table {
    let mut t = table(&["source", "verdict", "as of", "note"]);
    let a = &src.agreements;
    let note = match a.cached {
        true => format!("cached, {} s old", a.age_seconds.unwrap_or(0)),
        false => opt(&a.message),
    };
    t.add_row(["agreements".to_owned(), verdict(a.verdict).to_owned(), opt(&a.as_of), note]);
    let p = &src.psc_contacts;
    let note = if p.stale_beyond_one_business_day { STALE } else { "-" };
    t.add_row(["PSC contacts".to_owned(), verdict(p.verdict).to_owned(), opt(&p.as_of), note.to_owned()]);
    let f = &src.data_feeds;
    let mut note = Vec::new();
    match (f.as_of, f.age_seconds) {
        (None, _) => note.push("no delivery applied yet".to_owned()),
        (Some(_), Some(a)) => note.push(format!("{} old", age(a))),
        (Some(_), None) => {}
    }
    if f.stale {
        note.push(FEEDS_STALE.to_owned());
    }
    if f.decided_by_usage_rule {
        let days = f.usage_within_days.map_or_else(String::new, |d| format!(" in {d} days"));
        note.push(format!("decided by the usage rule (no usage{days})"));
    }
    note.extend(f.message.clone());
    t.add_row(["data feeds".to_owned(), verdict(f.verdict).to_owned(), opt(&f.as_of), note.join("; ")]);
    t
}

fn headline(eligible: bool, subject: &str) -> String {
    format!("{subject}: {}", if eligible { "ELIGIBLE" } else { "NOT ELIGIBLE" })
}

/// The overall eligibility, then why.
fn eligibility_headline(e: Eligibility, reason: &str, subject: &str) -> String {
    let word = match e {
        Eligibility::Eligible => "ELIGIBLE",
        Eligibility::NotEligible => "NOT ELIGIBLE",
        Eligibility::Unconfirmed => "UNCONFIRMED (help in good faith)",
    };
    match reason.trim() {
        "" => format!("{subject}: {word}"),
        why => format!("{subject}: {word}\nWhy: {why}"),
    }
}

/// The account's subscriptions as the data feeds report them: one row per
/// agreement (a product without one: a row of its own).
fn feed_products_table(products: &[FeedProductBody]) -> Table {
    let mut t = table(&["product", "title", "agreement", "status", "since", "until", "last usage"]);
    for p in products {
        let product = p.product_code.clone().unwrap_or_else(|| p.product_id.clone());
        let title = opt(&p.title);
        let usage = opt(&p.last_usage_date);
        if p.agreements.is_empty() {
            t.add_row([product, title, "-".into(), "-".into(), "-".into(), "-".into(), usage]);
            continue;
        }
        for a in &p.agreements {
            t.add_row([
                product.clone(),
                title.clone(),
                a.agreement_id.clone(),
                a.status.clone(),
                opt(&a.since),
                opt(&a.until),
                usage.clone(),
            ]);
        }
    }
    t
}

fn contacts_table(contacts: &[ContactBody]) -> Table {
    let mut t = table(&["name", "email", "phone", "organization", "account", "product", "customer guid"]);
    for c in contacts {
        t.add_row([
            format!("{} {}", c.given_name, c.surname),
            c.email.clone(),
            c.telephone_number.clone(),
            c.organization.clone(),
            c.aws_account_id.clone(),
            c.product_code.clone(),
            c.customer_guid.clone(),
        ]);
    }
    t
}

/// What the two account lookups have in common.
struct AccountAnswer<'a> {
    eligibility: Eligibility,
    reason: &'a str,
    sources: &'a Sources,
    agreements: &'a [AgreementBody],
    subscriptions: &'a [SubscriptionView],
    contacts: &'a [ContactBody],
    next_cursor: Option<&'a str>,
    freshness: &'a Freshness,
}

impl AccountAnswer<'_> {
    fn render(&self, subject: &str) -> String {
        let mut out =
            vec![eligibility_headline(self.eligibility, self.reason, subject), sources(self.sources).to_string()];
        if !self.agreements.is_empty() {
            let mut t = table(&["agreement", "status", "product", "offer", "start", "end"]);
            for a in self.agreements {
                t.add_row([
                    a.agreement_id.clone(),
                    a.status.clone(),
                    a.product_code.clone().unwrap_or_else(|| opt(&a.product_id)),
                    opt(&a.offer_id),
                    opt(&a.start_time),
                    opt(&a.end_time),
                ]);
            }
            out.push(format!("Agreements\n{t}"));
        }
        let feeds = &self.sources.data_feeds.products;
        if !feeds.is_empty() {
            out.push(format!("Subscriptions (data feeds)\n{}", feed_products_table(feeds)));
        }
        if !self.subscriptions.is_empty() {
            let mut t = table(&["product", "subscription", "since", "contacts"]);
            for sub in self.subscriptions {
                t.add_row([
                    sub.product_code.clone(),
                    sub.subscription_guid.clone(),
                    sub.subscription_start_date.to_string(),
                    sub.contact_count.to_string(),
                ]);
            }
            out.push(format!("Subscriptions (PSC)\n{t}"));
        }
        if self.contacts.is_empty() {
            out.push("No PSC contact on record.".to_owned());
        } else {
            out.push(format!("Contacts\n{}", contacts_table(self.contacts)));
        }
        if self.next_cursor.is_some() {
            out.push("More contacts follow: use --json and the API's cursor for the rest.".to_owned());
        }
        out.push(freshness(self.freshness));
        out.join("\n\n")
    }
}

/// `GET /accounts/{id}`.
pub fn account(v: &AccountView) -> String {
    AccountAnswer {
        eligibility: v.eligibility,
        reason: &v.eligibility_reason,
        sources: &v.sources,
        agreements: &v.agreements,
        subscriptions: &v.subscriptions,
        contacts: &v.contacts,
        next_cursor: v.next_cursor.as_deref(),
        freshness: &v.freshness,
    }
    .render(&format!("Account {}", v.aws_account_id))
}

/// `GET /accounts/{id}/products/{code}`.
pub fn account_product(v: &AccountProductView) -> String {
    AccountAnswer {
        eligibility: v.eligibility,
        reason: &v.eligibility_reason,
        sources: &v.sources,
        agreements: &v.agreements,
        subscriptions: &v.subscriptions,
        contacts: &v.contacts,
        next_cursor: v.next_cursor.as_deref(),
        freshness: &v.freshness,
    }
    .render(&format!("Account {} on product {}", v.aws_account_id, v.product_code))
}

/// The data feeds' `asOf` line of the subscriber report, flagged beyond two
/// days (as the account lookup's `dataFeeds.stale`).
pub fn feeds_as_of(v: &SubscribersView) -> String {
    match (v.as_of, v.age_seconds) {
        (None, _) => format!("Data feeds: no delivery applied yet ({FEEDS_STALE})"),
        (Some(at), Some(a)) => {
            let flag = if a > 2 * 86_400 { FEEDS_STALE } else { "within two days" };
            format!("Data feeds as of {at} ({} old, {flag})", age(a))
        }
        (Some(at), None) => format!("Data feeds as of {at}"),
    }
}

/// `GET /products/{code}/subscribers`, every page together: the `asOf`
/// first, then one row per agreement.
pub fn subscribers(v: &SubscribersView) -> String {
    let product = match (&v.title, &v.product_id) {
        (Some(title), Some(id)) => format!("Product {} ({title}, {id})", v.product_code),
        (None, Some(id)) => format!("Product {} ({id})", v.product_code),
        _ => format!("Product {}", v.product_code),
    };
    let n = v.subscribers.len();
    let which = match v.status {
        SubscriberStatus::Active => "with an ACTIVE agreement",
        SubscriberStatus::All => "with an agreement, whatever its status",
    };
    let count = match n {
        0 => format!("no subscriber {which}"),
        1 => format!("1 subscriber {which}"),
        n => format!("{n} subscribers {which}"),
    };
    let mut out = vec![feeds_as_of(v), format!("{product}: {count}")];
    if n > 0 {
        let mut t = table(&["account", "agreement", "status", "since", "until", "last usage"]);
        for s in &v.subscribers {
            t.add_row([
                s.aws_account_id.clone().unwrap_or_else(|| "(not in the Account feed yet)".to_owned()),
                s.agreement_id.clone(),
                s.agreement_status.clone(),
                opt(&s.since),
                opt(&s.until),
                opt(&s.last_usage_date),
            ]);
        }
        out.push(t.to_string());
    }
    if v.status == SubscriberStatus::Active {
        out.push("Every agreement, whatever its status: --all.".to_owned());
    }
    out.join("\n\n")
}

/// The subscriber report's CSV pages as one CSV. The API answers each page
/// as the feeds' asOf line, the header row (`product_id,product_code,...`),
/// then its rows; the first page is written whole, every later page's rows
/// only. The asOf line is not interpreted.
#[derive(Debug, Default)]
pub struct CsvReport {
    pages: usize,
    rows: usize,
    as_of_line: Option<String>,
    as_of_changed: bool,
}

impl CsvReport {
    /// The start of the report's header row.
    pub const HEADER_START: &str = "product_id,";

    /// What to write of one more page, line endings as the API's; an error
    /// when the page has no header row where the API writes it.
    pub fn page(&mut self, text: &str) -> Result<String, String> {
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let bare = |l: &str| l.trim_end_matches(['\r', '\n']).to_owned();
        let header = lines.iter().take(2).position(|l| l.starts_with(Self::HEADER_START)).ok_or_else(|| {
            format!(
                "page {} of the API's CSV has no header row ({}...) in its first two lines. \
                 Is psc older or newer than the API?",
                self.pages + 1,
                Self::HEADER_START
            )
        })?;
        let eol = if lines[header].ends_with("\r\n") { "\r\n" } else { "\n" };
        let as_of = lines[..header].first().map(|l| bare(l));
        let mut out = String::new();
        if self.pages == 0 {
            for l in &lines[..=header] {
                out.push_str(&bare(l));
                out.push_str(eol);
            }
            self.as_of_line = as_of;
        } else if as_of.is_some() && as_of != self.as_of_line {
            self.as_of_changed = true;
        }
        for row in lines[header + 1..].iter().map(|l| bare(l)).filter(|l| !l.is_empty()) {
            out.push_str(&row);
            out.push_str(eol);
            self.rows += 1;
        }
        self.pages += 1;
        Ok(out)
    }

    /// Rows written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// A later page's asOf line differed from the first's (a delivery was
    /// applied while paging).
    pub fn as_of_changed(&self) -> bool {
        self.as_of_changed
    }
}

/// A product code the data feeds do not list.
pub fn unknown_product(code: &str) -> String {
    format!(
        "the data feeds do not list product {code}: check the code (a product of this seller, as the Product feed \
         names it), or wait for the next delivery if the product is new"
    )
}

/// `GET /contacts?email=`.
pub fn contacts(v: &ContactsView) -> String {
    let head = match v.contacts.len() {
        0 => "No contact with this email address.".to_owned(),
        1 => "1 contact".to_owned(),
        n => format!("{n} contacts"),
    };
    let mut out = vec![head];
    if !v.contacts.is_empty() {
        out.push(contacts_table(&v.contacts).to_string());
    }
    out.push(freshness(&v.freshness));
    out.join("\n\n")
}

/// `GET /contacts/{guid}`.
pub fn contact(v: &ContactView) -> String {
    let c = &v.contact;
    let mut t = table(&["field", "value"]);
    for (label, value) in [
        ("name", format!("{} {}", c.given_name, c.surname)),
        ("email", c.email.clone()),
        ("phone", c.telephone_number.clone()),
        ("title", opt(&c.title)),
        ("organization", c.organization.clone()),
        ("country", opt(&c.country_code)),
        ("ZIP", opt(&c.zip_code)),
        ("AWS account", c.aws_account_id.clone()),
        ("product", c.product_code.clone()),
        ("subscription", c.subscription_guid.clone()),
        ("subscribed since", c.subscription_start_date.to_string()),
        ("customer guid", c.customer_guid.clone()),
        ("last change", c.operation_time.to_string()),
    ] {
        t.add_row([label.to_owned(), value]);
    }
    format!("{t}\n\n{}", freshness(&v.freshness))
}

/// `GET /accounts/{id}/instances/{instanceId}`.
pub fn instance(v: &InstanceView) -> String {
    let subject = format!("Instance {} of account {}", v.instance_id, v.aws_account_id);
    let mut t = table(&["", ""]);
    t.add_row(["region".to_owned(), v.region.clone()]);
    t.add_row(["product".to_owned(), v.product_code.clone()]);
    t.add_row(["found in the region".to_owned(), yes_no(v.found)]);
    t.add_row(["runs the product".to_owned(), yes_no(v.product_running)]);
    t.add_row(["owner (EC2)".to_owned(), opt(&v.owner_id)]);
    t.add_row(["owner is the account".to_owned(), yes_no(v.owner_matches)]);
    let message = &v.sources.instance.message;
    format!("{}\n{message}\n\n{t}", headline(v.eligible, &subject))
}

fn yes_no(v: bool) -> String {
    if v { "yes".to_owned() } else { "no".to_owned() }
}

/// `GET /sync`.
pub fn status(v: &SyncView) -> String {
    let mut out = vec![format!("Watermark: {}", opt(&v.watermark)), freshness(&v.freshness)];
    if !v.pending_ranges.is_empty() {
        let ranges: Vec<String> = v.pending_ranges.iter().map(|r| format!("{} .. {}", r.start, r.end)).collect();
        out.push(format!("Applied beyond a gap (waiting for it to close): {}", ranges.join(", ")));
    }
    if v.exports.is_empty() {
        out.push("No export yet: run `psc export`.".to_owned());
    } else {
        let mut t =
            table(&["export", "status", "requested", "finished", "created", "updated", "deleted", "stale", "rejected"]);
        for e in &v.exports {
            let c = &e.counts;
            t.add_row([
                e.request_id.clone(),
                e.status.clone(),
                opt(&e.requested_at),
                opt(&e.finished_at),
                c.created.to_string(),
                c.updated.to_string(),
                c.deleted.to_string(),
                c.skipped_stale.to_string(),
                c.rejected.to_string(),
            ]);
        }
        out.push(format!("Exports, newest first\n{t}"));
        let failed: Vec<String> =
            v.exports.iter().filter_map(|e| Some(format!("{}: {}", e.request_id, e.message.as_deref()?))).collect();
        if !failed.is_empty() {
            out.push(format!("Messages\n  {}", failed.join("\n  ")));
        }
    }
    out.join("\n\n")
}

/// start-export's answer.
pub fn export_started(v: &Value) -> String {
    match v["dataSetRequestId"].as_str().or_else(|| v["requestId"].as_str()) {
        Some(id) => format!(
            "Export requested: {id}{}\nFollow it with `psc status`.",
            v["fromDate"].as_str().map(|f| format!(" (changes since {f})")).unwrap_or_default()
        ),
        None => format!("start-export answered: {v}"),
    }
}

/// The end of `psc backfill`.
pub fn backfilled(total: u64, invocations: u32) -> String {
    let calls = if invocations == 1 { "1 invocation".to_owned() } else { format!("{invocations} invocations") };
    format!(
        "Backfill done: {total} live contacts sent to the event bus as PSC Contact Created \
         (detail.backfill: true), in {calls} of contact-events.\n\
         A consumer that already holds a contact receives it again: dedupe on customerGuid."
    )
}

/// A 404's message.
pub fn not_found(v: &ErrorBody) -> String {
    let mut out = vec![format!("Not found: {}", v.error.message)];
    if let Some(f) = &v.freshness {
        out.push(freshness(f));
    }
    out.join("\n")
}

/// A 404 that is not the API's own (API Gateway's, for a wrong base URL).
pub fn not_the_apis(body: &str) -> String {
    format!(
        "Not found (not the eligibility API's answer; check the URL): {}",
        body.chars().take(300).collect::<String>()
    )
}

/// The rows of a CSV report, as JSON objects keyed by the header.
pub fn csv_rows(text: &str) -> Vec<Value> {
    let mut lines = text.lines().filter(|l| !l.is_empty());
    let Some(header) = lines.next() else { return Vec::new() };
    let header: Vec<&str> = split_csv(header);
    lines
        .map(|l| {
            let cells = split_csv(l);
            Value::Object(
                header
                    .iter()
                    .enumerate()
                    .map(|(i, h)| ((*h).to_owned(), Value::String(cells.get(i).copied().unwrap_or("").to_owned())))
                    .collect(),
            )
        })
        .collect()
}

/// A line of the rejects report: psc-bridge writes it without quoted commas
/// in identifiers, and quotes reasons; split on commas outside quotes.
fn split_csv(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(line[start..i].trim_matches('"'));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(line[start..].trim_matches('"'));
    out
}

/// A rejects report as a table.
pub fn rejects(request_id: &str, location: &str, text: &str) -> String {
    let rows = csv_rows(text);
    let Some(first) = rows.first().and_then(Value::as_object) else {
        return format!("Export {request_id}: the rejects report {location} is empty");
    };
    let header: Vec<&str> = first.keys().map(String::as_str).collect();
    let mut t = table(&header);
    for r in &rows {
        t.add_row(header.iter().map(|h| s(&r[*h])).collect::<Vec<_>>());
    }
    format!("Export {request_id}: {} rejected rows ({location})\n{t}", rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use psc_bridge::api::examples::{ACCOUNT, PRODUCT};
    use psc_bridge::api::{AgreementsSource, examples};

    #[test]
    fn an_account_shows_the_verdict_sources_agreements_contacts_and_freshness() {
        let mut v = examples::account();
        v.sources.agreements = AgreementsSource {
            verdict: Verdict::Unavailable,
            as_of: None,
            age_seconds: None,
            cached: false,
            message: Some("the API is throttling requests".into()),
        };
        v.sources.psc_contacts.stale_beyond_one_business_day = true;
        v.agreements.clear();
        v.next_cursor = None;
        v.freshness.business_age_seconds = Some(172800);
        v.freshness.stale_beyond_one_business_day = true;
        let text = account(&v);
        assert!(text.starts_with("Account 000011112222: ELIGIBLE"), "{text}");
        assert!(text.contains("UNAVAILABLE") && text.contains("throttling"), "{text}");
        assert!(text.contains("Angela Doe") && text.contains("adoe@example.com"), "{text}");
        assert!(text.contains("48.0 business hours old, STALE"), "{text}");
        assert!(!text.contains("Agreements\n"), "no agreements table when there are none");
        assert!(!text.contains("More contacts follow"), "{text}");
    }

    #[test]
    fn every_answer_renders_its_members() {
        let text = account_product(&examples::account_product());
        assert!(text.starts_with("Account 000011112222 on product 4gzp2symm0v9zidfrn9f854w6: ELIGIBLE"), "{text}");
        assert!(text.contains("cached, 60 s old") && text.contains("agmt-1a2b3c4d5e6f7g8h9i0j"), "{text}");
        assert!(text.contains("More contacts follow"), "{text}");
        let text = contact(&examples::contact_view());
        assert!(text.contains("Angela Doe") && text.contains("98101") && text.contains("CTO"), "{text}");
        let text = instance(&examples::instance());
        assert!(text.starts_with("Instance i-0a1b2c3d4e5f60718 of account 000011112222: ELIGIBLE"), "{text}");
        let text = status(&examples::sync());
        assert!(text.contains("Watermark: 2026-11-20T17:00:00.000Z"), "{text}");
        assert!(text.contains("c3c84ee0-5aba-11e6-8d9c-235dc080841d: 2 rows rejected"), "{text}");
        assert_eq!(
            not_found(&examples::error()),
            "Not found: no contact on record with this customerGuid (never shared, or deleted)\n\
             PSC data as of 2026-11-20T17:00:00.000Z (24.0 business hours old, within one business day)"
        );
    }

    #[test]
    fn rejects_reports_become_rows() {
        let csv = "line,reason,customerGuid\n3,\"Email: is required, got nothing\",ba1d\n7,Operation Time: bad,\n";
        let rows = csv_rows(csv);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["reason"], "Email: is required, got nothing");
        assert_eq!(rows[1]["customerGuid"], "");
        assert!(rejects("r1", "s3://b/k", csv).contains("2 rejected rows"));
    }

    #[test]
    fn each_eligibility_is_a_headline_with_its_reason() {
        let mut v = examples::account();
        let text = account(&v);
        assert!(
            text.starts_with(
                "Account 000011112222: ELIGIBLE\nWhy: an ACTIVE agreement for the product (Agreement API)"
            ),
            "{text}"
        );
        (v.eligible, v.eligibility, v.eligibility_reason) =
            (false, Eligibility::NotEligible, "no source says eligible".into());
        assert!(account(&v).starts_with("Account 000011112222: NOT ELIGIBLE\nWhy: no source says eligible"));
        v.eligibility_reason = " ".into();
        assert!(account(&v).starts_with("Account 000011112222: NOT ELIGIBLE\n\n"), "no empty Why line");
        v.eligibility = Eligibility::Unconfirmed;
        v.eligibility_reason = "the feeds are 3 days old and the Agreement API did not answer".into();
        let text = account(&v);
        assert!(text.starts_with("Account 000011112222: UNCONFIRMED (help in good faith)\nWhy: the feeds"), "{text}");
        let mut p = examples::account_product();
        p.eligibility = Eligibility::Unconfirmed;
        let text = account_product(&p);
        assert!(text.contains("on product 4gzp2symm0v9zidfrn9f854w6: UNCONFIRMED"), "{text}");
    }

    #[test]
    fn the_data_feeds_are_a_source_and_list_the_accounts_subscriptions() {
        let mut v = examples::account();
        let text = account(&v);
        let feeds = text.lines().find(|l| l.contains("│ data feeds")).unwrap_or_default();
        for want in ["eligible", "2026-11-23T01:30:00.000Z", "15.5 h old", "an ACTIVE agreement, used on 2026-11-22"] {
            assert!(feeds.contains(want), "{want:?} in {feeds}");
        }
        assert!(text.contains("Subscriptions (data feeds)"), "{text}");
        let row = text.lines().find(|l| l.contains("Example Product")).unwrap_or_default();
        for want in
            [PRODUCT, "agmt-1a2b3c4d5e6f7g8h9i0j", "ACTIVE", "2026-01-01T00:00:00.000Z", "2027-01-01", "2026-11-22"]
        {
            assert!(row.contains(want), "{want:?} in {row}");
        }
        let f = &mut v.sources.data_feeds;
        (f.verdict, f.stale, f.decided_by_usage_rule, f.age_seconds) =
            (Verdict::NotEligible, true, true, Some(300_000));
        f.message = None;
        f.products[0].agreements.clear();
        let text = account(&v);
        let feeds = text.lines().find(|l| l.contains("│ data feeds")).unwrap_or_default();
        for want in ["not eligible", "3.5 days old", "STALE: older than two days", "no usage in 30 days"] {
            assert!(feeds.contains(want), "{want:?} in {feeds}");
        }
        v.sources.data_feeds.products.clear();
        v.sources.data_feeds.as_of = None;
        let text = account(&v);
        assert!(text.contains("no delivery applied yet") && !text.contains("Subscriptions (data feeds)"), "{text}");
    }

    #[test]
    fn the_subscriber_report_is_the_as_of_then_a_table() {
        let mut v = examples::subscribers();
        let text = subscribers(&v);
        assert!(text.starts_with("Data feeds as of 2026-11-23T01:30:00.000Z (15.5 h old, within two days)"), "{text}");
        assert!(
            text.contains(
                "Product 4gzp2symm0v9zidfrn9f854w6 (Example Product, prod-4gzp2symm0v9z): 1 subscriber with an ACTIVE agreement"
            ),
            "{text}"
        );
        let row = text.lines().find(|l| l.contains(ACCOUNT)).unwrap_or_default();
        for want in ["agmt-1a2b3c4d5e6f7g8h9i0j", "ACTIVE", "2026-01-01T00:00:00.000Z", "2027-01-01", "2026-11-22"] {
            assert!(row.contains(want), "{want:?} in {row}");
        }
        assert!(text.contains("--all"), "{text}");
        (v.status, v.age_seconds) = (SubscriberStatus::All, Some(200_000));
        v.subscribers.clear();
        let text = subscribers(&v);
        assert!(
            text.contains("STALE: older than two days") && text.contains("no subscriber with an agreement"),
            "{text}"
        );
    }

    const HEADER: &str =
        "product_id,product_code,aws_account_id,agreement_id,agreement_status,since,until,last_usage_date";

    #[test]
    fn csv_pages_become_one_csv() {
        let mut r = CsvReport::default();
        let first = format!("# asOf 2026-11-23T01:30:00.000Z\r\n{HEADER}\r\np,c,1,a1,ACTIVE,,,\r\n");
        let second = format!("# asOf 2026-11-23T01:30:00.000Z\r\n{HEADER}\r\np,c,2,a2,ACTIVE,,,\r\np,c,3,a3,ACTIVE,,,");
        let mut out = r.page(&first).unwrap();
        out.push_str(&r.page(&second).unwrap());
        assert_eq!(
            out,
            format!(
                "# asOf 2026-11-23T01:30:00.000Z\r\n{HEADER}\r\np,c,1,a1,ACTIVE,,,\r\np,c,2,a2,ACTIVE,,,\r\np,c,3,a3,ACTIVE,,,\r\n"
            )
        );
        assert_eq!((r.rows(), r.as_of_changed()), (3, false));
        assert!(r.page(&format!("# asOf later\n{HEADER}\n")).unwrap().is_empty());
        assert!(r.as_of_changed());
        let e = CsvReport::default().page("a,b\n1,2\n").unwrap_err();
        assert!(e.contains("no header row"), "{e}");
    }
}
