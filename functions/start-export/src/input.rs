//! What an invocation asks for: the EventBridge schedule, or a manual payload.
//!
//! Parsed strictly, before anything is called: a payload that is not exactly
//! one of the accepted shapes is an [`InputError`] naming the field at fault.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use psc_bridge::domain::Timestamp;
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

/// `detail-type` of the events an EventBridge schedule sends.
pub const SCHEDULED_DETAIL_TYPE: &str = "Scheduled Event";
/// `source` of the events an EventBridge schedule sends.
pub const SCHEDULED_SOURCE: &str = "aws.events";

/// The keys a manual payload may hold.
pub const MANUAL_KEYS: [&str; 3] = ["fullResync", "fromDate", "force"];

/// Why the export is started; also sent to CAS as the `trigger`
/// customer-defined value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The EventBridge schedule.
    Schedule,
    /// A manual invocation (`{}`, `{"force": true}` or `{"fromDate": ..}`).
    Manual,
    /// A manual full re-sync (`{"fullResync": true}`): watermark reset.
    FullResync,
}

impl Trigger {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::Manual => "manual",
            Self::FullResync => "fullResync",
        }
    }
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A valid request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartRequest {
    pub trigger: Trigger,
    /// An explicit `fromDate` (manual only); otherwise the watermark is used.
    pub from_date: Option<Timestamp>,
    /// Start even while an earlier export is unanswered.
    pub force: bool,
    /// The EventBridge event id of a scheduled run (for the logs).
    pub event_id: Option<String>,
}

/// A payload that is not one of the accepted shapes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid input: '{field}' {reason}")]
pub struct InputError {
    /// The field at fault (`payload` when it is the whole payload).
    pub field: String,
    pub reason: String,
}

fn bad(field: impl Into<String>, reason: impl Into<String>) -> InputError {
    InputError { field: field.into(), reason: reason.into() }
}

/// A key as the caller wrote it, made safe to print: at most 64 characters,
/// control characters replaced.
fn printable(key: &str) -> String {
    let mut out: String = key.chars().take(64).map(|c| if c.is_control() { '?' } else { c }).collect();
    if key.chars().count() > 64 {
        out.push_str("...");
    }
    out
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Decides what the payload asks for. `now` bounds an explicit `fromDate`.
pub fn parse_invocation(payload: &Value, now: Timestamp) -> Result<StartRequest, InputError> {
    let Value::Object(obj) = payload else {
        return Err(bad(
            "payload",
            format!(
                "must be a JSON object (an EventBridge scheduled event, {{}}, {{\"force\": true}}, \
                 {{\"fullResync\": true}} or {{\"fromDate\": \"<ISO 8601>\"}}), not {}",
                kind(payload)
            ),
        ));
    };
    if ["detail-type", "source", "detail"].iter().any(|k| obj.contains_key(*k)) {
        parse_scheduled(payload, obj)
    } else {
        parse_manual(obj, now)
    }
}

fn parse_scheduled(payload: &Value, obj: &Map<String, Value>) -> Result<StartRequest, InputError> {
    for field in ["detail-type", "source"] {
        match obj.get(field) {
            Some(Value::String(_)) => {}
            Some(other) => {
                return Err(bad(field, format!("must be a string, not {}", kind(other))));
            }
            None => {
                return Err(bad(field, "is missing: an EventBridge event must have 'detail-type' and 'source'"));
            }
        }
    }
    let event: EventBridgeEvent<Value> = serde_json::from_value(payload.clone())
        .map_err(|e| bad("payload", format!("is not a valid EventBridge event: {e}")))?;
    if event.detail_type != SCHEDULED_DETAIL_TYPE {
        return Err(bad(
            "detail-type",
            format!(
                "must be '{SCHEDULED_DETAIL_TYPE}'; only the EventBridge schedule may send events to this function"
            ),
        ));
    }
    if event.source != SCHEDULED_SOURCE {
        return Err(bad(
            "source",
            format!("must be '{SCHEDULED_SOURCE}'; only the EventBridge schedule may send events to this function"),
        ));
    }
    Ok(StartRequest { trigger: Trigger::Schedule, from_date: None, force: false, event_id: event.id })
}

fn parse_manual(obj: &Map<String, Value>, now: Timestamp) -> Result<StartRequest, InputError> {
    if let Some(unknown) = obj.keys().find(|k| !MANUAL_KEYS.contains(&k.as_str())) {
        return Err(bad(
            printable(unknown),
            "is not a known field; a manual invocation accepts only fullResync (true), \
             fromDate (ISO 8601) and force (true or false)",
        ));
    }
    let force = match obj.get("force") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(bad("force", format!("must be true or false, not {}", kind(other))));
        }
    };
    let full_resync = match obj.get("fullResync") {
        None => false,
        Some(Value::Bool(true)) => true,
        Some(Value::Bool(false)) => {
            return Err(bad("fullResync", "must be true when given (leave it out for a normal run)"));
        }
        Some(other) => {
            return Err(bad("fullResync", format!("must be true, not {}", kind(other))));
        }
    };
    let from_date = match obj.get("fromDate") {
        None => None,
        Some(Value::String(s)) => Some(parse_from_date(s, now)?),
        Some(other) => {
            return Err(bad("fromDate", format!("must be an ISO 8601 date-time string, not {}", kind(other))));
        }
    };
    if full_resync && from_date.is_some() {
        return Err(bad(
            "fromDate",
            "cannot be combined with fullResync: a full re-sync always starts from INITIAL_FROM_DATE",
        ));
    }
    let trigger = if full_resync { Trigger::FullResync } else { Trigger::Manual };
    Ok(StartRequest { trigger, from_date, force, event_id: None })
}

/// An explicit `fromDate`: ISO 8601 / RFC 3339 with any offset (converted to
/// UTC), or a calendar date alone (midnight UTC). Never in the future.
pub fn parse_from_date(s: &str, now: Timestamp) -> Result<Timestamp, InputError> {
    let text = s.trim();
    let parsed = Timestamp::parse(text)
        .ok()
        .or_else(|| OffsetDateTime::parse(text, &Rfc3339).ok().map(Timestamp::from_datetime))
        .or_else(|| {
            Date::parse(text, format_description!("[year]-[month]-[day]"))
                .ok()
                .map(|d| Timestamp::from_datetime(d.midnight().assume_utc()))
        });
    let Some(t) = parsed else {
        return Err(bad(
            "fromDate",
            "is not an ISO 8601 date-time; use the form 2024-01-31T00:00:00.000Z (or a date, 2024-01-31)",
        ));
    };
    if t > now {
        return Err(bad("fromDate", format!("is in the future ({t}; now is {now})")));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn now() -> Timestamp {
        Timestamp::parse("2026-11-20T12:00:00.000Z").unwrap()
    }

    fn ok(v: Value) -> StartRequest {
        parse_invocation(&v, now()).unwrap_or_else(|e| panic!("{v}: {e}"))
    }

    fn err(v: Value) -> InputError {
        parse_invocation(&v, now()).expect_err(&v.to_string())
    }

    #[test]
    fn scheduled_event_fixture_is_a_scheduled_run() {
        let v: Value = serde_json::from_str(include_str!("../../../events/schedule.json")).unwrap();
        let inv = ok(v);
        assert_eq!(inv.trigger, Trigger::Schedule);
        assert!(!inv.force && inv.from_date.is_none());
        assert!(inv.event_id.is_some());
    }

    #[test]
    fn manual_shapes() {
        assert_eq!(
            ok(json!({})),
            StartRequest { trigger: Trigger::Manual, from_date: None, force: false, event_id: None }
        );
        assert!(ok(json!({"force": true})).force);
        assert!(!ok(json!({"force": false})).force);
        let full = ok(json!({"fullResync": true, "force": true}));
        assert_eq!((full.trigger, full.force, full.from_date), (Trigger::FullResync, true, None));
        let from = ok(json!({"fromDate": "2016-05-01T00:00:00.000Z"}));
        assert_eq!(from.trigger, Trigger::Manual);
        assert_eq!(from.from_date, Some(Timestamp::parse("2016-05-01T00:00:00.000Z").unwrap()));
    }

    #[test]
    fn from_date_forms() {
        let t = |s: &str| parse_from_date(s, now()).map(|t| t.to_iso());
        assert_eq!(t("2016-05-01T00:00:00Z").unwrap(), "2016-05-01T00:00:00.000Z");
        assert_eq!(t("2016-05-01T02:00:00.5+02:00").unwrap(), "2016-05-01T00:00:00.500Z");
        assert_eq!(t("2016-05-01").unwrap(), "2016-05-01T00:00:00.000Z");
        assert_eq!(t(" 2026-11-20T12:00:00.000Z ").unwrap(), "2026-11-20T12:00:00.000Z");
        for bad in ["", "yesterday", "2016-13-01", "2016-05-01 00:00:00", "1462060800"] {
            let e = t(bad).expect_err(bad);
            assert_eq!(e.field, "fromDate");
            assert!(e.reason.contains("ISO 8601"), "{e}");
        }
        let e = t("2026-11-20T12:00:00.001Z").unwrap_err();
        assert!(e.reason.contains("future"), "{e}");
    }

    #[test]
    fn rejected_payloads_name_the_field() {
        let cases = [
            (json!(null), "payload"),
            (json!([]), "payload"),
            (json!("fullResync"), "payload"),
            (json!({"fullresync": true}), "fullresync"),
            (json!({"fromDate": "2016-05-01T00:00:00Z", "dryRun": true}), "dryRun"),
            (json!({"fullResync": "true"}), "fullResync"),
            (json!({"fullResync": false}), "fullResync"),
            (json!({"force": "yes"}), "force"),
            (json!({"force": 1}), "force"),
            (json!({"fromDate": 1462060800}), "fromDate"),
            (json!({"fromDate": "soon"}), "fromDate"),
            (json!({"fromDate": "2099-01-01T00:00:00Z"}), "fromDate"),
            (json!({"fullResync": true, "fromDate": "2016-05-01T00:00:00Z"}), "fromDate"),
            (json!({"detail-type": "Scheduled Event"}), "source"),
            (json!({"detail-type": 3, "source": "aws.events"}), "detail-type"),
            (json!({"detail-type": "Object Created", "source": "aws.s3", "detail": {}}), "detail-type"),
            (json!({"detail-type": "Scheduled Event", "source": "my.app", "detail": {}}), "source"),
            (
                json!({"detail-type": "Scheduled Event", "source": "aws.events", "time": "noon", "detail": {}}),
                "payload",
            ),
        ];
        for (payload, field) in cases {
            let e = err(payload.clone());
            assert_eq!(e.field, field, "{payload}: {e}");
            assert!(e.to_string().contains(&format!("'{field}'")), "{e}");
        }
    }

    #[test]
    fn fixtures_in_events_are_what_they_say() {
        for (name, text, trigger) in [
            ("manual", include_str!("../../../events/start-export-manual.json"), Trigger::Manual),
            ("force", include_str!("../../../events/start-export-force.json"), Trigger::Manual),
            ("full-resync", include_str!("../../../events/start-export-full-resync.json"), Trigger::FullResync),
            ("from-date", include_str!("../../../events/start-export-from-date.json"), Trigger::Manual),
        ] {
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(ok(v).trigger, trigger, "{name}");
        }
        for (name, text, field) in [
            ("unknown-key", include_str!("../../../events/start-export-bad-unknown-key.json"), "resync"),
            ("wrong-type", include_str!("../../../events/start-export-bad-wrong-type.json"), "fullResync"),
            ("both", include_str!("../../../events/start-export-bad-both.json"), "fromDate"),
            ("future", include_str!("../../../events/start-export-bad-future-date.json"), "fromDate"),
            ("unparseable", include_str!("../../../events/start-export-bad-unparseable-date.json"), "fromDate"),
            ("other-event", include_str!("../../../events/start-export-bad-other-event.json"), "detail-type"),
        ] {
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(err(v).field, field, "{name}");
        }
    }

    #[test]
    fn long_or_odd_keys_are_shortened_in_errors() {
        let key = format!("{}\n", "k".repeat(100));
        let e = err(json!({ key: true }));
        assert!(e.field.len() < 80 && !e.field.contains('\n'), "{}", e.field);
    }
}
