//! What a person reads: the API's answers as short headlines and tables
//! (comfy-table). `--json` bypasses all of this.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use serde_json::Value;

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic).set_header(header);
    t
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

fn verdict(v: &Value) -> String {
    match v.as_str() {
        Some("eligible") => "eligible".to_owned(),
        Some("notEligible") => "not eligible".to_owned(),
        Some("unavailable") => "UNAVAILABLE".to_owned(),
        Some("notConfigured") => "not configured".to_owned(),
        _ => s(v),
    }
}

/// How fresh the PSC data is, flagged beyond one business day.
pub fn freshness(f: &Value) -> String {
    let Some(w) = f["watermark"].as_str() else {
        return "PSC data: no export applied yet (STALE)".to_owned();
    };
    let hours = f["businessAgeSeconds"].as_i64().unwrap_or(0) as f64 / 3600.0;
    let flag = if f["staleBeyondOneBusinessDay"].as_bool().unwrap_or(true) {
        "STALE: older than one business day"
    } else {
        "within one business day"
    };
    format!("PSC data as of {w} ({hours:.1} business hours old, {flag})")
}

fn sources(v: &Value) -> Table {
    let mut t = table(&["source", "verdict", "as of", "note"]);
    if let Some(map) = v["sources"].as_object() {
        for (name, src) in map {
            let name = match name.as_str() {
                "pscContacts" => "PSC contacts",
                "agreements" => "agreements",
                "instance" => "instance (EC2)",
                other => other,
            };
            let mut note = s(&src["message"]);
            if src["cached"].as_bool() == Some(true) {
                note = format!("cached, {} s old", src["ageSeconds"].as_i64().unwrap_or(0));
            }
            if src["staleBeyondOneBusinessDay"].as_bool() == Some(true) {
                note = "STALE: older than one business day".to_owned();
            }
            t.add_row([name.to_owned(), verdict(&src["verdict"]), s(&src["asOf"]), note]);
        }
    }
    t
}

fn headline(v: &Value, subject: &str) -> String {
    let yes = v["eligible"].as_bool().unwrap_or(false);
    format!("{subject}: {}", if yes { "ELIGIBLE" } else { "NOT ELIGIBLE" })
}

fn contacts_table(contacts: &[Value]) -> Table {
    let mut t = table(&["name", "email", "phone", "organization", "account", "product", "customer guid"]);
    for c in contacts {
        t.add_row([
            format!("{} {}", s(&c["givenName"]), s(&c["surname"])),
            s(&c["email"]),
            s(&c["telephoneNumber"]),
            s(&c["organization"]),
            s(&c["awsAccountId"]),
            s(&c["productCode"]),
            s(&c["customerGuid"]),
        ]);
    }
    t
}

/// `GET /accounts/{id}` and `/accounts/{id}/products/{code}`.
pub fn account(v: &Value) -> String {
    let subject = match v["productCode"].as_str() {
        Some(p) => format!("Account {} on product {p}", s(&v["awsAccountId"])),
        None => format!("Account {}", s(&v["awsAccountId"])),
    };
    let mut out = vec![headline(v, &subject), sources(v).to_string()];
    let agreements = list(&v["agreements"]);
    if !agreements.is_empty() {
        let mut t = table(&["agreement", "status", "product", "offer", "start", "end"]);
        for a in agreements {
            t.add_row([
                s(&a["agreementId"]),
                s(&a["status"]),
                a["productCode"].as_str().map_or_else(|| s(&a["productId"]), str::to_owned),
                s(&a["offerId"]),
                s(&a["startTime"]),
                s(&a["endTime"]),
            ]);
        }
        out.push(format!("Agreements\n{t}"));
    }
    let subs = list(&v["subscriptions"]);
    if !subs.is_empty() {
        let mut t = table(&["product", "subscription", "since", "contacts"]);
        for sub in subs {
            t.add_row([
                s(&sub["productCode"]),
                s(&sub["subscriptionGuid"]),
                s(&sub["subscriptionStartDate"]),
                s(&sub["contactCount"]),
            ]);
        }
        out.push(format!("Subscriptions (PSC)\n{t}"));
    }
    let contacts = list(&v["contacts"]);
    if contacts.is_empty() {
        out.push("No PSC contact on record.".to_owned());
    } else {
        out.push(format!("Contacts\n{}", contacts_table(contacts)));
    }
    if v["nextCursor"].is_string() {
        out.push("More contacts follow: use --json and the API's cursor for the rest.".to_owned());
    }
    out.push(freshness(&v["freshness"]));
    out.join("\n\n")
}

/// `GET /contacts?email=`.
pub fn contacts(v: &Value) -> String {
    let contacts = list(&v["contacts"]);
    let head = match contacts.len() {
        0 => "No contact with this email address.".to_owned(),
        1 => "1 contact".to_owned(),
        n => format!("{n} contacts"),
    };
    let mut out = vec![head];
    if !contacts.is_empty() {
        out.push(contacts_table(contacts).to_string());
    }
    out.push(freshness(&v["freshness"]));
    out.join("\n\n")
}

/// `GET /contacts/{guid}`.
pub fn contact(v: &Value) -> String {
    let c = &v["contact"];
    let mut t = table(&["field", "value"]);
    for (label, key) in [
        ("name", ""),
        ("email", "email"),
        ("phone", "telephoneNumber"),
        ("title", "title"),
        ("organization", "organization"),
        ("country", "countryCode"),
        ("ZIP", "zipCode"),
        ("AWS account", "awsAccountId"),
        ("product", "productCode"),
        ("subscription", "subscriptionGuid"),
        ("subscribed since", "subscriptionStartDate"),
        ("customer guid", "customerGuid"),
        ("last change", "operationTime"),
    ] {
        let value = if key.is_empty() { format!("{} {}", s(&c["givenName"]), s(&c["surname"])) } else { s(&c[key]) };
        t.add_row([label.to_owned(), value]);
    }
    format!("{t}\n\n{}", freshness(&v["freshness"]))
}

/// `GET /accounts/{id}/instances/{instanceId}`.
pub fn instance(v: &Value) -> String {
    let subject = format!("Instance {} of account {}", s(&v["instanceId"]), s(&v["awsAccountId"]));
    let mut t = table(&["", ""]);
    t.add_row(["region".to_owned(), s(&v["region"])]);
    t.add_row(["product".to_owned(), s(&v["productCode"])]);
    t.add_row(["found in the region".to_owned(), yes_no(&v["found"])]);
    t.add_row(["runs the product".to_owned(), yes_no(&v["productRunning"])]);
    t.add_row(["owner (EC2)".to_owned(), s(&v["ownerId"])]);
    t.add_row(["owner is the account".to_owned(), yes_no(&v["ownerMatches"])]);
    let message = s(&v["sources"]["instance"]["message"]);
    format!("{}\n{message}\n\n{t}", headline(v, &subject))
}

fn yes_no(v: &Value) -> String {
    if v.as_bool() == Some(true) { "yes".to_owned() } else { "no".to_owned() }
}

/// `GET /sync`.
pub fn status(v: &Value) -> String {
    let mut out = vec![format!("Watermark: {}", s(&v["watermark"])), freshness(&v["freshness"])];
    let pending = list(&v["pendingRanges"]);
    if !pending.is_empty() {
        let ranges: Vec<String> = pending.iter().map(|r| format!("{} .. {}", s(&r["start"]), s(&r["end"]))).collect();
        out.push(format!("Applied beyond a gap (waiting for it to close): {}", ranges.join(", ")));
    }
    let exports = list(&v["exports"]);
    if exports.is_empty() {
        out.push("No export yet: run `psc export`.".to_owned());
    } else {
        let mut t =
            table(&["export", "status", "requested", "finished", "created", "updated", "deleted", "stale", "rejected"]);
        for e in exports {
            let c = &e["counts"];
            t.add_row([
                s(&e["requestId"]),
                s(&e["status"]),
                s(&e["requestedAt"]),
                s(&e["finishedAt"]),
                s(&c["created"]),
                s(&c["updated"]),
                s(&c["deleted"]),
                s(&c["skippedStale"]),
                s(&c["rejected"]),
            ]);
        }
        out.push(format!("Exports, newest first\n{t}"));
        let failed: Vec<String> = exports
            .iter()
            .filter_map(|e| Some(format!("{}: {}", s(&e["requestId"]), e["message"].as_str()?)))
            .collect();
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
pub fn not_found(v: &Value) -> String {
    let mut out = vec![format!("Not found: {}", s(&v["error"]["message"]))];
    if v["freshness"].is_object() {
        out.push(freshness(&v["freshness"]));
    }
    out.join("\n")
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
    use serde_json::json;

    #[test]
    fn an_account_shows_the_verdict_sources_agreements_contacts_and_freshness() {
        let v = json!({
            "awsAccountId": "000011112222", "eligible": true,
            "sources": {
                "agreements": {"verdict": "unavailable", "asOf": null, "message": "the API is throttling requests"},
                "pscContacts": {"verdict": "eligible", "asOf": "2026-11-20T17:00:00.000Z", "staleBeyondOneBusinessDay": true}
            },
            "agreements": [],
            "subscriptions": [{"productCode": "4gzp2symm0v9zidfrn9f854w6", "subscriptionGuid": "cad3", "subscriptionStartDate": "2016-05-19T00:00:00.000Z", "contactCount": 1}],
            "contacts": [{"givenName": "Angela", "surname": "Doe", "email": "adoe@example.com", "telephoneNumber": "555", "organization": "Example", "awsAccountId": "000011112222", "productCode": "4gzp2symm0v9zidfrn9f854w6", "customerGuid": "1b4a"}],
            "nextCursor": null,
            "freshness": {"watermark": "2026-11-20T17:00:00.000Z", "businessAgeSeconds": 172800, "staleBeyondOneBusinessDay": true}
        });
        let text = account(&v);
        assert!(text.starts_with("Account 000011112222: ELIGIBLE"), "{text}");
        assert!(text.contains("UNAVAILABLE") && text.contains("throttling"), "{text}");
        assert!(text.contains("Angela Doe") && text.contains("adoe@example.com"), "{text}");
        assert!(text.contains("48.0 business hours old, STALE"), "{text}");
        assert!(!text.contains("Agreements\n"), "no agreements table when there are none");
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
