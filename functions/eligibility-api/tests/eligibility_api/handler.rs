//! Handler tests: API Gateway v2 events from `events/` through the router,
//! with the lookups in memory (the guide's sample export, read by the
//! library's own CSV reader). Every route and every error.

use crate::common::*;
use eligibility_api::{Api, ROUTES, RouteMatch, match_route};
use psc_bridge::ports::{ContactStore, ExportLog};
use serde_json::{Value, json};

fn api() -> Api<FakeLookups> {
    Api::new(from_csv(&guide_csv())).with_clock(now)
}

async fn call<S: ContactStore + ExportLog>(api: &Api<S>, event: &Value) -> ApiResponse {
    answer(api.handle(request(event)).await)
}

async fn fixture(name: &str) -> ApiResponse {
    call(&api(), &event_json(name)).await
}

fn assert_freshness(body: &Value) {
    assert_eq!(
        body["freshness"],
        json!({
            "watermark": WATERMARK,
            "ageSeconds": 72 * 3600,
            "businessAgeSeconds": 24 * 3600,
            "staleBeyondOneBusinessDay": false
        }),
        "{body}"
    );
}

fn assert_invalid(a: &ApiResponse, field: &str) {
    assert_eq!(a.status, 400, "{}", a.text);
    assert_eq!(a.body["error"]["code"], "InvalidParameter", "{}", a.text);
    assert_eq!(a.body["error"]["field"], field, "{}", a.text);
    assert!(a.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(a.headers["content-type"], "application/json");
}

fn guids(body: &Value) -> Vec<String> {
    body["contacts"].as_array().unwrap().iter().map(|c| c["customerGuid"].as_str().unwrap().to_owned()).collect()
}

// ------------------------------------------------------------------ routes

#[tokio::test]
async fn get_account_lists_products_subscriptions_and_contacts() {
    let a = fixture("api-get-account").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.headers["content-type"], "application/json");
    assert_eq!(a.headers["cache-control"], "no-store");
    let b = &a.body;
    assert_eq!(b["awsAccountId"], ACCOUNT);
    assert_eq!(b["eligible"], true);
    // No SellerProducts: PSC alone answers, and says the agreements were not asked.
    assert_eq!(b["sources"]["pscContacts"]["verdict"], "eligible");
    assert_eq!(b["sources"]["agreements"]["verdict"], "notConfigured");
    assert_eq!(b["agreements"], json!([]));
    // The guide's DELETE of 1b4a2b5f is older than its CREATE: both contacts stay.
    let mut g = guids(b);
    g.sort();
    assert_eq!(g, ["1b4a2b5f-2c5d-4779-b0c7-2878b0f45cfc", GUID]);
    assert_eq!(
        b["products"],
        json!([{
            "productCode": PRODUCT,
            "productId": "4b898955-84fa-4cfb-8f43-98287ad69c06",
            "subscriptionGuids": ["cad371fb-6f2c-4537-a054-1a7afc6312fd"],
            "contactCount": 2
        }])
    );
    // Two contacts of one subscription with different start dates: the earliest.
    assert_eq!(
        b["subscriptions"],
        json!([{
            "subscriptionGuid": "cad371fb-6f2c-4537-a054-1a7afc6312fd",
            "subscriptionStartDate": "2016-05-19T00:00:00.000Z",
            "productCode": PRODUCT,
            "productId": "4b898955-84fa-4cfb-8f43-98287ad69c06",
            "contactCount": 2
        }])
    );
    let angela = b["contacts"].as_array().unwrap().iter().find(|c| c["givenName"] == "Angela").unwrap();
    assert_eq!(
        *angela,
        json!({
            "customerGuid": "1b4a2b5f-2c5d-4779-b0c7-2878b0f45cfc",
            "awsAccountId": ACCOUNT,
            "productId": "4b898955-84fa-4cfb-8f43-98287ad69c06",
            "productCode": PRODUCT,
            "subscriptionGuid": "cad371fb-6f2c-4537-a054-1a7afc6312fd",
            "subscriptionStartDate": "2016-05-19T00:00:00.000Z",
            "organization": "Example Inc -- Service Division",
            "givenName": "Angela",
            "surname": "Doe",
            "telephoneNumber": "555-294-4528",
            "email": "adoe@example.com",
            "countryCode": "US",
            "zipCode": "02201",
            "operationTime": "2016-05-19T18:21:06.834Z"
        })
    );
    assert_eq!(b["nextCursor"], Value::Null);
    assert_freshness(b);
}

#[tokio::test]
async fn an_account_without_contacts_is_not_eligible_and_lists_are_empty() {
    let a = fixture("api-get-account-unknown").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["eligible"], false);
    for list in ["products", "subscriptions", "contacts"] {
        assert_eq!(a.body[list], json!([]), "{list}");
    }
    assert_eq!(a.body["nextCursor"], Value::Null);
    assert_freshness(&a.body);
}

#[tokio::test]
async fn account_pages_follow_the_cursor_and_eligibility_holds_on_an_empty_last_page() {
    let api = api();
    let first = call(&api, &event_json("api-get-account-page")).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["contacts"].as_array().unwrap().len(), 1);
    assert_eq!(first.body["subscriptions"][0]["contactCount"], 1, "aggregates cover the page");
    let cursor = first.body["nextCursor"].as_str().expect("a next cursor").to_owned();
    let second = call(&api, &with_query(event_json("api-get-account-page"), &format!("limit=1&cursor={cursor}"))).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_ne!(guids(&first.body), guids(&second.body));
    // The fake, like DynamoDB, gives a cursor after a full page even when nothing follows.
    let cursor = second.body["nextCursor"].as_str().expect("a next cursor").to_owned();
    let third = call(&api, &with_query(event_json("api-get-account-page"), &format!("limit=1&cursor={cursor}"))).await;
    assert_eq!(third.status, 200, "{}", third.text);
    assert_eq!(third.body["contacts"], json!([]));
    assert_eq!(third.body["nextCursor"], Value::Null);
    assert_eq!(third.body["eligible"], true, "eligibility is about the account, not the page");
}

#[tokio::test]
async fn get_account_product_says_eligible_with_the_subscriptions() {
    let a = fixture("api-get-account-product").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["awsAccountId"], ACCOUNT);
    assert_eq!(a.body["productCode"], PRODUCT);
    assert_eq!(a.body["eligible"], true);
    assert_eq!(a.body["subscriptions"].as_array().unwrap().len(), 1);
    assert_eq!(a.body["subscriptions"][0]["subscriptionGuid"], "cad371fb-6f2c-4537-a054-1a7afc6312fd");
    assert_eq!(a.body["contacts"].as_array().unwrap().len(), 2);
    assert_freshness(&a.body);

    // Another account's product: not eligible for this account.
    let other = with_path(
        event_json("api-get-account-product"),
        "GET",
        "/accounts/000011112222/products/c0dcyyqczbk5uc62acmp6450t",
    );
    let a = call(&api(), &other).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["eligible"], false);
    assert_eq!(a.body["subscriptions"], json!([]));
}

#[tokio::test]
async fn contacts_by_email_ignore_case() {
    let a = fixture("api-find-contacts").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(guids(&a.body), ["1b4a2b5f-2c5d-4779-b0c7-2878b0f45cfc"]);
    assert_freshness(&a.body);
    // Nothing found: an empty list, not a 404.
    let none = with_query(event_json("api-find-contacts"), "email=nobody%40example.com");
    let a = call(&api(), &none).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["contacts"], json!([]));
    assert_freshness(&a.body);
    // '+' in an address is kept, raw or encoded.
    for q in ["email=a+tag@example.com", "email=a%2Btag%40example.com"] {
        let a = call(&api(), &with_query(event_json("api-find-contacts"), q)).await;
        assert_eq!(a.status, 200, "{q}: {}", a.text);
    }
}

#[tokio::test]
async fn contact_by_guid_and_not_found() {
    let a = fixture("api-get-contact").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["contact"]["customerGuid"], GUID);
    assert_eq!(a.body["contact"]["email"], "eugethi@example.org");
    assert_freshness(&a.body);
    // Upper-case guid: the same contact.
    let upper = with_path(event_json("api-get-contact"), "GET", &format!("/contacts/{}", GUID.to_uppercase()));
    assert_eq!(call(&api(), &upper).await.body["contact"]["customerGuid"], GUID);

    let a = fixture("api-get-contact-not-found").await;
    assert_eq!(a.status, 404, "{}", a.text);
    assert_eq!(a.body["error"]["code"], "NotFound");
    assert_freshness(&a.body);
}

#[tokio::test]
async fn a_deleted_contact_is_not_found() {
    let fake = from_csv(&guide_csv());
    let delete = format!(
        "{}\n4b898955-84fa-4cfb-8f43-98287ad69c06,{PRODUCT},{GUID},cad371fb-6f2c-4537-a054-1a7afc6312fd,\
         2016-05-27T00:00:00.000Z,,{ACCOUNT},,,,,,,,2017-01-01T00:00:00.000Z,DELETE\n",
        guide_csv().lines().next().unwrap()
    );
    apply_csv(&fake, &delete);
    let api = Api::new(fake).with_clock(now);
    assert_eq!(call(&api, &event_json("api-get-contact")).await.status, 404);
    let a = call(&api, &event_json("api-get-account")).await;
    assert_eq!(guids(&a.body), ["1b4a2b5f-2c5d-4779-b0c7-2878b0f45cfc"]);
}

#[tokio::test]
async fn sync_status_shows_the_watermark_exports_and_freshness() {
    let a = fixture("api-get-sync").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["watermark"], WATERMARK);
    assert_eq!(a.body["pendingRanges"], json!([]));
    let e = &a.body["exports"][0];
    assert_eq!(e["requestId"], "c3c84ee0-5aba-11e6-8d9c-235dc080841d");
    assert_eq!(e["status"], "APPLIED");
    assert_eq!(e["counts"], json!({"created": 5, "updated": 1, "deleted": 0, "skippedStale": 0, "rejected": 0}));
    assert_freshness(&a.body);
}

#[tokio::test]
async fn an_export_in_flight_shows_its_progress_and_a_finished_one_does_not() {
    use psc_bridge::model::{Checkpoint, Counts, ExportRecord, ExportStatus, Position};
    let store = from_csv(&guide_csv());
    let at = psc_bridge::domain::Timestamp::parse("2026-11-23T17:30:00.000Z").unwrap();
    let checkpoint = Checkpoint {
        position: Position { byte: 12_000_000, line: 40_001 },
        size: 29_700_000,
        header: vec!["Product Id".into()],
        counts: Counts { created: 30_000, updated: 5_000, deleted: 4_000, skipped_stale: 960, rejected: 40 },
        rejects_parts: vec![],
        invocations: 3,
        at,
    };
    let mut running = ExportRecord::new("7b0e2c7a-0000-4000-8000-00000000f11e", ExportStatus::Applying);
    running.received_at = Some(at);
    running.checkpoint = Some(checkpoint.clone());
    store.insert_export(running);
    let mut done = ExportRecord::new("7b0e2c7a-0000-4000-8000-00000000d0e5", ExportStatus::Applied);
    done.received_at = Some(psc_bridge::domain::Timestamp::parse("2026-11-22T17:30:00.000Z").unwrap());
    done.checkpoint = Some(checkpoint);
    store.insert_export(done);
    let a = call(&Api::new(store).with_clock(now), &event_json("api-get-sync")).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let find = |id: &str| a.body["exports"].as_array().unwrap().iter().find(|e| e["requestId"] == id).cloned().unwrap();
    let running = find("7b0e2c7a-0000-4000-8000-00000000f11e");
    assert_eq!(running["status"], "APPLYING");
    assert_eq!(
        running["progress"],
        json!({
            "rows": 40_000, "bytesRead": 12_000_000, "bytes": 29_700_000, "shareRead": 0.404, "invocations": 3,
            "checkpointAt": "2026-11-23T17:30:00.000Z",
            "counts": {"created": 30_000, "updated": 5_000, "deleted": 4_000, "skippedStale": 960, "rejected": 40}
        })
    );
    assert!(find("7b0e2c7a-0000-4000-8000-00000000d0e5").get("progress").is_none(), "only exports in flight");
}

#[tokio::test]
async fn freshness_before_any_export_is_unknown_and_stale() {
    let fake = FakeLookups::new();
    apply_csv(&fake, &guide_csv());
    let a = call(&Api::new(fake).with_clock(now), &event_json("api-get-sync")).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["watermark"], Value::Null);
    assert_eq!(a.body["exports"], json!([]));
    assert_eq!(
        a.body["freshness"],
        json!({"watermark": null, "ageSeconds": null, "businessAgeSeconds": null, "staleBeyondOneBusinessDay": true})
    );
}

#[tokio::test]
async fn stale_data_is_flagged() {
    // Tuesday 17:00 after a Friday 17:00 watermark: two business days.
    let api = Api::new(from_csv(&guide_csv()))
        .with_clock(|| psc_bridge::domain::Timestamp::parse("2026-11-24T17:00:00.000Z").unwrap());
    let a = call(&api, &event_json("api-get-account")).await;
    assert_eq!(a.body["freshness"]["staleBeyondOneBusinessDay"], true);
    assert_eq!(a.body["freshness"]["businessAgeSeconds"], 48 * 3600);
}

#[tokio::test]
async fn lookups_reuse_a_recent_sync_state_and_sync_always_reads() {
    let api = api();
    let reads = || api.store().sync_reads();
    for name in ["api-get-account", "api-get-account-product", "api-find-contacts", "api-get-contact"] {
        let a = call(&api, &event_json(name)).await;
        assert_freshness(&a.body);
    }
    assert_eq!(reads(), 1, "one read, then the cache");
    call(&api, &event_json("api-get-sync")).await;
    call(&api, &event_json("api-get-sync")).await;
    assert_eq!(reads(), 3, "/sync always reads");
    call(&api, &event_json("api-get-contact-not-found")).await;
    assert_eq!(reads(), 3);

    let uncached = Api::new(from_csv(&guide_csv())).with_clock(now).with_freshness_cache(std::time::Duration::ZERO);
    for _ in 0..3 {
        assert_freshness(&call(&uncached, &event_json("api-get-account")).await.body);
    }
    assert_eq!(uncached.store().sync_reads(), 3);
}

// ------------------------------------------------------------------ errors

#[tokio::test]
async fn malformed_input_is_a_400_naming_the_field() {
    for (name, field) in [
        ("api-get-account-bad-id", "awsAccountId"),
        ("api-get-account-bad-limit", "limit"),
        ("api-get-account-bad-cursor", "cursor"),
        ("api-get-account-product-bad-code", "productCode"),
        ("api-find-contacts-bad-email", "email"),
        ("api-find-contacts-no-email", "email"),
        ("api-get-contact-bad-guid", "customerGuid"),
        ("api-get-sync-bad-limit", "limit"),
    ] {
        let a = fixture(name).await;
        assert_invalid(&a, field);
        assert!(a.body.get("freshness").is_none(), "{name}: a refused request carries no data");
    }
}

#[tokio::test]
async fn more_bad_parameters() {
    let account = || event_json("api-get-account");
    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("limit=1&limit=2", "limit"),
        ("cursor=", "cursor"),
        ("cursor=o999999x", "cursor"), // looks right, the store refuses it
        ("cursr=abc", "cursr"),
        ("email=adoe%40example.com", "email"), // not a parameter of this route
    ] {
        assert_invalid(&call(&api(), &with_query(account(), q)).await, field);
    }
    let product = || event_json("api-get-account-product");
    assert_invalid(&call(&api(), &with_query(product(), "limit=-5")).await, "limit");
    let bad_account = with_path(product(), "GET", &format!("/accounts/1234/products/{PRODUCT}"));
    assert_invalid(&call(&api(), &bad_account).await, "awsAccountId");
    let contacts = || event_json("api-find-contacts");
    let long = format!("email={}%40example.com", "a".repeat(250));
    for q in
        ["email=", "email=a%40b%40c", "email=%40example.com", "email=adoe%40", "email=a%20doe%40x.com", long.as_str()]
    {
        assert_invalid(&call(&api(), &with_query(contacts(), q)).await, "email");
    }
    assert_invalid(&call(&api(), &with_query(event_json("api-get-contact"), "x=1")).await, "x");
    for guid in ["not-a-guid", "ba1d75cc-d984-4f07-bb14-ae04b952afbz", "ba1d75ccd9844f07bb14ae04b952afbc"] {
        let e = with_path(event_json("api-get-contact"), "GET", &format!("/contacts/{guid}"));
        assert_invalid(&call(&api(), &e).await, "customerGuid");
    }
}

#[tokio::test]
async fn a_400_never_echoes_the_email() {
    let e = with_query(event_json("api-find-contacts"), "email=adoe%20secret%40example.com");
    let a = call(&api(), &e).await;
    assert_invalid(&a, "email");
    assert!(!a.text.contains("secret"), "{}", a.text);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let a = fixture("api-unknown-route").await;
    assert_eq!(a.status, 404, "{}", a.text);
    assert_eq!(a.body["error"]["code"], "NotFound");
    let a = fixture("api-wrong-method").await;
    assert_eq!(a.status, 405, "{}", a.text);
    assert_eq!(a.body["error"]["code"], "MethodNotAllowed");
    assert_eq!(a.headers["allow"], "GET");
    for (method, path, status) in [
        ("GET", "/", 404),
        ("GET", "/accounts", 404),
        ("GET", "/accounts/000011112222/products", 404),
        ("GET", "/accounts/000011112222/products/4gzp2symm0v9zidfrn9f854w6/x", 404),
        ("GET", "/sync/now", 404),
        ("DELETE", "/contacts/ba1d75cc-d984-4f07-bb14-ae04b952afbc", 405),
        ("HEAD", "/sync", 405),
        ("OPTIONS", "/accounts/000011112222", 405),
        ("PUT", "/nowhere", 404),
    ] {
        let a = call(&api(), &with_path(event_json("api-get-sync"), method, path)).await;
        assert_eq!(a.status, status, "{method} {path}: {}", a.text);
    }
}

#[tokio::test]
async fn internal_errors_are_500_with_the_request_id_and_no_detail() {
    let api = Api::new(failing_store()).with_clock(now);
    for name in ["api-get-account", "api-get-account-product", "api-find-contacts", "api-get-contact", "api-get-sync"] {
        let a = call(&api, &with_request_id(event_json(name), "req-500-test")).await;
        assert_eq!(a.status, 500, "{name}: {}", a.text);
        assert_eq!(
            a.body,
            json!({"error": {"code": "InternalError", "message": "internal error; quote the requestId to the operators", "requestId": "req-500-test"}}),
            "{name}"
        );
        for secret in [SECRET_TABLE, "ResourceNotFound", "DynamoDB", "Query", "Table"] {
            assert!(!a.text.contains(secret), "{name}: {secret} in {}", a.text);
        }
    }
}

#[tokio::test]
async fn odd_requests_never_panic_and_always_answer_json() {
    let api = api();
    let paths = [
        "",
        "/",
        "//",
        "/accounts//",
        "/accounts/%",
        "/accounts/%FF%FE",
        "/accounts/%30%30%30%30%31%31%31%31%32%32%32%32",
        "/contacts/%00",
        "/sync/%2F",
        "/accounts/000011112222/products/%E2%82%AC",
        "/../../etc/passwd",
        "/accounts/000011112222/products/4gzp2symm0v9zidfrn9f854w6/",
        "/ACCOUNTS/000011112222",
    ];
    let queries =
        ["", "&&&", "=", "limit", "limit=", "cursor=%", "email", "email=%FF", "a=b=c", "limit=2147483648", "%=%"];
    for p in paths {
        for q in queries {
            let e = with_query(with_path(event_json("api-get-account"), "GET", p), q);
            let a = call(&api, &e).await;
            assert!([200, 400, 404].contains(&a.status), "{p}?{q}: {} {}", a.status, a.text);
            if a.status != 200 {
                assert!(a.body["error"]["code"].is_string(), "{p}?{q}: {}", a.text);
            }
        }
    }
    // Percent-encoded digits are still the account id.
    let e = with_path(event_json("api-get-account"), "GET", "/accounts/%30%30%30%30%31%31%31%31%32%32%32%32");
    assert_eq!(call(&api, &e).await.body["eligible"], true);
}

// ------------------------------------------------------- event sources

#[tokio::test]
async fn function_url_events_and_named_stages_are_routed_on_the_path() {
    let a = fixture("api-function-url-get-account").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["eligible"], true);
    // A named stage: API Gateway puts it in front of the raw path.
    let mut e = with_path(event_json("api-get-sync"), "GET", "/prod/sync");
    e["requestContext"]["stage"] = json!("prod");
    assert_eq!(call(&api(), &e).await.status, 200);
    // cargo lambda watch may leave a double slash.
    let e = with_path(event_json("api-function-url-get-account"), "GET", "//accounts/000011112222");
    assert_eq!(call(&api(), &e).await.status, 200);
}

#[test]
fn every_route_has_a_fixture_and_every_fixture_a_known_route() {
    let mut seen = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(repo_root().join("events")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !(name.starts_with("api-") && name.ends_with(".json")) {
            continue;
        }
        let e = event_json(name.trim_end_matches(".json"));
        assert_eq!(e["version"], "2.0", "{name}: payload format 2.0");
        let route_key = e["routeKey"].as_str().unwrap();
        if route_key != "$default" {
            assert!(ROUTES.iter().any(|r| r.key() == route_key), "{name}: route key {route_key} is not served");
        }
        let method = e["requestContext"]["http"]["method"].as_str().unwrap();
        if let RouteMatch::Found(route, _) = match_route(method, e["rawPath"].as_str().unwrap()) {
            seen.insert(route.key());
        }
    }
    for r in ROUTES {
        assert!(seen.contains(&r.key()), "no events/api-*.json fixture for {}", r.key());
    }
}

// ------------------------------------------------------------------ audit

#[tokio::test]
async fn every_lookup_is_audited_with_caller_route_kind_and_count() {
    let logs = capture_logs();
    let api = api();
    let cases = [
        (
            "api-get-account",
            "audit-acc",
            "iam",
            "arn:aws:sts::123456789012:assumed-role/SupportStaff/support-agent",
            "/accounts/{awsAccountId}",
            "account",
            Some(ACCOUNT),
            2,
            200,
        ),
        (
            "api-get-account-jwt",
            "audit-jwt",
            "jwt",
            "3f1c0e8e-support-agent-7",
            "/accounts/{awsAccountId}",
            "account",
            Some(ACCOUNT),
            2,
            200,
        ),
        (
            "api-get-account-product",
            "audit-prod",
            "iam",
            "arn:aws:sts::123456789012:assumed-role/SupportStaff/support-agent",
            "/accounts/{awsAccountId}/products/{productCode}",
            "product",
            Some("000011112222/4gzp2symm0v9zidfrn9f854w6"),
            2,
            200,
        ),
        (
            "api-find-contacts",
            "audit-email",
            "iam",
            "arn:aws:sts::123456789012:assumed-role/SupportStaff/support-agent",
            "/contacts",
            "email",
            None,
            1,
            200,
        ),
        (
            "api-get-contact",
            "audit-guid",
            "iam",
            "arn:aws:sts::123456789012:assumed-role/SupportStaff/support-agent",
            "/contacts/{customerGuid}",
            "guid",
            Some(GUID),
            1,
            200,
        ),
        (
            "api-get-contact-not-found",
            "audit-404",
            "iam",
            "arn:aws:sts::123456789012:assumed-role/SupportStaff/support-agent",
            "/contacts/{customerGuid}",
            "guid",
            Some("00000000-0000-4000-8000-000000000000"),
            0,
            404,
        ),
        (
            "api-get-sync",
            "audit-sync",
            "iam",
            "arn:aws:sts::123456789012:assumed-role/SupportStaff/support-agent",
            "/sync",
            "sync",
            None,
            1,
            200,
        ),
        ("api-anonymous-get-sync", "audit-anon", "none", "anonymous", "/sync", "sync", None, 1, 200),
        (
            "api-get-subscribers",
            "audit-report",
            "iam",
            "arn:aws:sts::123456789012:assumed-role/SupportStaff/support-agent",
            "/products/{productCode}/subscribers",
            "report",
            Some(PRODUCT),
            0,
            200,
        ),
        (
            "api-get-account-bad-id",
            "audit-400",
            "iam",
            "arn:aws:sts::123456789012:assumed-role/SupportStaff/support-agent",
            "/accounts/{awsAccountId}",
            "account",
            None,
            0,
            400,
        ),
        (
            "api-unknown-route",
            "audit-nf",
            "iam",
            "arn:aws:sts::123456789012:assumed-role/SupportStaff/support-agent",
            "-",
            "none",
            None,
            0,
            404,
        ),
    ];
    for (fixture, rid, auth, caller, route, kind, key, results, status) in cases {
        let a = call(&api, &with_request_id(event_json(fixture), rid)).await;
        assert_eq!(a.status, status, "{fixture}");
        let line = logs.audit_line(rid);
        assert_eq!(line["auth"], auth, "{fixture}: {line}");
        assert_eq!(line["caller"], caller, "{fixture}: {line}");
        assert_eq!(line["route"], route, "{fixture}: {line}");
        assert_eq!(line["key_kind"], kind, "{fixture}: {line}");
        assert_eq!(line["key"], key.unwrap_or("-"), "{fixture}: {line}");
        assert_eq!(line["results"], results, "{fixture}: {line}");
        assert_eq!(line["status"], status, "{fixture}: {line}");
        assert_eq!(line["level"], "INFO");
    }
    // Never a contact field, never the email looked up (in any case).
    let text = logs.text();
    for v in contact_values(&guide_csv()) {
        assert!(!text.contains(&v), "contact value {v:?} in the logs");
    }
    assert!(!text.to_lowercase().contains("adoe@example.com"));
    assert!(!text.contains("ADoe"));
}

#[tokio::test]
async fn a_500_is_logged_with_the_operation_not_the_detail() {
    let logs = capture_logs();
    let api = Api::new(failing_store()).with_clock(now);
    let a = call(&api, &with_request_id(event_json("api-find-contacts"), "audit-500")).await;
    assert_eq!(a.status, 500);
    let lines = logs.lines_with("audit-500");
    let err = lines.iter().find(|l| l["level"] == "ERROR").expect("an error line");
    assert_eq!(err["code"], "ResourceNotFoundException", "{err}");
    assert_eq!(logs.audit_line("audit-500")["status"], 500);
    let text = logs.text();
    assert!(!text.contains(SECRET_TABLE), "the DynamoDB message is not logged");
    assert!(!text.to_lowercase().contains("adoe@example.com"));
}
