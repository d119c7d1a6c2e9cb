//! The stand-in through the real `aws-sdk-marketplacecommerceanalytics` client and over HTTP.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::helpers::*;
use aws_sdk_marketplacecommerceanalytics as mca;
use aws_standin::{Delivery, DeliveryStatus, InjectedError, Running, Service, StandIn};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use mca::error::ProvideErrorMetadata;
use mca::operation::start_support_data_export::StartSupportDataExportError;

const WAIT: Duration = Duration::from_secs(30);

async fn standin(delivery: Delivery) -> Running {
    StandIn { lag: Duration::ZERO, delivery, s3: Some(unreachable_s3()), ..Default::default() }
        .start("127.0.0.1:0")
        .await
        .unwrap()
}

/// Calls the SDK and returns the service error's (code, message).
async fn expect_service_error(
    fb: mca::operation::start_support_data_export::builders::StartSupportDataExportFluentBuilder,
) -> (String, String) {
    let err = fb.send().await.expect_err("the stand-in must reject this request");
    let err = err.into_service_error();
    (err.code().unwrap_or_default().to_string(), err.message().unwrap_or_default().to_string())
}

#[tokio::test]
async fn sdk_request_validation() {
    let running = standin(Delivery::None).await;
    let client = sdk_client(&running.endpoint_url(), false);

    // nothing set: every required field reported.
    let (code, message) = expect_service_error(client.start_support_data_export()).await;
    assert_eq!(code, "ValidationException");
    for f in ["dataSetType", "fromDate", "roleNameArn", "destinationS3BucketName", "snsTopicArn"] {
        assert!(message.contains(&format!("'{f}'")), "{f} missing from: {message}");
    }

    // one missing field.
    let fb = client
        .start_support_data_export()
        .data_set_type(mca::types::SupportDataSetType::TestCustomerSupportContactsData)
        .from_date(mca::primitives::DateTime::from_secs(0))
        .role_name_arn(ROLE)
        .sns_topic_arn(TOPIC);
    let (code, message) = expect_service_error(fb).await;
    assert_eq!(code, "ValidationException");
    assert!(
        message.starts_with("1 validation error detected") && message.contains("'destinationS3BucketName'"),
        "{message}"
    );

    // bad data set type.
    let fb = export_request(&client, "bucket", 0)
        .data_set_type(mca::types::SupportDataSetType::from("customer_subscriber_hourly_monthly_subscriptions"));
    let (code, message) = expect_service_error(fb).await;
    assert_eq!(code, "ValidationException");
    assert!(message.contains("'dataSetType'") && message.contains("enum value set"), "{message}");

    // over-length strings.
    for (fb, field) in [
        (export_request(&client, "bucket", 0).role_name_arn("r".repeat(2049)), "roleNameArn"),
        (export_request(&client, &"b".repeat(64), 0), "destinationS3BucketName"),
        (export_request(&client, "bucket", 0).sns_topic_arn("t".repeat(257)), "snsTopicArn"),
        (export_request(&client, "", 0), "destinationS3BucketName"),
    ] {
        let (code, message) = expect_service_error(fb).await;
        assert_eq!(code, "ValidationException", "{field}");
        assert!(message.contains(&format!("'{field}'")) && message.contains("length"), "{message}");
    }

    // bad customerDefinedValues: too many, empty value, over-long key.
    let mut too_many = export_request(&client, "bucket", 0);
    for i in 0..6 {
        too_many = too_many.customer_defined_values(format!("k{i}"), "v");
    }
    for fb in [
        too_many,
        export_request(&client, "bucket", 0).customer_defined_values("k", ""),
        export_request(&client, "bucket", 0).customer_defined_values("k".repeat(256), "v"),
        export_request(&client, "bucket", 0).set_customer_defined_values(Some(HashMap::new())),
    ] {
        let (code, message) = expect_service_error(fb).await;
        assert_eq!(code, "ValidationException");
        assert!(message.contains("'customerDefinedValues'"), "{message}");
    }

    // nothing rejected reached the export stage.
    let requests = running.requests();
    assert_eq!(requests.len(), 11);
    assert!(requests.iter().all(|r| r.status == 400 && r.export.is_none()));
    // the SDK signed for the right service and region.
    let cred = requests[0].credential.as_ref().unwrap();
    assert_eq!((cred.service.as_str(), cred.region.as_str()), ("marketplacecommerceanalytics", "us-east-1"));
    assert_eq!(requests[0].target.as_deref(), Some("MarketplaceCommerceAnalytics20150701.StartSupportDataExport"));

    // a valid request with 5 customer defined values and fractional seconds is accepted.
    let mut ok = export_request(&client, "bucket", 1_462_320_000_123).destination_s3_prefix("p");
    for i in 0..5 {
        ok = ok.customer_defined_values(format!("k{i}"), "v");
    }
    let out = ok.send().await.expect("valid request accepted");
    let id = out.data_set_request_id().expect("dataSetRequestId").to_string();
    let entry = running.request(&id).expect("recorded");
    assert_eq!(entry.status, 200);
    assert_eq!(aws_standin::format_timestamp(entry.export.unwrap().coverage_start), "2016-05-04T00:00:00.123Z");
    running.shutdown().await;
}

#[tokio::test]
async fn modelled_exception_reaches_the_sdk_as_its_variant() {
    let running = standin(Delivery::None).await;
    let client = sdk_client(&running.endpoint_url(), false);
    running.inject_service_error(Service::Cas, InjectedError::service_fault("CAS is down", 1));
    let err = export_request(&client, "bucket", 0).send().await.unwrap_err();
    match err.into_service_error() {
        StartSupportDataExportError::MarketplaceCommerceAnalyticsException(e) => {
            assert_eq!(e.message(), Some("CAS is down"));
        }
        other => panic!("expected MarketplaceCommerceAnalyticsException, got {other:?}"),
    }
    assert_eq!(running.requests().last().unwrap().status, 500);

    // other error types come out as unmodelled errors with their code.
    running.inject_service_error(
        Service::Cas,
        InjectedError {
            error_type: "AccessDeniedException".into(),
            message: "not allowed".into(),
            status: Some(400),
            count: 1,
        },
    );
    let err = export_request(&client, "bucket", 0).send().await.unwrap_err().into_service_error();
    assert!(!err.is_marketplace_commerce_analytics_exception(), "{err:?}");
    assert_eq!(err.code(), Some("AccessDeniedException"));
    assert_eq!(err.message(), Some("not allowed"));

    // with the SDK's default retries a single 500 is retried away; three are not.
    let retrying = sdk_client(&running.endpoint_url(), true);
    running.inject_service_error(Service::Cas, InjectedError::service_fault("blip", 1));
    assert!(export_request(&retrying, "bucket", 0).send().await.is_ok());
    running.inject_service_error(Service::Cas, InjectedError::service_fault("down", 3));
    let err = export_request(&retrying, "bucket", 0).send().await.unwrap_err().into_service_error();
    assert!(err.is_marketplace_commerce_analytics_exception(), "{err:?}");
    running.shutdown().await;
}

#[tokio::test]
async fn fail_next_delivers_success_false_without_files() {
    let (delivery, mut rx) = Delivery::channel();
    let running = standin(delivery).await;
    let client = sdk_client(&running.endpoint_url(), false);
    running.fail_next("simulated CAS failure");
    let out = export_request(&client, "bucket", 0).customer_defined_values("run", "42").send().await.unwrap();
    let id = out.data_set_request_id().unwrap().to_string();
    let n = tokio::time::timeout(WAIT, rx.recv()).await.unwrap().unwrap();
    assert_eq!(n.data_set_request_id, id);
    let event = n.sns_event();
    let sns = &event.records[0].sns;
    assert_eq!(sns.topic_arn, TOPIC);
    let message: serde_json::Value = serde_json::from_str(&sns.message).unwrap();
    assert_eq!(
        message,
        serde_json::json!({
            "dataSetRequestId": id,
            "success": false,
            "message": "simulated CAS failure",
            "customerDefinedValues": {"run": "42"}
        })
    );
    let entry = running.wait_for_delivery(&id, WAIT).await.unwrap();
    assert!(!entry.export.as_ref().unwrap().written);
    assert!(matches!(entry.delivery, Some(DeliveryStatus::Delivered { .. })));

    // fail-next applies once: the next export tries to write (and fails on the unreachable S3).
    let out = export_request(&client, "bucket", 0).send().await.unwrap();
    let n = tokio::time::timeout(WAIT, rx.recv()).await.unwrap().unwrap();
    assert_eq!(n.data_set_request_id, out.data_set_request_id().unwrap());
    assert!(!n.message.success);
    let m = n.message.message.unwrap();
    assert!(m.starts_with("Failed to write s3://bucket/test_customer_support_contacts_data_"), "{m}");
    assert!(n.message.data_set_s3_location.is_none());
    running.shutdown().await;
}

/// A one-route HTTP server standing in for `cargo lambda watch`; records bodies, answers with
/// the given function-error header when set.
async fn fake_lambda(function_error: Option<&'static str>) -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/2015-03-31/functions/ingest-export/invocations", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let seen = seen2.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let seen = seen.clone();
                    async move {
                        assert_eq!(req.uri().path(), "/2015-03-31/functions/ingest-export/invocations");
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        seen.lock().unwrap().push(serde_json::from_slice(&body).unwrap());
                        let mut resp = http::Response::builder().status(200);
                        if let Some(fe) = function_error {
                            resp = resp.header("X-Amz-Function-Error", fe);
                        }
                        Ok::<_, Infallible>(resp.body(Full::new(Bytes::from_static(b"null"))).unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (url, seen)
}

#[tokio::test]
async fn http_delivery_posts_the_sns_event_and_reports_status() {
    let (url, seen) = fake_lambda(None).await;
    let running = standin(Delivery::http(&url)).await;
    let client = sdk_client(&running.endpoint_url(), false);
    running.fail_next("x");
    let id = export_request(&client, "bucket", 0).send().await.unwrap().data_set_request_id.unwrap();
    let entry = running.wait_for_delivery(&id, WAIT).await.unwrap();
    assert_eq!(entry.delivery, Some(DeliveryStatus::Delivered { detail: "HTTP 200: null".into() }));
    let posted = seen.lock().unwrap().pop().unwrap();
    let typed: aws_lambda_events::sns::SnsEvent = serde_json::from_value(posted.clone()).unwrap();
    assert_eq!(typed.records[0].sns.topic_arn, TOPIC);
    assert_eq!(posted["Records"][0]["EventSource"], "aws:sns");
    assert_eq!(posted["Records"][0]["Sns"]["Subject"], serde_json::Value::Null);
    running.shutdown().await;

    let (url, _) = fake_lambda(Some("Unhandled")).await;
    let running = standin(Delivery::http(&url)).await;
    let client = sdk_client(&running.endpoint_url(), false);
    running.fail_next("x");
    let id = export_request(&client, "bucket", 0).send().await.unwrap().data_set_request_id.unwrap();
    let entry = running.wait_for_delivery(&id, WAIT).await.unwrap();
    assert!(matches!(entry.delivery, Some(DeliveryStatus::Failed { ref error }) if error.contains("Unhandled")));
    running.shutdown().await;

    // nothing listening: failed, not hung.
    let running = standin(Delivery::http("http://127.0.0.1:9/x")).await;
    let client = sdk_client(&running.endpoint_url(), false);
    running.fail_next("x");
    let id = export_request(&client, "bucket", 0).send().await.unwrap().data_set_request_id.unwrap();
    let entry = running.wait_for_delivery(&id, WAIT).await.unwrap();
    assert!(matches!(entry.delivery, Some(DeliveryStatus::Failed { .. })), "{:?}", entry.delivery);
    running.shutdown().await;
}

#[tokio::test]
async fn callback_delivery_records_the_handlers_result() {
    let delivery = Delivery::callback(|n| async move {
        if n.message.success {
            Ok("applied".to_string())
        } else {
            Err(format!("export failed: {:?}", n.message.message))
        }
    });
    let running = standin(delivery).await;
    let client = sdk_client(&running.endpoint_url(), false);
    running.fail_next("nope");
    let id = export_request(&client, "bucket", 0).send().await.unwrap().data_set_request_id.unwrap();
    let entry = running.wait_for_delivery(&id, WAIT).await.unwrap();
    assert_eq!(entry.delivery, Some(DeliveryStatus::Failed { error: "export failed: Some(\"nope\")".into() }));
    running.shutdown().await;
}

#[tokio::test]
async fn wire_protocol_checks_outside_the_sdk() {
    let running = standin(Delivery::None).await;
    let url = format!("{}/", running.endpoint_url());
    let client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<Full<Bytes>>();
    let auth = "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/marketplacecommerceanalytics/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let send = |auth: Option<&'static str>, target: &'static str, ctype: &'static str| {
        let mut b = http::Request::post(url.as_str())
            .header("content-type", ctype)
            .header("x-amz-target", target)
            .header("x-amz-date", "20240101T000000Z");
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        let req = b.body(Full::new(Bytes::from_static(b"{}"))).unwrap();
        let fut = client.request(req);
        async move {
            let resp = fut.await.unwrap();
            let status = resp.status().as_u16();
            let error_type = resp.headers().get("x-amzn-ErrorType").map(|v| v.to_str().unwrap().to_string());
            let body: serde_json::Value =
                serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
            assert_eq!(error_type.as_deref(), body["__type"].as_str());
            (status, error_type.unwrap_or_default())
        }
    };
    let target = "MarketplaceCommerceAnalytics20150701.StartSupportDataExport";
    let ctype = "application/x-amz-json-1.1";
    assert_eq!(send(None, target, ctype).await, (403, "MissingAuthenticationTokenException".into()));
    let s3_scoped: &'static str = Box::leak(auth.replace("/marketplacecommerceanalytics/", "/s3/").into_boxed_str());
    assert_eq!(send(Some(s3_scoped), target, ctype).await, (403, "InvalidSignatureException".into()));
    assert_eq!(
        send(Some(auth), "MarketplaceCommerceAnalytics20150701.GenerateDataSet", ctype).await,
        (400, "UnknownOperationException".into())
    );
    assert_eq!(send(Some(auth), target, "application/json").await, (400, "SerializationException".into()));
    assert_eq!(send(Some(auth), target, ctype).await, (400, "ValidationException".into()));
    running.shutdown().await;

    // region pinning.
    let region = Some("us-east-1".to_string());
    let running =
        StandIn { lag: Duration::ZERO, s3: Some(unreachable_s3()), required_region: region, ..Default::default() }
            .start("127.0.0.1:0")
            .await
            .unwrap();
    let conf = mca::Config::builder()
        .behavior_version(mca::config::BehaviorVersion::latest())
        .region(mca::config::Region::new("eu-west-1"))
        .credentials_provider(mca::config::Credentials::new("AKID", "secret", None, None, "test"))
        .endpoint_url(running.endpoint_url())
        .build();
    let err = export_request(&mca::Client::from_conf(conf), "bucket", 0).send().await.unwrap_err();
    assert_eq!(err.into_service_error().code(), Some("InvalidSignatureException"));
    running.shutdown().await;
}

#[tokio::test]
async fn admin_endpoints() {
    let running = StandIn { lag: Duration::ZERO, s3: Some(unreachable_s3()), seed: true, ..Default::default() }
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let base = format!("{}/_admin", running.endpoint_url());

    assert_eq!(http("GET", &format!("{base}/health"), None).await, (200, serde_json::json!({"status": "ok"})));
    let (status, records) = http("GET", &format!("{base}/records"), None).await;
    assert_eq!(status, 200);
    assert_eq!(records.as_array().unwrap().len(), 5);
    let (status, history) = http("GET", &format!("{base}/records/1b4a2b5f-2c5d-4779-b0c7-2878b0f45cfc"), None).await;
    assert_eq!(status, 200);
    assert_eq!(history.as_array().unwrap().len(), 2);

    // add (CREATE derived), update (UPDATE derived), explicit type, delete.
    let record = serde_json::json!({
        "productId": "4b898955-84fa-4cfb-8f43-98287ad69c06",
        "productCode": "4gzp2symm0v9zidfrn9f854w6",
        "customerGuid": "aaaaaaaa-0000-4000-8000-000000000001",
        "subscriptionGuid": "cad371fb-6f2c-4537-a054-1a7afc6312fd",
        "subscriptionStartDate": "2024-01-01T00:00:00.000Z",
        "organization": "Example, Inc.",
        "awsCustomerId": "000011112222",
        "givenName": "Ada",
        "surname": "Lovelace",
        "telephoneNumber": "555-0100",
        "email": "ada@example.com",
        "operationTime": "2024-02-01T10:00:00Z"
    });
    let (status, stored) = http("POST", &format!("{base}/records"), Some(record.clone())).await;
    assert_eq!(status, 201, "{stored}");
    assert_eq!(stored["operationType"], "CREATE");
    assert_eq!(stored["operationTime"], "2024-02-01T10:00:00.000Z");
    let mut update = record.clone();
    update["email"] = "ada@example.org".into();
    update["operationTime"] = "2024-02-02T10:00:00Z".into();
    let (_, stored) = http("POST", &format!("{base}/records"), Some(serde_json::json!([update]))).await;
    assert_eq!(stored[0]["operationType"], "UPDATE");
    let (status, deleted) = http(
        "DELETE",
        &format!("{base}/records/aaaaaaaa-0000-4000-8000-000000000001?operationTime=2024-02-03T10%3A00%3A00.000Z"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(deleted["operationType"], "DELETE");
    assert_eq!(deleted["email"], serde_json::Value::Null);
    assert_eq!(deleted["awsCustomerId"], "000011112222");
    let (status, _) = http("DELETE", &format!("{base}/records/unknown"), Some(serde_json::json!({}))).await;
    assert_eq!(status, 404);
    let (status, body) = http("POST", &format!("{base}/records"), Some(serde_json::json!({"customerGuid": "x"}))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(running.store().history("aaaaaaaa-0000-4000-8000-000000000001").len(), 3);

    // explicit operation type and time.
    let mut explicit = record.clone();
    explicit["customerGuid"] = "aaaaaaaa-0000-4000-8000-000000000002".into();
    explicit["operationType"] = "UPDATE".into();
    let (_, stored) = http("POST", &format!("{base}/records"), Some(explicit)).await;
    assert_eq!(stored["operationType"], "UPDATE");

    // fail-next, error-next, requests, reset.
    let client = sdk_client(&running.endpoint_url(), false);
    let (status, _) = http("POST", &format!("{base}/error-next"), Some(serde_json::json!({"message": "down"}))).await;
    assert_eq!(status, 200);
    let err = export_request(&client, "bucket", 0).send().await.unwrap_err().into_service_error();
    assert!(err.is_marketplace_commerce_analytics_exception());
    let (status, _) = http("POST", &format!("{base}/fail-next"), Some(serde_json::json!({"message": "planned"}))).await;
    assert_eq!(status, 200);
    let id = export_request(&client, "bucket", 0).send().await.unwrap().data_set_request_id.unwrap();
    running.wait_for_delivery(&id, WAIT).await.unwrap();
    let (_, requests) = http("GET", &format!("{base}/requests"), None).await;
    let requests = requests.as_array().unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["status"], 500);
    assert_eq!(requests[0]["error"]["__type"], "MarketplaceCommerceAnalyticsException");
    assert_eq!(requests[1]["dataSetRequestId"], id.as_str());
    assert_eq!(requests[1]["export"]["injectedFailure"], "planned");
    assert_eq!(requests[1]["delivery"]["state"], "recorded");
    let message: serde_json::Value =
        serde_json::from_str(requests[1]["notification"]["snsEvent"]["Records"][0]["Sns"]["Message"].as_str().unwrap())
            .unwrap();
    assert_eq!(message["success"], false);
    assert_eq!(message["message"], "planned");

    let (_, reset) = http("POST", &format!("{base}/reset"), Some(serde_json::json!({"seed": false}))).await;
    assert_eq!(reset["records"], 0);
    let (_, reset) = http("POST", &format!("{base}/reset"), None).await;
    assert_eq!(reset["records"], 5);
    let (status, _) = http("GET", &format!("{base}/nope"), None).await;
    assert_eq!(status, 404);
    running.shutdown().await;
}

/// Full then incremental export through a real S3-compatible server: moto,
/// the one `with-emulators` started, or else one devkit starts for this process.
#[tokio::test]
async fn s3_round_trip() {
    let emulators = devkit::Emulators::get().await;
    let s3 = aws_standin::s3_client_for_endpoint(emulators.s3_endpoint());
    let bucket = devkit::unique_name("aws-standin");
    s3.create_bucket().bucket(&bucket).send().await.expect("create bucket");

    let (delivery, mut rx) = Delivery::channel();
    let running = StandIn { lag: Duration::ZERO, delivery, s3: Some(s3.clone()), seed: true, ..Default::default() }
        .start("127.0.0.1:0")
        .await
        .unwrap();
    let client = sdk_client(&running.endpoint_url(), false);
    let get = |key: String| {
        let s3 = s3.clone();
        let bucket = bucket.clone();
        async move {
            let o = s3.get_object().bucket(bucket).key(key).send().await.expect("object exists");
            String::from_utf8(o.body.collect().await.unwrap().into_bytes().to_vec()).unwrap()
        }
    };

    // full export from before any data.
    let out = export_request(&client, &bucket, 1_420_070_400_000) // 2015-01-01
        .destination_s3_prefix("psc/exports")
        .customer_defined_values("env", "test")
        .send()
        .await
        .unwrap();
    let id = out.data_set_request_id().unwrap().to_string();
    let n = tokio::time::timeout(WAIT, rx.recv()).await.unwrap().unwrap();
    assert!(n.message.success, "{:?}", n.message);
    assert_eq!(n.message.data_set_request_id, id);
    let loc = n.message.data_set_s3_location.clone().unwrap();
    let meta_loc = n.message.data_set_meta_data_s3_location.clone().unwrap();
    assert_eq!(loc.bucket_name, bucket);
    assert!(
        loc.key.starts_with("psc/exports/test_customer_support_contacts_data_2015-01-01T00-00-00Z_to_"),
        "{}",
        loc.key
    );
    let csv = get(loc.key.clone()).await;
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(lines.len(), 7, "{csv}"); // header + 5 rows + trailing empty
    assert_eq!(lines[0], aws_standin::CSV_HEADER.join(","));
    assert!(!csv.contains(",DELETE"), "the superseded DELETE of 1b4a2b5f is not exported");
    let meta: serde_json::Value = serde_json::from_str(&get(meta_loc.key.clone()).await).unwrap();
    assert_eq!(meta["dataSetRequestId"], id.as_str());
    assert_eq!(meta["dataSetCoverageRange"]["startDateTime"], "2015-01-01T00:00:00.000Z");
    assert_eq!(meta["dataSetS3Location"]["key"], loc.key.as_str());
    assert_eq!(meta["dataSetMetaDataS3Location"]["key"], meta_loc.key.as_str());
    assert_eq!(meta["dataSetRequestParameters"]["destinationS3Prefix"], "psc/exports");
    assert_eq!(meta["customerDefinedValues"]["env"], "test");
    let end = aws_standin::parse_timestamp(meta["dataSetCoverageRange"]["endDateTime"].as_str().unwrap()).unwrap();

    // incremental: one update and one delete after the first coverage end.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let mut contact = running.store().latest("6c83ff14-5167-43cc-bb9f-24865a78db72").unwrap().contact();
    contact.title = Some("CTO, \"Platform\"".into());
    running.store().upsert(contact, None);
    running.store().delete("ba1d75cc-d984-4f07-bb14-ae04b952afbc", None).unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let from_millis = (end.unix_timestamp_nanos() / 1_000_000) as i64;
    let out = export_request(&client, &bucket, from_millis).send().await.unwrap();
    let n = tokio::time::timeout(WAIT, rx.recv()).await.unwrap().unwrap();
    assert_eq!(n.message.data_set_request_id, out.data_set_request_id().unwrap());
    let csv = get(n.message.data_set_s3_location.unwrap().key).await;
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    let ravi = rows.iter().find(|r| &r[2] == "6c83ff14-5167-43cc-bb9f-24865a78db72").unwrap();
    assert_eq!((&ravi[11], &ravi[15]), ("CTO, \"Platform\"", "UPDATE"));
    let deleted = rows.iter().find(|r| &r[2] == "ba1d75cc-d984-4f07-bb14-ae04b952afbc").unwrap();
    assert_eq!(&deleted[15], "DELETE");
    assert!((5..14).filter(|&i| i != 6).all(|i| deleted[i].is_empty()), "{deleted:?}");
    assert_eq!(&deleted[6], "000011112222");

    // a bucket that does not exist: success:false with a message.
    let out = export_request(&client, "no-such-bucket-aws-standin", 0).send().await.unwrap();
    let n = tokio::time::timeout(WAIT, rx.recv()).await.unwrap().unwrap();
    assert_eq!(n.message.data_set_request_id, out.data_set_request_id().unwrap());
    assert!(!n.message.success);
    assert!(n.message.message.unwrap().contains("no-such-bucket-aws-standin"));
    running.shutdown().await;
}
