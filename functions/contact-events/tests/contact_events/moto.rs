//! moto's EventBridge and SQS for the tests: a bus whose rule sends every
//! `psc-bridge` event to a queue, and what reaches the queue. The setup
//! calls are AWS JSON requests signed like the function's own
//! (`psc_bridge::aws::signed`).

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use psc_bridge::aws::signed::{Request, SignedHttp, Signing};
use serde_json::{Value, json};

/// Test credentials, us-east-1, every service at `endpoint`.
pub fn sdk(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new("test", "test", None, None, "t")))
        .endpoint_url(endpoint)
        .build()
}

/// One AWS JSON call (`target` like `AWSEvents.CreateEventBus`); its answer.
pub async fn call(http: &SignedHttp, endpoint: &str, service: &str, version: &str, target: &str, body: Value) -> Value {
    let answer = http
        .send(Request {
            method: "POST",
            url: &format!("{}/", endpoint.trim_end_matches('/')),
            headers: vec![
                ("content-type", format!("application/x-amz-json-{version}")),
                ("x-amz-target", target.to_owned()),
            ],
            body: body.to_string().into_bytes(),
            signing: Signing::SigV4 { service, region: "us-east-1" },
        })
        .await
        .expect("the emulator answers");
    let text = String::from_utf8_lossy(&answer.body).into_owned();
    assert!(answer.status < 300, "{target}: HTTP {}: {text}", answer.status);
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A bus on moto at `endpoint` whose rule sends every `psc-bridge` event to
/// a queue.
pub struct BusToQueue {
    pub endpoint: String,
    pub sdk: SdkConfig,
    pub bus: String,
    pub queue_url: String,
    http: SignedHttp,
}

impl BusToQueue {
    pub async fn create(endpoint: &str) -> Self {
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        let sdk = sdk(&endpoint);
        let http = SignedHttp::new(&sdk, Duration::from_secs(5), Duration::from_secs(30), "test", "setup");
        let (bus, queue) = (devkit::unique_name("psc-bus"), devkit::unique_name("psc-events"));
        call(&http, &endpoint, "events", "1.1", "AWSEvents.CreateEventBus", json!({"Name": bus})).await;
        let q = call(&http, &endpoint, "sqs", "1.0", "AmazonSQS.CreateQueue", json!({"QueueName": queue})).await;
        let queue_url = q["QueueUrl"].as_str().expect("a queue URL").to_owned();
        let attributes = json!({"QueueUrl": queue_url, "AttributeNames": ["QueueArn"]});
        let attrs = call(&http, &endpoint, "sqs", "1.0", "AmazonSQS.GetQueueAttributes", attributes).await;
        let queue_arn = attrs["Attributes"]["QueueArn"].as_str().expect("the queue's ARN").to_owned();
        let pattern = json!({"source": ["psc-bridge"]}).to_string();
        let rule = json!({"Name": "to-queue", "EventBusName": bus, "EventPattern": pattern});
        call(&http, &endpoint, "events", "1.1", "AWSEvents.PutRule", rule).await;
        let targets = json!({"Rule": "to-queue", "EventBusName": bus, "Targets": [{"Id": "queue", "Arn": queue_arn}]});
        call(&http, &endpoint, "events", "1.1", "AWSEvents.PutTargets", targets).await;
        Self { endpoint, sdk, bus, queue_url, http }
    }

    /// The events that reach the queue, until `n` have (or 20 polls of 1 s).
    pub async fn receive(&self, n: usize) -> Vec<Value> {
        let mut got: Vec<Value> = Vec::new();
        for _ in 0..20 {
            let body = json!({"QueueUrl": self.queue_url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 1});
            let r = call(&self.http, &self.endpoint, "sqs", "1.0", "AmazonSQS.ReceiveMessage", body).await;
            for m in r["Messages"].as_array().into_iter().flatten() {
                got.push(serde_json::from_str(m["Body"].as_str().unwrap()).unwrap());
            }
            if got.len() >= n {
                break;
            }
        }
        got
    }
}
