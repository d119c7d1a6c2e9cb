//! The Agreement API's `SearchAgreements` through the unmodified `aws-sdk-marketplaceagreement`
//! client (RPC v2 CBOR).

use crate::helpers::*;
use aws_sdk_marketplaceagreement as mpa;
use aws_standin::seed::*;
use aws_standin::{InjectedError, Protocol, Running, Service, StandIn};
use mpa::error::ProvideErrorMetadata;
use mpa::operation::search_agreements::SearchAgreementsError;
use mpa::primitives::DateTime;
use mpa::types::{AgreementStatus, Filter};

async fn standin() -> Running {
    StandIn { s3: Some(unreachable_s3()), ..Default::default() }.start("127.0.0.1:0").await.unwrap()
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn search(
    client: &mpa::Client,
    filters: &[(&str, &str)],
) -> mpa::operation::search_agreements::builders::SearchAgreementsFluentBuilder {
    filters.iter().fold(client.search_agreements().catalog("AWSMarketplace"), |b, (n, v)| b.filters(filter(n, v)))
}

const PROPOSER_PURCHASES: [(&str, &str); 2] = [("PartyType", "Proposer"), ("AgreementType", "PurchaseAgreement")];

fn secs(t: time::OffsetDateTime) -> DateTime {
    DateTime::from_secs(t.unix_timestamp())
}

#[tokio::test]
async fn sdk_finds_the_sellers_agreement_of_one_buyer() {
    let running = standin().await;
    let client = agreement_client(&running.endpoint_url(), false);
    let out = search(&client, &[PROPOSER_PURCHASES[0], PROPOSER_PURCHASES[1], ("AcceptorAccountId", ACCOUNT_ACTIVE)])
        .send()
        .await
        .expect("SearchAgreements answers");
    // the agreement of another seller with the same buyer is not the caller's.
    let summaries = out.agreement_view_summaries();
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    let a = &summaries[0];
    assert_eq!(a.agreement_id(), Some(AGREEMENT_ACTIVE));
    assert_eq!(a.agreement_type(), Some("PurchaseAgreement"));
    assert_eq!(a.status(), Some(&AgreementStatus::Active));
    assert_eq!(a.acceptor().and_then(|x| x.account_id()), Some(ACCOUNT_ACTIVE));
    assert_eq!(a.proposer().and_then(|x| x.account_id()), Some(SELLER_ACCOUNT_ID));
    assert_eq!(a.acceptance_time(), Some(&secs(time::macros::datetime!(2024-01-15 10:30 UTC))));
    assert_eq!(a.start_time(), Some(&secs(time::macros::datetime!(2024-01-15 10:30 UTC))));
    assert_eq!(a.end_time(), Some(&secs(AGREEMENT_ACTIVE_END)));
    let proposal = a.proposal_summary().unwrap();
    assert_eq!(proposal.offer_id(), Some(OFFER_ACTIVE));
    assert_eq!(proposal.offer_set_id(), None);
    let resources = proposal.resources();
    assert_eq!(resources.len(), 1);
    assert_eq!((resources[0].id(), resources[0].r#type()), (Some(PRODUCT_ID_1), Some("AmiProduct")));
    assert_eq!(out.next_token(), None);

    // the request log: CBOR, signed for aws-marketplace in us-east-1, with its filters.
    let entry = running.requests().pop().unwrap();
    assert_eq!((entry.service, entry.protocol, entry.status), (Service::Agreements, Protocol::Cbor, 200));
    assert_eq!(entry.operation.as_deref(), Some("SearchAgreements"));
    assert_eq!(
        (entry.signing_service.as_deref(), entry.signing_region.as_deref()),
        (Some("aws-marketplace"), Some("us-east-1"))
    );
    let filters = entry.filters.unwrap();
    assert_eq!(filters.len(), 3);
    assert_eq!(filters[2].name.as_deref(), Some("AcceptorAccountId"));
    assert_eq!(filters[2].values.as_deref(), Some(&[ACCOUNT_ACTIVE.to_string()][..]));
    assert_eq!(entry.result.unwrap()["agreementIds"], serde_json::json!([AGREEMENT_ACTIVE]));

    // the expired agreement of the other buyer, and the offer set of the third.
    let out = search(&client, &[PROPOSER_PURCHASES[0], PROPOSER_PURCHASES[1], ("AcceptorAccountId", ACCOUNT_EXPIRED)])
        .send()
        .await
        .unwrap();
    let a = &out.agreement_view_summaries()[0];
    assert_eq!((a.status(), a.end_time()), (Some(&AgreementStatus::Expired), Some(&secs(AGREEMENT_EXPIRED_END))));
    let out = search(&client, &[PROPOSER_PURCHASES[0], PROPOSER_PURCHASES[1], ("AcceptorAccountId", ACCOUNT_ACTIVE_2)])
        .send()
        .await
        .unwrap();
    let a = &out.agreement_view_summaries()[0];
    assert_eq!(a.proposal_summary().and_then(|p| p.resources()[0].id()), Some(PRODUCT_ID_3));
    assert_eq!(a.proposal_summary().and_then(|p| p.offer_set_id()), Some(OFFER_SET_ACTIVE_2));
    running.shutdown().await;
}

#[tokio::test]
async fn sdk_paginator_walks_the_pages() {
    let running = standin().await;
    let client = agreement_client(&running.endpoint_url(), false);
    let pages: Vec<_> = search(&client, &PROPOSER_PURCHASES)
        .max_results(1)
        .into_paginator()
        .send()
        .try_collect()
        .await
        .expect("every page answers");
    assert_eq!(pages.len(), 3);
    assert!(pages.iter().all(|p| p.agreement_view_summaries().len() == 1));
    // EndTime ascending (the default sort): the expired one first.
    let ids: Vec<_> = pages.iter().map(|p| p.agreement_view_summaries()[0].agreement_id().unwrap()).collect();
    assert_eq!(ids, [AGREEMENT_EXPIRED, AGREEMENT_ACTIVE, AGREEMENT_ACTIVE_2]);
    assert!(pages[0].next_token().is_some() && pages[2].next_token().is_none());
    let log = running.requests();
    assert_eq!(log.len(), 3);
    assert!(log[0].parameters.as_ref().unwrap().get("nextToken").is_none());
    assert_eq!(log[1].parameters.as_ref().unwrap()["nextToken"], pages[0].next_token().unwrap());
    assert_eq!(log[1].parameters.as_ref().unwrap()["maxResults"], 1);

    // items(), two per page.
    let items: Vec<_> = search(&client, &PROPOSER_PURCHASES)
        .max_results(2)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<_> = items.iter().map(|a| a.agreement_id().unwrap()).collect();
    assert_eq!(ids, [AGREEMENT_EXPIRED, AGREEMENT_ACTIVE, AGREEMENT_ACTIVE_2]);

    // a token that is not one of ours, or of another search: ValidationException.
    let err = search(&client, &PROPOSER_PURCHASES).next_token("bm90YXRva2Vu").send().await.unwrap_err();
    match err.into_service_error() {
        SearchAgreementsError::ValidationException(e) => {
            assert_eq!(e.reason().map(|r| r.as_str()), Some("INVALID_NEXT_TOKEN"));
        }
        other => panic!("expected ValidationException, got {other:?}"),
    }
    let token = pages[0].next_token().unwrap();
    let err = search(&client, &[PROPOSER_PURCHASES[0], PROPOSER_PURCHASES[1], ("AcceptorAccountId", ACCOUNT_ACTIVE)])
        .next_token(token)
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_validation_exception());
    running.shutdown().await;
}

#[tokio::test]
async fn sdk_gets_modelled_errors() {
    let running = standin().await;
    let client = agreement_client(&running.endpoint_url(), false);

    running.inject_service_error(
        Service::Agreements,
        InjectedError::of_type("ThrottlingException", 1).with_message("Rate exceeded"),
    );
    match search(&client, &PROPOSER_PURCHASES).send().await.unwrap_err().into_service_error() {
        SearchAgreementsError::ThrottlingException(e) => assert_eq!(e.message(), Some("Rate exceeded")),
        other => panic!("expected ThrottlingException, got {other:?}"),
    }
    assert_eq!(running.requests().last().unwrap().status, 429);
    running.inject_service_error(Service::Agreements, InjectedError::of_type("InternalServerException", 1));
    let err = search(&client, &PROPOSER_PURCHASES).send().await.unwrap_err().into_service_error();
    assert!(err.is_internal_server_exception(), "{err:?}");
    assert_eq!(running.requests().last().unwrap().status, 500);
    running.inject_service_error(Service::Agreements, InjectedError::of_type("AccessDeniedException", 1));
    let err = search(&client, &PROPOSER_PURCHASES).send().await.unwrap_err().into_service_error();
    assert!(err.is_access_denied_exception(), "{err:?}");
    assert_eq!(running.requests().last().unwrap().status, 403);
    // not modelled for SearchAgreements: a generic error with its code.
    running.inject_service_error(Service::Agreements, InjectedError::of_type("ResourceNotFoundException", 1));
    let err = search(&client, &PROPOSER_PURCHASES).send().await.unwrap_err().into_service_error();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    assert_eq!(running.requests().last().unwrap().status, 404);

    // validation of the request, as modelled ValidationExceptions with their reason.
    for (fb, reason) in [
        (search(&client, &PROPOSER_PURCHASES).max_results(51), "INVALID_MAX_RESULTS"),
        (search(&client, &PROPOSER_PURCHASES).catalog("Other"), "INVALID_CATALOG"),
        (search(&client, &[PROPOSER_PURCHASES[1]]), "INVALID_FILTERS"),
        (search(&client, &[PROPOSER_PURCHASES[0], PROPOSER_PURCHASES[1], ("Status", "ACTIVE")]), "UNSUPPORTED_FILTERS"),
        (search(&client, &[("PartyType", "Acceptor"), PROPOSER_PURCHASES[1]]), "UNSUPPORTED_FILTERS"),
        (
            search(&client, &PROPOSER_PURCHASES).sort(mpa::types::Sort::builder().sort_by("EndTime").build()),
            "INVALID_SORT_BY",
        ),
    ] {
        match fb.send().await.unwrap_err().into_service_error() {
            SearchAgreementsError::ValidationException(e) => assert_eq!(e.reason().map(|r| r.as_str()), Some(reason)),
            other => panic!("expected ValidationException {reason}, got {other:?}"),
        }
    }

    // with the SDK's standard retries, one throttle is retried away.
    let retrying = agreement_client(&running.endpoint_url(), true);
    running.clear_requests();
    running.inject_service_error(Service::Agreements, InjectedError::of_type("ThrottlingException", 1));
    assert!(search(&retrying, &PROPOSER_PURCHASES).send().await.is_ok());
    let statuses: Vec<u16> = running.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 200]);
    running.shutdown().await;
}

#[tokio::test]
async fn signature_scope_is_checked() {
    let running = standin().await;
    let url = format!("{}/service/AWSMPCommerceService_v20200301/operation/SearchAgreements", running.endpoint_url());
    let cbor_headers = |auth: Option<&(String, String)>| {
        let mut h =
            vec![("content-type", "application/cbor".to_string()), ("smithy-protocol", "rpc-v2-cbor".to_string())];
        if let Some((a, d)) = auth {
            h.push(("authorization", a.clone()));
            h.push(("x-amz-date", d.clone()));
        }
        h
    };
    let call = |headers: Vec<(&'static str, String)>| {
        let url = url.clone();
        async move {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let (status, headers, body) = raw("POST", &url, &headers, vec![0xa0]).await;
            assert_eq!(headers["smithy-protocol"], "rpc-v2-cbor");
            assert_eq!(headers["content-type"], "application/cbor");
            let doc = aws_standin::agreements::cbor_to_json(&body).unwrap();
            (status, doc["__type"].as_str().unwrap().to_string())
        }
    };
    assert_eq!(call(cbor_headers(None)).await, (403, "MissingAuthenticationTokenException".into()));
    let ec2_scoped = fake_sigv4("us-east-1", "ec2");
    assert_eq!(call(cbor_headers(Some(&ec2_scoped))).await, (403, "InvalidSignatureException".into()));
    // signed right, but an empty body lacks the required catalog and filters.
    let scoped = fake_sigv4("us-east-1", "aws-marketplace");
    assert_eq!(
        call(cbor_headers(Some(&scoped))).await,
        (400, "com.amazonaws.marketplaceagreement#ValidationException".into())
    );
    let log = running.requests();
    assert_eq!(log[1].signing_service.as_deref(), Some("ec2"));
    assert_eq!(log[2].signing_service.as_deref(), Some("aws-marketplace"));
    running.shutdown().await;
}

#[tokio::test]
async fn agreements_admin_routes_and_seller_account() {
    let seller_account_id = "123456789012".to_string();
    let running = StandIn { s3: Some(unreachable_s3()), seller_account_id, ..Default::default() }
        .start("127.0.0.1:0")
        .await
        .unwrap();
    assert_eq!(running.seller_account_id(), "123456789012");
    let client = agreement_client(&running.endpoint_url(), false);
    let proposed = |out: &mpa::operation::search_agreements::SearchAgreementsOutput| -> Vec<String> {
        out.agreement_view_summaries().iter().map(|a| a.agreement_id().unwrap().to_string()).collect()
    };
    // the seeded agreements are the configured seller's.
    let out = search(&client, &PROPOSER_PURCHASES).send().await.unwrap();
    assert_eq!(proposed(&out).len(), 3);
    assert!(out.agreement_view_summaries().iter().all(|a| a.proposer().unwrap().account_id() == Some("123456789012")));

    let admin = format!("{}/_admin", running.endpoint_url());
    let (status, list) = http("GET", &format!("{admin}/agreements"), None).await;
    assert_eq!((status, list.as_array().unwrap().len()), (200, 4));
    // add one for a new buyer (defaults: this seller, ACTIVE, PurchaseAgreement).
    let (status, added) = http(
        "POST",
        &format!("{admin}/agreements"),
        Some(serde_json::json!({
            "agreementId": "agmt-newbuyer0000000000000001",
            "acceptorAccountId": "222233334444",
            "resources": [{"id": PRODUCT_ID_2, "type": "SaaSProduct"}],
            "endTime": "2032-01-01T00:00:00Z"
        })),
    )
    .await;
    assert_eq!(status, 201, "{added}");
    assert_eq!((added["proposerAccountId"].as_str(), added["status"].as_str()), (Some("123456789012"), Some("ACTIVE")));
    let out = search(&client, &[PROPOSER_PURCHASES[0], PROPOSER_PURCHASES[1], ("AcceptorAccountId", "222233334444")])
        .send()
        .await
        .unwrap();
    assert_eq!(proposed(&out), ["agmt-newbuyer0000000000000001"]);
    assert_eq!(
        out.agreement_view_summaries()[0].end_time(),
        Some(&secs(time::macros::datetime!(2032-01-01 00:00 UTC)))
    );
    let (status, _) = http("POST", &format!("{admin}/agreements"), Some(added.clone())).await;
    assert_eq!(status, 409);
    let (status, body) =
        http("POST", &format!("{admin}/agreements"), Some(serde_json::json!({"acceptorAccountId": "1"}))).await;
    assert_eq!(status, 400, "{body}");

    // delete.
    assert_eq!(http("DELETE", &format!("{admin}/agreements/agmt-newbuyer0000000000000001"), None).await.0, 200);
    assert_eq!(http("DELETE", &format!("{admin}/agreements/agmt-newbuyer0000000000000001"), None).await.0, 404);
    assert!(running.agreements().get("agmt-newbuyer0000000000000001").is_none());
    assert!(running.agreements().remove(AGREEMENT_ACTIVE).is_some());
    let out = search(&client, &PROPOSER_PURCHASES).send().await.unwrap();
    assert_eq!(proposed(&out).len(), 2);
    // reset reseeds.
    running.reset(true);
    assert_eq!(running.agreements().len(), 4);
    running.shutdown().await;
}
