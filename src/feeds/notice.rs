//! What starts the data-feeds ingest: AWS's notification that a feed was
//! delivered (through SNS), the daily schedule, a continuation, or a manual
//! invocation. The notification's shape is only partly documented (fact
//! sheet §2: `feedType` and `processedFiles` are unconfirmed), so it is a
//! hint: every trigger leads to a listing of the bucket.

use serde_json::Value;

use super::run::Delivery;

/// Why the ingest runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// One or more SNS notifications (one per record of the event).
    Notification(Vec<Delivery>),
    /// The daily EventBridge schedule.
    Schedule,
    /// This function's own continuation of run `run_id`.
    Continuation { run_id: String },
    /// Anything else (a manual invocation, `{}`).
    Manual,
}

impl Trigger {
    /// How a run record names it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Notification(_) => "notification",
            Self::Schedule => "schedule",
            Self::Continuation { .. } => "continuation",
            Self::Manual => "manual",
        }
    }
}

/// The payload of a continuation of run `run_id`.
pub fn continuation_payload(run_id: &str) -> Value {
    serde_json::json!({ "continueRun": run_id })
}

/// Reads an invocation's payload. Never fails: what is not understood is a
/// manual run, and a notification body that is not the documented JSON is
/// still a notification (with nothing known about it).
pub fn parse_trigger(event: &Value) -> Trigger {
    if let Some(run_id) = event.get("continueRun").and_then(Value::as_str) {
        return Trigger::Continuation { run_id: run_id.to_owned() };
    }
    if let Some(records) = event.get("Records").and_then(Value::as_array) {
        let deliveries: Vec<Delivery> = records
            .iter()
            .filter_map(|r| r.get("Sns").and_then(|sns| sns.get("Message")))
            .map(|m| parse_delivery(m.as_str().unwrap_or_default()))
            .collect();
        if !deliveries.is_empty() {
            return Trigger::Notification(deliveries);
        }
    }
    let scheduled = event.get("source").and_then(Value::as_str) == Some("aws.events")
        || event.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event");
    if scheduled { Trigger::Schedule } else { Trigger::Manual }
}

/// The SNS `Message`: AWS's JSON (fact sheet §2). Unknown or missing
/// members are `None`; `errors` are counted, since their shape is unknown.
pub fn parse_delivery(message: &str) -> Delivery {
    let Ok(body) = serde_json::from_str::<Value>(message) else { return Delivery::default() };
    let text =
        |name: &str| body.get(name).and_then(Value::as_str).map(|s| s.trim().chars().take(100).collect::<String>());
    let errors = match body.get("errors") {
        Some(Value::Array(a)) => a.len(),
        None | Some(Value::Null) => 0,
        Some(_) => 1,
    };
    Delivery {
        execution_status: text("executionStatus").map(|s| s.to_ascii_uppercase()),
        feed_type: text("feedType"),
        errors,
    }
}

impl Delivery {
    /// AWS says this delivery failed.
    pub fn failed(&self) -> bool {
        self.execution_status.as_deref() == Some("FAILED")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sns(message: &str) -> Value {
        json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Type": "Notification", "Message": message}}]})
    }

    #[test]
    fn the_documented_notification_is_read_and_its_errors_counted() {
        let m = r#"{"mainExecutionId":"1","executionId":"2","subscriptionId":"3","processedFiles":[],"executionStatus":"FAILED","errors":[{"x":1},"y"],"feedType":"[data feed name]"}"#;
        let Trigger::Notification(d) = parse_trigger(&sns(m)) else { panic!("a notification") };
        assert_eq!(d.len(), 1);
        assert!(d[0].failed());
        assert_eq!(d[0].errors, 2);
        assert_eq!(d[0].feed_type.as_deref(), Some("[data feed name]"));
    }

    #[test]
    fn a_body_that_is_not_json_is_still_a_notification_with_nothing_known() {
        let Trigger::Notification(d) = parse_trigger(&sns("not json")) else { panic!("a notification") };
        assert_eq!(d, vec![Delivery::default()]);
        assert!(!d[0].failed());
    }

    #[test]
    fn schedule_continuation_and_anything_else() {
        let schedule = json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        assert_eq!(parse_trigger(&schedule), Trigger::Schedule);
        assert_eq!(parse_trigger(&continuation_payload("r1")), Trigger::Continuation { run_id: "r1".into() });
        assert_eq!(parse_trigger(&json!({})), Trigger::Manual);
        assert_eq!(parse_trigger(&json!({"Records": []})), Trigger::Manual);
    }
}
