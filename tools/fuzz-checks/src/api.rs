//! The eligibility API's path and query parameters, through the router
//! (`eligibility_api::Api::handle`, over an in-memory store holding the PSC
//! guide's sample contacts). The input is a method byte, then the raw path
//! and `?` query of an API Gateway v2 event.
//!
//! * The answer is 200, 400, 404 or 405 (the store never fails here), with
//!   a JSON body; every error body has a code.
//! * 404-no-route and 405 exactly when the route table says so; a 405
//!   names the allowed methods.
//! * A 400 names its field and a fixed rule text: it quotes no value of the
//!   query or path (an email address, say).

use std::sync::OnceLock;

use eligibility_api::{Api, RouteMatch, match_route};
use lambda_http::{Body, Request};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use psc_bridge::export_csv::{ExportReader, Row};
use psc_bridge::memory::MemoryStore;
use serde_json::Value;

use crate::{block_on, digits_as_n};

/// What a request line cannot hold as is (lambda_http panics on it:
/// `request.rs`, "failed to build request: InvalidUriChar").
const NOT_URI: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|');

const METHODS: [&str; 6] = ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"];

/// The messages of a 400 (eligibility_api::params), numbers as `N`.
const MESSAGES: &[&str] = &[
    "is required: GET /contacts?email=<address>",
    "must be at most N characters",
    "must not contain spaces or control characters",
    "must be an email address: exactly one '@' with text on both sides",
    "must be a whole number from N to N",
    "is not a cursor of this listing: pass nextCursor from the previous page unchanged",
    "is given more than once",
    "is not valid UTF-N once decoded",
    "is required: GET /accounts/{awsAccountId}/instances/{instanceId}?productCode=<code>",
    "must be N digits (leading zeroes kept)",
    "must be N alphanumeric characters",
    "must be a N-character GUID (N-N-N-N-N hexadecimal)",
    "must be i- and N or N hexadecimal digits, like i-NaNbNcNdNeNfN",
    "must be an AWS region name, like us-east-N",
    "is not one of the seller's products (stack parameter SellerProducts)",
    "must be active or all",
    "must be json or csv",
];

fn api() -> &'static Api<MemoryStore> {
    static API: OnceLock<Api<MemoryStore>> = OnceLock::new();
    API.get_or_init(|| {
        let store = MemoryStore::new();
        let csv = include_bytes!("../../../tests/fixtures/guide-sample.csv");
        for row in ExportReader::new(&csv[..]).expect("the guide's header") {
            if let Ok(Row::Valid(rec)) = row {
                store.apply_now(&rec, "fuzz").expect("in memory");
            }
        }
        Api::new(store)
    })
}

/// The request of an input: `None` when API Gateway could not send it
/// (lambda_http refuses the event).
fn request(data: &[u8]) -> Option<(String, String, Request)> {
    let (&m, rest) = data.split_first()?;
    let method = METHODS[usize::from(m) % METHODS.len()];
    let text = String::from_utf8_lossy(rest);
    let (path, query) = text.split_once('?').unwrap_or((&text, ""));
    // API Gateway sends the path and query as the client wrote them on the
    // request line: characters a URI cannot hold arrive percent-encoded.
    let (path, query) =
        (utf8_percent_encode(path, NOT_URI).to_string(), utf8_percent_encode(query, NOT_URI).to_string());
    let path = if path.starts_with('/') { path } else { format!("/{path}") };
    let event = serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "a1b2c3d4e5",
            "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com", "domainPrefix": "a1b2c3d4e5",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10", "userAgent": "fuzz"},
            "requestId": "fuzz", "routeKey": "$default", "stage": "$default",
            "time": "23/Nov/2026:17:00:00 +0000", "timeEpoch": 1795453200000u64
        },
        "isBase64Encoded": false
    });
    let req = lambda_http::request::from_str(&event.to_string()).ok()?;
    Some((method.to_owned(), path, req))
}

pub fn check(data: &[u8]) {
    let Some((method, path, req)) = request(data) else { return };
    let response = block_on(api().handle(req));
    let status = response.status().as_u16();
    let text = match response.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8(b.clone()).expect("a UTF-8 body"),
        _ => String::new(),
    };
    let csv =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/csv"));
    // The subscriber report's CSV download: a 200 only, whose first line is
    // the feeds' asOf.
    if csv {
        assert_eq!(status, 200, "a CSV answer that is an error: {text}");
        assert!(text.starts_with("as_of,"), "a CSV report without its as_of line: {text}");
    }
    let body: Value = if csv {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: the body is not JSON: {e}"))
    };
    match match_route(&method, &path) {
        RouteMatch::NotFound => assert_eq!(status, 404, "no route, answered {status}"),
        RouteMatch::MethodNotAllowed(allowed) => {
            assert_eq!(status, 405, "a wrong method, answered {status}");
            let allow = response.headers().get("allow").and_then(|v| v.to_str().ok());
            assert_eq!(allow, Some(allowed.join(", ").as_str()));
        }
        RouteMatch::Found(..) => assert!([200, 400, 404].contains(&status), "a route answered {status}"),
    }
    if status == 200 {
        return;
    }
    let error = &body["error"];
    assert!(error["code"].as_str().is_some_and(|c| !c.is_empty()), "an error without a code: {text}");
    if status == 400 {
        let message = digits_as_n(error["message"].as_str().unwrap_or(""));
        let fixed = MESSAGES.contains(&message.as_str())
            || message.starts_with("is not a parameter of this route (it accepts: ")
            || error["code"] == "NotConfigured";
        assert!(fixed, "a 400 whose message is no fixed text: {text}");
        // The field is a parameter's name (a query key the route lacks is
        // named when it is a short token): never a value.
        let field = error["field"].as_str().unwrap_or("");
        assert!(
            field.len() <= 40 && field.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "a 400 field that is no name: {text}"
        );
    }
}
