//! What a person reads: the API's answers as short headlines and tables
//! (comfy-table). `--json` bypasses all of this.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use psc_bridge::api::{
    AccountProductView, AccountView, AgreementBody, ContactBody, ContactView, ContactsView, ErrorBody, Freshness,
    InstanceView, Sources, SubscriptionView, SyncView, Verdict,
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

/// The sources of an account lookup: the agreements, then the PSC contacts.
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
    t
}

fn headline(eligible: bool, subject: &str) -> String {
    format!("{subject}: {}", if eligible { "ELIGIBLE" } else { "NOT ELIGIBLE" })
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
    eligible: bool,
    sources: &'a Sources,
    agreements: &'a [AgreementBody],
    subscriptions: &'a [SubscriptionView],
    contacts: &'a [ContactBody],
    next_cursor: Option<&'a str>,
    freshness: &'a Freshness,
}

impl AccountAnswer<'_> {
    fn render(&self, subject: &str) -> String {
        let mut out = vec![headline(self.eligible, subject), sources(self.sources).to_string()];
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
        eligible: v.eligible,
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
        eligible: v.eligible,
        sources: &v.sources,
        agreements: &v.agreements,
        subscriptions: &v.subscriptions,
        contacts: &v.contacts,
        next_cursor: v.next_cursor.as_deref(),
        freshness: &v.freshness,
    }
    .render(&format!("Account {} on product {}", v.aws_account_id, v.product_code))
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
}
