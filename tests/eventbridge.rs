//! `psc_bridge::aws::EventBridgeBus` over the wire, against moto's
//! EventBridge (the server devkit starts for the tests, which serves S3,
//! EventBridge and SQS alike): a bus, a rule on `source: psc-bridge` with an
//! SQS queue as its target, and the events read back from the queue.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use psc_bridge::aws::EventBridgeBus;
use psc_bridge::aws::signed::{Request, SignedHttp, Signing};
use psc_bridge::domain::Timestamp;
use psc_bridge::ports::{BusEvent, EventBus};
use serde_json::{Value, json};

fn sdk(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new("test", "test", None, None, "t")))
        .endpoint_url(endpoint)
        .build()
}

/// One AWS JSON call to moto (`target` like `AWSEvents.CreateEventBus`).
async fn call(http: &SignedHttp, endpoint: &str, service: &str, version: &str, target: &str, body: Value) -> Value {
    let answer = http
        .send(Request {
            method: "POST",
            url: &format!("{endpoint}/"),
            headers: vec![
                ("content-type", format!("application/x-amz-json-{version}")),
                ("x-amz-target", target.to_owned()),
            ],
            body: body.to_string().into_bytes(),
            signing: Signing::SigV4 { service, region: "us-east-1" },
        })
        .await
        .expect("moto answers");
    let text = String::from_utf8_lossy(&answer.body).into_owned();
    assert!(answer.status < 300, "{target}: HTTP {}: {text}", answer.status);
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

#[tokio::test]
async fn put_events_reaches_a_rules_target_on_moto() {
    let emu = devkit::Emulators::get().await;
    let endpoint = emu.s3_endpoint().trim_end_matches('/').to_owned();
    let sdk = sdk(&endpoint);
    let http = SignedHttp::new(&sdk, Duration::from_secs(5), Duration::from_secs(30), "test", "setup");
    let bus = devkit::unique_name("psc-bus");
    let queue = devkit::unique_name("psc-events");

    call(&http, &endpoint, "events", "1.1", "AWSEvents.CreateEventBus", json!({"Name": bus})).await;
    let q = call(&http, &endpoint, "sqs", "1.0", "AmazonSQS.CreateQueue", json!({"QueueName": queue})).await;
    let queue_url = q["QueueUrl"].as_str().expect("a queue URL").to_owned();
    let attrs = call(
        &http,
        &endpoint,
        "sqs",
        "1.0",
        "AmazonSQS.GetQueueAttributes",
        json!({"QueueUrl": queue_url, "AttributeNames": ["QueueArn"]}),
    )
    .await;
    let queue_arn = attrs["Attributes"]["QueueArn"].as_str().expect("the queue's ARN").to_owned();
    let pattern = json!({"source": ["psc-bridge"]}).to_string();
    call(
        &http,
        &endpoint,
        "events",
        "1.1",
        "AWSEvents.PutRule",
        json!({"Name": "to-queue", "EventBusName": bus, "EventPattern": pattern}),
    )
    .await;
    call(
        &http,
        &endpoint,
        "events",
        "1.1",
        "AWSEvents.PutTargets",
        json!({"Rule": "to-queue", "EventBusName": bus, "Targets": [{"Id": "queue", "Arn": queue_arn}]}),
    )
    .await;

    let events: Vec<BusEvent> = (0..3)
        .map(|i| BusEvent {
            source: "psc-bridge".into(),
            detail_type: "PSC Contact Deleted".into(),
            detail: json!({"schemaVersion": 1, "eventId": format!("e{i}"), "customerGuid": "ba1d75cc-d984-4f07-bb14-ae04b952afbc"})
                .to_string(),
            time: Some(Timestamp::now()),
        })
        .collect();
    let outcome = EventBridgeBus::new(&sdk, &bus).put_events(&events).await.expect("PutEvents answers");
    assert_eq!(outcome, vec![None, None, None], "every entry accepted");

    let mut got: Vec<Value> = Vec::new();
    for _ in 0..20 {
        let r = call(
            &http,
            &endpoint,
            "sqs",
            "1.0",
            "AmazonSQS.ReceiveMessage",
            json!({"QueueUrl": queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1}),
        )
        .await;
        for m in r["Messages"].as_array().into_iter().flatten() {
            got.push(serde_json::from_str(m["Body"].as_str().unwrap()).unwrap());
        }
        if got.len() >= 3 {
            break;
        }
    }
    assert_eq!(got.len(), 3, "{got:?}");
    let mut ids: Vec<String> = got.iter().map(|e| e["detail"]["eventId"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    assert_eq!(ids, ["e0", "e1", "e2"]);
    assert!(got.iter().all(|e| e["source"] == "psc-bridge" && e["detail-type"] == "PSC Contact Deleted"), "{got:?}");
}
