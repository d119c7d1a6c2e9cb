//! EC2's `ConfirmProductInstance`: Query requests signed with aws-sigv4, sent with hyper.

use std::time::{Duration, Instant};

use crate::helpers::*;
use aws_standin::seed::*;
use aws_standin::{InjectedError, Instance, InstanceState, Protocol, Running, Service, StandIn};

async fn standin() -> Running {
    StandIn { s3: Some(unreachable_s3()), ..Default::default() }.start("127.0.0.1:0").await.unwrap()
}

fn confirm<'a>(instance_id: &'a str, product_code: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("Action", "ConfirmProductInstance"),
        ("Version", "2016-11-15"),
        ("InstanceId", instance_id),
        ("ProductCode", product_code),
    ]
}

/// `(return, ownerId)` of a successful answer; panics on anything else.
async fn confirmed(running: &Running, region: &str, instance_id: &str, product_code: &str) -> (bool, String) {
    let (status, xml) =
        ec2_call(&running.endpoint_url(), Some(region), "ec2", &confirm(instance_id, product_code)).await;
    assert_eq!(status, 200, "{xml}");
    assert!(
        xml.contains("<ConfirmProductInstanceResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"),
        "{xml}"
    );
    assert!(xml_text(&xml, "requestId").is_some_and(|r| !r.is_empty()), "{xml}");
    (xml_text(&xml, "return").unwrap() == "true", xml_text(&xml, "ownerId").unwrap().to_string())
}

/// `(status, Code)` of an EC2 error answer; panics when it is not EC2's error document.
async fn ec2_error(running: &Running, region: Option<&str>, service: &str, params: &[(&str, &str)]) -> (u16, String) {
    let (status, xml) = ec2_call(&running.endpoint_url(), region, service, params).await;
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>"), "{xml}");
    assert!(xml_text(&xml, "Message").is_some_and(|m| !m.is_empty()), "{xml}");
    assert!(xml_text(&xml, "RequestID").is_some_and(|r| !r.is_empty()), "{xml}");
    (status, xml_text(&xml, "Code").unwrap().to_string())
}

#[tokio::test]
async fn confirm_product_instance_answers_like_ec2() {
    let running = standin().await;
    // attached and running.
    assert_eq!(confirmed(&running, "us-east-1", INSTANCE_RUNNING, PRODUCT_CODE_1).await, (true, ACCOUNT_ACTIVE.into()));
    // stopped: false, with its owner.
    assert_eq!(
        confirmed(&running, "us-east-1", INSTANCE_STOPPED, PRODUCT_CODE_2).await,
        (false, ACCOUNT_EXPIRED.into())
    );
    // running, but another product: false, with its owner.
    assert_eq!(
        confirmed(&running, "us-east-1", INSTANCE_RUNNING, PRODUCT_CODE_2).await,
        (false, ACCOUNT_ACTIVE.into())
    );
    // someone else's instance: true, and the owner tells whose it is.
    assert_eq!(
        confirmed(&running, "us-east-1", INSTANCE_OTHER_OWNER, PRODUCT_CODE_1).await,
        (true, ACCOUNT_OTHER.into())
    );
    // instances live in one region: the credential scope's.
    assert_eq!(confirmed(&running, "eu-west-1", INSTANCE_EU, PRODUCT_CODE_1).await, (true, ACCOUNT_ACTIVE.into()));
    let not_found = ("InvalidInstanceID.NotFound".to_string(), 400);
    for (region, id) in
        [("eu-west-1", INSTANCE_RUNNING), ("us-east-1", INSTANCE_EU), ("us-east-1", "i-0123456789abcdef0")]
    {
        let (status, code) = ec2_error(&running, Some(region), "ec2", &confirm(id, PRODUCT_CODE_1)).await;
        assert_eq!((code, status), not_found, "{id} in {region}");
    }

    // the request log: service, protocol, operation, signing scope, parameters, outcome.
    let log = running.requests();
    assert_eq!(log.len(), 8);
    let first = &log[0];
    assert_eq!((first.service, first.protocol), (Service::Ec2, Protocol::Query));
    assert_eq!(first.operation.as_deref(), Some("ConfirmProductInstance"));
    assert_eq!((first.signing_service.as_deref(), first.signing_region.as_deref()), (Some("ec2"), Some("us-east-1")));
    assert_eq!(first.instance_id.as_deref(), Some(INSTANCE_RUNNING));
    assert_eq!(first.product_code.as_deref(), Some(PRODUCT_CODE_1));
    assert_eq!(first.status, 200);
    assert_eq!(first.result.as_ref().unwrap()["ownerId"], ACCOUNT_ACTIVE);
    let eu = &log[5];
    assert_eq!((eu.signing_region.as_deref(), eu.status), (Some("eu-west-1"), 400));
    assert_eq!(eu.error.as_ref().unwrap().error_type, "InvalidInstanceID.NotFound");
    running.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_ec2_errors() {
    let running = standin().await;
    // (region of the signature, None: unsigned; signing service; parameters; status; code)
    type Case<'a> = (Option<&'a str>, &'a str, Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (Some("us-east-1"), "ec2", confirm("i-0a1b2c3d4e5f6071", PRODUCT_CODE_1), 400, "InvalidInstanceID.Malformed"),
        (Some("us-east-1"), "ec2", confirm("instance-1", PRODUCT_CODE_1), 400, "InvalidInstanceID.Malformed"),
        (
            Some("us-east-1"),
            "ec2",
            vec![("Action", "ConfirmProductInstance"), ("Version", "2016-11-15"), ("InstanceId", INSTANCE_RUNNING)],
            400,
            "MissingParameter",
        ),
        (
            Some("us-east-1"),
            "ec2",
            vec![("Action", "ConfirmProductInstance"), ("ProductCode", PRODUCT_CODE_1)],
            400,
            "MissingParameter",
        ),
        (
            Some("us-east-1"),
            "ec2",
            vec![("Action", "DescribeInstances"), ("Version", "2016-11-15")],
            400,
            "InvalidAction",
        ),
        (None, "ec2", confirm(INSTANCE_RUNNING, PRODUCT_CODE_1), 401, "AuthFailure"),
        (Some("us-east-1"), "s3", confirm(INSTANCE_RUNNING, PRODUCT_CODE_1), 401, "AuthFailure"),
    ];
    for (region, service, params, status, code) in cases {
        assert_eq!(ec2_error(&running, region, service, &params).await, (status, code.to_string()), "{params:?}");
    }
    // the unsigned and wrongly scoped requests are logged with what the header said.
    let log = running.requests();
    assert_eq!(log[5].signing_service, None);
    assert_eq!(log[6].signing_service.as_deref(), Some("s3"));
    running.shutdown().await;
}

#[tokio::test]
async fn injected_errors() {
    let running = standin().await;
    // injected: the next two EC2 calls are throttled; CAS and later calls are not affected.
    running.inject_service_error(Service::Ec2, InjectedError::of_type("RequestLimitExceeded", 2));
    for _ in 0..2 {
        let (status, code) =
            ec2_error(&running, Some("us-east-1"), "ec2", &confirm(INSTANCE_RUNNING, PRODUCT_CODE_1)).await;
        assert_eq!((status, code.as_str()), (503, "RequestLimitExceeded"));
    }
    assert!(confirmed(&running, "us-east-1", INSTANCE_RUNNING, PRODUCT_CODE_1).await.0);

    // the same through the admin endpoint, with an explicit type.
    let admin = format!("{}/_admin", running.endpoint_url());
    let (status, body) = http(
        "POST",
        &format!("{admin}/error-next"),
        Some(
            serde_json::json!({"service": "ec2", "type": "UnauthorizedOperation", "message": "You are not authorized"}),
        ),
    )
    .await;
    assert_eq!((status, &body["status"]), (200, &serde_json::json!(403)), "{body}");
    let (status, xml) =
        ec2_call(&running.endpoint_url(), Some("us-east-1"), "ec2", &confirm(INSTANCE_RUNNING, PRODUCT_CODE_1)).await;
    assert_eq!(
        (status, xml_text(&xml, "Code"), xml_text(&xml, "Message")),
        (403, Some("UnauthorizedOperation"), Some("You are not authorized"))
    );
    let (status, _) = http("POST", &format!("{admin}/error-next"), Some(serde_json::json!({"service": "ec2"}))).await;
    assert_eq!(status, 200);
    assert_eq!(
        ec2_error(&running, Some("us-east-1"), "ec2", &confirm(INSTANCE_RUNNING, PRODUCT_CODE_1)).await,
        (500, "InternalError".into())
    );
    let (status, _) = http("POST", &format!("{admin}/error-next"), Some(serde_json::json!({"service": "s3"}))).await;
    assert_eq!(status, 400);
    running.shutdown().await;
}

#[tokio::test]
async fn instances_admin_routes_and_library_methods() {
    let running = standin().await;
    let admin = format!("{}/_admin", running.endpoint_url());
    let (status, list) = http("GET", &format!("{admin}/instances"), None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 4);
    assert_eq!(running.instances().len(), 4);

    // add: a running instance of the third product.
    let new_id = "i-0fedcba9876543210";
    let instance = serde_json::json!({"instanceId": new_id, "ownerId": "333344445555", "region": "us-west-2",
        "state": "running", "productCodes": [PRODUCT_CODE_3]});
    let (status, stored) = http("POST", &format!("{admin}/instances"), Some(instance.clone())).await;
    assert_eq!((status, &stored["state"]), (201, &serde_json::json!("running")), "{stored}");
    assert_eq!(http("POST", &format!("{admin}/instances"), Some(instance.clone())).await.0, 409);
    assert_eq!(confirmed(&running, "us-west-2", new_id, PRODUCT_CODE_3).await, (true, "333344445555".into()));

    // replace (the library): stopped now.
    let mut stopped = running.instances()[new_id].clone();
    stopped.state = InstanceState::Stopped;
    assert!(running.instances().insert(new_id.to_string(), stopped).is_some());
    assert!(!confirmed(&running, "us-west-2", new_id, PRODUCT_CODE_3).await.0);

    // delete: not found any more.
    assert_eq!(http("DELETE", &format!("{admin}/instances/{new_id}"), None).await.0, 200);
    assert_eq!(http("DELETE", &format!("{admin}/instances/{new_id}"), None).await.0, 404);
    let (status, code) = ec2_error(&running, Some("us-west-2"), "ec2", &confirm(new_id, PRODUCT_CODE_3)).await;
    assert_eq!((status, code.as_str()), (400, "InvalidInstanceID.NotFound"));

    // bad input.
    let (status, body) = http(
        "POST",
        &format!("{admin}/instances"),
        Some(serde_json::json!({"instanceId": "i-xyz", "ownerId": "1", "region": "us-east-1", "state": "running"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        http("POST", &format!("{admin}/instances"), Some(serde_json::json!({"instanceId": new_id, "state": "asleep"})))
            .await
            .0,
        400
    );

    // the library methods.
    let instance = Instance::new("i-1234abcd", "000011112222", "us-east-1", InstanceState::Running, &[PRODUCT_CODE_2]);
    running.instances().insert(instance.instance_id.clone(), instance);
    assert!(confirmed(&running, "us-east-1", "i-1234abcd", PRODUCT_CODE_2).await.0);
    assert!(running.instances().remove(INSTANCE_RUNNING).is_some());
    assert_eq!(
        ec2_error(&running, Some("us-east-1"), "ec2", &confirm(INSTANCE_RUNNING, PRODUCT_CODE_1)).await.1,
        "InvalidInstanceID.NotFound"
    );

    // reset reseeds.
    let (_, reset) = http("POST", &format!("{admin}/reset"), None).await;
    assert_eq!((reset["instances"].as_u64(), reset["agreements"].as_u64()), (Some(4), Some(4)), "{reset}");
    assert!(running.instances().get("i-1234abcd").is_none());
    assert!(confirmed(&running, "us-east-1", INSTANCE_RUNNING, PRODUCT_CODE_1).await.0);
    let (_, reset) = http("POST", &format!("{admin}/reset"), Some(serde_json::json!({"seed": false}))).await;
    assert_eq!(reset["instances"], 0);
    running.shutdown().await;
}

#[tokio::test]
async fn latency_per_service() {
    let latency = [(Service::Ec2, Duration::from_millis(300))].into();
    let running =
        StandIn { s3: Some(unreachable_s3()), latency, ..Default::default() }.start("127.0.0.1:0").await.unwrap();
    assert_eq!(running.latency(Service::Ec2), Duration::from_millis(300));
    let started = Instant::now();
    assert!(confirmed(&running, "us-east-1", INSTANCE_RUNNING, PRODUCT_CODE_1).await.0);
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());

    // a client with a shorter timeout gives up.
    let (_, config) = http(
        "PUT",
        &format!("{}/_admin/latency", running.endpoint_url()),
        Some(serde_json::json!({"ec2": 2000, "agreements": 0})),
    )
    .await;
    assert_eq!((config["ec2"].as_u64(), config["agreements"].as_u64()), (Some(2000), Some(0)), "{config}");
    let (endpoint, params) = (running.endpoint_url(), confirm(INSTANCE_RUNNING, PRODUCT_CODE_1));
    let call = ec2_call(&endpoint, Some("us-east-1"), "ec2", &params);
    assert!(tokio::time::timeout(Duration::from_millis(500), call).await.is_err(), "answered before its latency");

    // the other services are not slowed down; back to none.
    let started = Instant::now();
    let (status, _) = http("GET", &format!("{}/_admin/health", running.endpoint_url()), None).await;
    assert_eq!(status, 200);
    running.set_latency(Service::Ec2, Duration::ZERO);
    assert!(confirmed(&running, "us-east-1", INSTANCE_RUNNING, PRODUCT_CODE_1).await.0);
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
    // shutdown does not wait out a pending latency.
    running.set_latency(Service::Ec2, Duration::from_secs(60));
    let endpoint = running.endpoint_url();
    let pending = tokio::spawn(async move {
        ec2_call(&endpoint, Some("us-east-1"), "ec2", &confirm(INSTANCE_RUNNING, PRODUCT_CODE_1)).await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    running.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    pending.abort();
}
