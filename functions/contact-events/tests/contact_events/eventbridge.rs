//! `psc_bridge::aws::EventBridgeBus` over the wire, against moto's
//! EventBridge (the server devkit starts for the tests, which serves S3,
//! EventBridge and SQS alike): a bus, a rule on `source: psc-bridge` with an
//! SQS queue as its target, and the events read back from the queue.

use psc_bridge::aws::EventBridgeBus;
use psc_bridge::domain::Timestamp;
use psc_bridge::ports::{BusEvent, EventBus};
use serde_json::{Value, json};

use crate::moto::BusToQueue;

#[tokio::test]
async fn put_events_reaches_a_rules_target_on_moto() {
    let emu = devkit::Emulators::get().await;
    let moto = BusToQueue::create(emu.s3_endpoint()).await;

    let events: Vec<BusEvent> = (0..3)
        .map(|i| BusEvent {
            source: "psc-bridge".into(),
            detail_type: "PSC Contact Deleted".into(),
            detail: json!({"schemaVersion": 1, "eventId": format!("e{i}"), "customerGuid": "ba1d75cc-d984-4f07-bb14-ae04b952afbc"})
                .to_string(),
            time: Some(Timestamp::now()),
        })
        .collect();
    let outcome = EventBridgeBus::new(&moto.sdk, &moto.bus).put_events(&events).await.expect("PutEvents answers");
    assert_eq!(outcome, vec![None, None, None], "every entry accepted");

    let got: Vec<Value> = moto.receive(3).await;
    assert_eq!(got.len(), 3, "{got:?}");
    let mut ids: Vec<String> = got.iter().map(|e| e["detail"]["eventId"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    assert_eq!(ids, ["e0", "e1", "e2"]);
    assert!(got.iter().all(|e| e["source"] == "psc-bridge" && e["detail-type"] == "PSC Contact Deleted"), "{got:?}");
}
