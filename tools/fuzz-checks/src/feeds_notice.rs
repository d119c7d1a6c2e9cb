//! The data-feeds ingest's trigger (`psc_bridge::feeds::notice`): whatever
//! the invocation's payload, it is read without failing, and what a run
//! record keeps of a notification is bounded and never a copy of `errors`.

use psc_bridge::feeds::{Trigger, parse_delivery, parse_trigger};

pub fn check(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // As the SNS message body, and as a whole payload when it is JSON.
    let delivery = parse_delivery(&text);
    for field in [&delivery.execution_status, &delivery.feed_type].into_iter().flatten() {
        assert!(field.chars().count() <= 100, "a kept field is longer than 100 characters");
        assert!(!text.is_empty());
    }
    if let Some(status) = &delivery.execution_status {
        assert_eq!(status, &status.to_ascii_uppercase(), "the status is kept in upper case");
    }
    assert_eq!(delivery.failed(), delivery.execution_status.as_deref() == Some("FAILED"));
    if let Ok(event) = serde_json::from_str::<serde_json::Value>(&text) {
        match parse_trigger(&event) {
            Trigger::Notification(deliveries) => assert!(!deliveries.is_empty()),
            Trigger::Continuation { run_id } => assert_eq!(event["continueRun"].as_str(), Some(run_id.as_str())),
            Trigger::Schedule | Trigger::Manual => {}
        }
        // Wrapped as SNS delivers it, it is one notification.
        let sns = serde_json::json!({"Records": [{"Sns": {"Message": text}}]});
        assert!(matches!(parse_trigger(&sns), Trigger::Notification(d) if d.len() == 1));
    }
}
