//! The `aws-standin` binary, reached by an SDK client configured only through the standard
//! environment variables (`AWS_ENDPOINT_URL_MARKETPLACE_COMMERCE_ANALYTICS`). That client
//! runs in a child process (this test binary again, [`sdk_client_from_env_helper`]) with
//! those variables set on its command: setting them in this process would race with the
//! other tests of the binary under `cargo test`.

use std::convert::Infallible;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::*;
use aws_sdk_marketplacecommerceanalytics as mca;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};

#[tokio::test]
async fn binary_serves_sdk_client_configured_by_env_and_logs_no_contact_fields() {
    // A receiver standing in for `cargo lambda watch`.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let invoke_url =
        format!("http://{}/2015-03-31/functions/ingest-export/invocations", listener.local_addr().unwrap());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<serde_json::Value>();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let tx = tx.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let tx = tx.clone();
                    async move {
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        tx.send(serde_json::from_slice(&body).unwrap()).unwrap();
                        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from_static(b"{}"))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });

    let s3_endpoint = devkit::Emulators::get().await.s3_endpoint();
    let mut child = Command::new(env!("CARGO_BIN_EXE_aws-standin"))
        .args(["--listen", "127.0.0.1:0", "--lag-seconds", "0", "--no-seed", "--deliver-to", &invoke_url])
        .env("AWS_ENDPOINT_URL_S3", s3_endpoint)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run aws-standin");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let endpoint = line
        .trim()
        .strip_prefix("aws-standin listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .to_string();
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");

    // Contact data with distinctive values that must never show up in the logs.
    let bucket = devkit::unique_name("aws-standin-bin");
    let record = serde_json::json!({
        "productId": "4b898955-84fa-4cfb-8f43-98287ad69c06",
        "productCode": "4gzp2symm0v9zidfrn9f854w6",
        "customerGuid": "bbbbbbbb-0000-4000-8000-000000000001",
        "subscriptionGuid": "cad371fb-6f2c-4537-a054-1a7afc6312fd",
        "subscriptionStartDate": "2024-01-01T00:00:00.000Z",
        "organization": "Quuxcorp Secretorg",
        "awsCustomerId": "000011112222",
        "givenName": "Zebulonius",
        "surname": "Xanthopoulos",
        "telephoneNumber": "555-7777-9999",
        "email": "zebulonius@example.net",
        "title": "Chief Quux",
        "zipCode": "02201"
    });
    let (status, _) = http("POST", &format!("{endpoint}/_admin/records"), Some(record)).await;
    assert_eq!(status, 201);
    let (status, _) =
        http("DELETE", &format!("{endpoint}/_admin/records/bbbbbbbb-0000-4000-8000-000000000001"), None).await;
    assert_eq!(status, 200);

    aws_standin::s3_client_for_endpoint(s3_endpoint).create_bucket().bucket(&bucket).send().await.unwrap();
    // The SDK client, configured only by the environment, in a child process.
    let mut helper = Command::new(std::env::current_exe().unwrap());
    devkit::remove_aws_env(&mut helper);
    let helper = helper
        .args(["--exact", "binary::sdk_client_from_env_helper", "--ignored", "--nocapture", "--test-threads", "1"])
        .env(HELPER_BUCKET_ENV, &bucket)
        .env(aws_standin::ENDPOINT_ENV_VAR, &endpoint)
        .env("AWS_ACCESS_KEY_ID", "AKIDSTANDINTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let helper_out = String::from_utf8_lossy(&helper.stdout);
    let id = helper_out
        .lines()
        // libtest prints the test's name on the same line.
        .find_map(|l| l.split("REQUEST_ID=").nth(1)?.split_whitespace().next())
        .unwrap_or_else(|| {
            panic!("the SDK client got no answer: {helper_out}\n{}", String::from_utf8_lossy(&helper.stderr))
        })
        .to_owned();

    let event = tokio::time::timeout(Duration::from_secs(60), rx.recv()).await.unwrap().unwrap();
    let typed: aws_lambda_events::sns::SnsEvent = serde_json::from_value(event).unwrap();
    let message: serde_json::Value = serde_json::from_str(&typed.records[0].sns.message).unwrap();
    assert_eq!(message["dataSetRequestId"], id.as_str());
    assert_eq!(message["success"], true, "{message}");

    // The request log shows the delivery.
    let mut delivered = serde_json::Value::Null;
    for _ in 0..100 {
        let (_, entry) = http("GET", &format!("{endpoint}/_admin/requests/{id}"), None).await;
        if entry["delivery"]["state"] != "pending" {
            delivered = entry;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(delivered["delivery"]["state"], "delivered", "{delivered}");

    // SIGTERM: clean shutdown; the logs mention ids and counts, never contact fields.
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    let mut logs = String::new();
    child.stderr.take().unwrap().read_to_string(&mut logs).unwrap();
    assert!(logs.contains("bbbbbbbb-0000-4000-8000-000000000001"), "{logs}");
    assert!(logs.contains(&id), "{logs}");
    assert!(logs.contains("aws-standin stopped"), "{logs}");
    for secret in
        ["Zebulonius", "Xanthopoulos", "555-7777-9999", "zebulonius@example.net", "Quuxcorp", "Chief Quux", "02201"]
    {
        assert!(!logs.contains(secret), "logs contain contact field {secret:?}:\n{logs}");
    }
}

/// Names the bucket for [`sdk_client_from_env_helper`]; set only on its command.
const HELPER_BUCKET_ENV: &str = "CAS_STANDIN_TEST_HELPER_BUCKET";

/// Run by `binary_serves_sdk_client_configured_by_env_and_logs_no_contact_fields`
/// in a child process whose environment configures the SDK: starts one export
/// with a client from `aws_config::load_defaults` and prints its request id.
#[tokio::test]
#[ignore = "helper, run in a child process by binary_serves_sdk_client_configured_by_env_and_logs_no_contact_fields"]
async fn sdk_client_from_env_helper() {
    let Ok(bucket) = std::env::var(HELPER_BUCKET_ENV) else { return };
    let sdk_config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = mca::Client::new(&sdk_config);
    let out = export_request(&client, &bucket, 0).send().await.expect("the binary answers the SDK");
    println!("REQUEST_ID={}", out.data_set_request_id().unwrap());
}

/// Names the seller the [`agreement_client_from_env_helper`] expects; set only on its command.
const HELPER_SELLER_ENV: &str = "CAS_STANDIN_TEST_HELPER_SELLER";

#[tokio::test]
async fn binary_serves_the_agreement_sdk_configured_by_env_as_the_given_seller() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aws-standin"))
        .args(["--listen", "127.0.0.1:0", "--seller-account-id", "123456789012"])
        .env("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run aws-standin");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let endpoint = line.trim().strip_prefix("aws-standin listening on ").unwrap().to_string();

    let mut helper = Command::new(std::env::current_exe().unwrap());
    devkit::remove_aws_env(&mut helper);
    let helper = helper
        .args([
            "--exact",
            "binary::agreement_client_from_env_helper",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(HELPER_SELLER_ENV, "123456789012")
        .env(aws_standin::AGREEMENT_ENDPOINT_ENV_VAR, &endpoint)
        .env("AWS_ACCESS_KEY_ID", "AKIDSTANDINTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    let out = String::from_utf8_lossy(&helper.stdout);
    assert!(
        out.contains("AGREEMENTS=3"),
        "the Agreement SDK got no answer: {out}\n{}",
        String::from_utf8_lossy(&helper.stderr)
    );
}

/// Run by `binary_serves_the_agreement_sdk_configured_by_env_as_the_given_seller` in a child
/// process whose environment configures the SDK (only `AWS_ENDPOINT_URL_MARKETPLACE_AGREEMENT`
/// points it at the stand-in): prints how many of the seller's agreements it found.
#[tokio::test]
#[ignore = "helper, run in a child process by binary_serves_the_agreement_sdk_configured_by_env_as_the_given_seller"]
async fn agreement_client_from_env_helper() {
    use aws_sdk_marketplaceagreement as mpa;
    let Ok(seller) = std::env::var(HELPER_SELLER_ENV) else { return };
    let sdk_config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = mpa::Client::new(&sdk_config);
    let out = client
        .search_agreements()
        .catalog("AWSMarketplace")
        .filters(mpa::types::Filter::builder().name("PartyType").values("Proposer").build())
        .filters(mpa::types::Filter::builder().name("AgreementType").values("PurchaseAgreement").build())
        .send()
        .await
        .expect("the binary answers the Agreement SDK");
    let summaries = out.agreement_view_summaries();
    assert!(summaries.iter().all(|a| a.proposer().and_then(|p| p.account_id()) == Some(seller.as_str())));
    println!("AGREEMENTS={}", summaries.len());
}
