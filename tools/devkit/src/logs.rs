//! Log capture for tests, and the check that no contact value reached a log.
//!
//! [`capture_logs`] installs one global subscriber per test process that
//! writes every event as a JSON line (fields flattened, with the target)
//! into a [`LogBuffer`], through the filter the caller passes: the
//! functions' own (`psc_bridge::logging::filter`) at TRACE, more than a
//! deployed function ever logs.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;
use tracing_subscriber::EnvFilter;

/// Every log line of this test process.
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    /// The JSON log lines that contain `needle` (a request id, say).
    pub fn lines_with(&self, needle: &str) -> Vec<Value> {
        self.text()
            .lines()
            .filter(|l| l.contains(needle))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l}")))
            .collect()
    }

    /// The one line of target `audit` that contains `request_id`.
    pub fn audit_line(&self, request_id: &str) -> Value {
        let lines: Vec<Value> = self.lines_with(request_id).into_iter().filter(|l| l["target"] == "audit").collect();
        assert_eq!(lines.len(), 1, "one audit line for {request_id}: {lines:?}");
        lines.into_iter().next().expect("one line")
    }
}

static LOGS: OnceLock<LogBuffer> = OnceLock::new();

/// The process's log capture, installed on first call with `filter`
/// (later calls return the same buffer and ignore their filter).
pub fn capture_logs(filter: impl FnOnce() -> EnvFilter) -> LogBuffer {
    LOGS.get_or_init(|| {
        let buf = LogBuffer::default();
        let writer = buf.clone();
        tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_target(true)
            .with_env_filter(filter())
            .with_writer(move || writer.clone())
            .init();
        buf
    })
    .clone()
}

/// The personal columns of a PSC export.
pub const CONTACT_COLUMNS: [&str; 7] =
    ["Organization", "Given Name", "Surname", "Telephone Number", "Email", "Title", "ZIP Code"];

/// The contact field values of an export CSV (organization, names, phone,
/// email, title, ZIP) at least 4 characters long: none may appear in a log.
pub fn contact_values(csv_text: &str) -> BTreeSet<String> {
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(csv_text.as_bytes());
    let Ok(headers) = rdr.headers().cloned() else { return BTreeSet::new() };
    let idx: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| CONTACT_COLUMNS.contains(&h.trim_start_matches('\u{feff}').trim()))
        .map(|(i, _)| i)
        .collect();
    let mut out = BTreeSet::new();
    for rec in rdr.records().flatten() {
        for &i in &idx {
            if let Some(v) = rec.get(i).map(str::trim).filter(|v| v.len() >= 4) {
                out.insert(v.to_owned());
            }
        }
    }
    out
}

/// The values of `values` that occur in `text` as whole tokens (a ZIP code
/// inside a timestamp is not a leak).
pub fn leaked<'a>(text: &str, values: impl IntoIterator<Item = &'a String>) -> Vec<&'a String> {
    values.into_iter().filter(|v| contains_token(text, v)).collect()
}

/// `needle` occurs in `text` not as part of a longer word or number.
pub fn contains_token(text: &str, needle: &str) -> bool {
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
    text.match_indices(needle)
        .any(|(i, _)| !is_word(text[..i].chars().next_back()) && !is_word(text[i + needle.len()..].chars().next()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_contact_values_as_tokens_only() {
        let csv = "Given Name,ZIP Code,Customer Guid\nAngela,02201,ba1d75cc\n";
        let values = contact_values(csv);
        assert_eq!(values.iter().map(String::as_str).collect::<Vec<_>>(), ["02201", "Angela"]);
        assert_eq!(leaked("name=Angela", &values), vec!["Angela"]);
        assert!(leaked("at 2016-02201T00", &values).is_empty(), "inside a longer number");
        assert!(leaked("Angelas", &values).is_empty(), "inside a longer word");
    }
}
