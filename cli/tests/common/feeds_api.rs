//! A stand-in of the eligibility API that answers the data feeds' routes
//! with the contract's examples (`psc_bridge::api::examples`), for `psc` and
//! the console while the local stack has no feeds to serve:
//!
//! * `GET /accounts/{id}` and `/accounts/{id}/products/{code}`: eligible for
//!   [`ELIGIBLE`], notEligible for [`NOT_ELIGIBLE`], unconfirmed for
//!   [`UNCONFIRMED`] (404 for any other id);
//! * `GET /products/{PRODUCT}/subscribers`: two pages (`cursor`, or
//!   `X-Next-Cursor` with `format=csv`), three ACTIVE agreements, and with
//!   `status=all` an EXPIRED one besides; [`UNLISTED`] is a product the
//!   feeds do not list (200, `productId` null); any other code a 404.
//!
//! Unsigned: `psc --local --api-url http://<addr>` points at it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use psc_bridge::api::{
    Eligibility, ErrorBody, ErrorDetail, SubscriberBody, SubscriberStatus, SubscribersView, Verdict, examples,
};
use psc_bridge::domain::Timestamp;
use tokio::net::TcpListener;

pub const ELIGIBLE: &str = examples::ACCOUNT;
pub const NOT_ELIGIBLE: &str = "111122223333";
pub const UNCONFIRMED: &str = "222233334444";
pub const PRODUCT: &str = examples::PRODUCT;
pub const UNLISTED: &str = "zzzzzzzzzzzzzzzzzzzzzzzzz";
pub const UNCONFIRMED_REASON: &str =
    "no source says eligible: the data feeds are 3 days old and the Agreement API is not configured";
/// The CSV's first line (the API's format is its own; psc passes it on).
pub const AS_OF_LINE: &str = "as_of,2026-11-23T01:30:00.000Z";
pub const HEADER: &str =
    "product_id,product_code,aws_account_id,agreement_id,agreement_status,since,until,last_usage_date";

/// The path and query of every request, in order.
pub type Seen = Arc<Mutex<Vec<String>>>;

pub async fn start() -> (SocketAddr, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let log = log.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let log = log.clone();
                    async move {
                        let target = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
                        log.lock().unwrap().push(target.clone());
                        Ok::<_, Infallible>(answer(&target))
                    }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    (addr, seen)
}

fn reply(status: u16, content_type: &str, body: String, next: Option<&str>) -> Response<Full<Bytes>> {
    let mut r = Response::builder().status(status).header("content-type", content_type);
    if let Some(n) = next {
        r = r.header("x-next-cursor", n);
    }
    r.body(Full::new(Bytes::from(body))).unwrap()
}

fn json(status: u16, v: &impl serde::Serialize) -> Response<Full<Bytes>> {
    reply(status, "application/json", serde_json::to_string(v).unwrap(), None)
}

fn not_found(field: &str, message: &str) -> Response<Full<Bytes>> {
    let e = ErrorBody {
        error: ErrorDetail {
            code: "NotFound".into(),
            field: Some(field.into()),
            message: message.into(),
            request_id: None,
        },
        freshness: None,
    };
    json(404, &e)
}

fn answer(target: &str) -> Response<Full<Bytes>> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |name: &str| {
        query.split('&').find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == name).map(|(_, v)| v.to_owned()))
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["accounts", id] => match eligibility(id) {
            Some((e, reason, feeds)) => {
                let mut v = examples::account();
                v.aws_account_id = (*id).to_owned();
                (v.eligible, v.eligibility, v.eligibility_reason) = (e == Eligibility::Eligible, e, reason);
                v.sources.data_feeds = feeds;
                json(200, &v)
            }
            None => not_found("awsAccountId", "nothing on record for this account"),
        },
        ["accounts", id, "products", code] => match eligibility(id) {
            Some((e, reason, feeds)) => {
                let mut v = examples::account_product();
                (v.aws_account_id, v.product_code) = ((*id).to_owned(), (*code).to_owned());
                (v.eligible, v.eligibility, v.eligibility_reason) = (e == Eligibility::Eligible, e, reason);
                v.sources.data_feeds = feeds;
                json(200, &v)
            }
            None => not_found("awsAccountId", "nothing on record for this account"),
        },
        ["products", code, "subscribers"] => {
            let status = if param("status").as_deref() == Some("all") {
                SubscriberStatus::All
            } else {
                SubscriberStatus::Active
            };
            let csv = param("format").as_deref() == Some("csv");
            let second = param("cursor").as_deref() == Some("page2");
            if *code == UNLISTED {
                let v = SubscribersView {
                    product_code: UNLISTED.into(),
                    product_id: None,
                    title: None,
                    status,
                    subscribers: Vec::new(),
                    next_cursor: None,
                    ..examples::subscribers()
                };
                if csv {
                    return reply(200, "text/csv; charset=utf-8", format!("{AS_OF_LINE}\r\n{HEADER}\r\n"), None);
                }
                return json(200, &v);
            }
            if *code != PRODUCT {
                return not_found("productCode", "not one of the stack's SellerProducts");
            }
            let rows = page(status, second);
            let next = (!second).then_some("page2");
            if csv {
                let mut text = format!("{AS_OF_LINE}\r\n{HEADER}\r\n");
                for r in &rows {
                    let o = |v: &Option<String>| v.clone().unwrap_or_default();
                    let t = |v: &Option<Timestamp>| v.map(|t| t.to_string()).unwrap_or_default();
                    text.push_str(&format!(
                        "{},{},{},{},{},{},{},{}\r\n",
                        r.product_id,
                        r.product_code,
                        o(&r.aws_account_id),
                        r.agreement_id,
                        r.agreement_status,
                        t(&r.since),
                        t(&r.until),
                        o(&r.last_usage_date)
                    ));
                }
                return reply(200, "text/csv; charset=utf-8", text, next);
            }
            let v = SubscribersView {
                status,
                subscribers: rows,
                next_cursor: next.map(str::to_owned),
                ..examples::subscribers()
            };
            json(200, &v)
        }
        _ => reply(404, "application/json", r#"{"message":"Not Found"}"#.to_owned(), None),
    }
}

/// The eligibility of the three accounts, with their reason and data feeds.
fn eligibility(id: &str) -> Option<(Eligibility, String, psc_bridge::api::DataFeedsSource)> {
    let mut feeds = examples::data_feeds();
    match id {
        ELIGIBLE => Some((Eligibility::Eligible, "an ACTIVE agreement for the product (data feeds)".into(), feeds)),
        NOT_ELIGIBLE => {
            feeds.verdict = Verdict::NotEligible;
            feeds.message = Some("no ACTIVE agreement for the seller's products".into());
            feeds.products[0].active = false;
            feeds.products[0].agreements[0].status = "EXPIRED".into();
            Some((Eligibility::NotEligible, "no source says eligible, and the data feeds are fresh".into(), feeds))
        }
        UNCONFIRMED => {
            (feeds.verdict, feeds.stale, feeds.age_seconds) = (Verdict::NotEligible, true, Some(260_000));
            feeds.message = None;
            feeds.products.clear();
            Some((Eligibility::Unconfirmed, UNCONFIRMED_REASON.into(), feeds))
        }
        _ => None,
    }
}

/// One subscriber row of the report.
pub fn subscriber(account: &str, agreement: &str, status: &str) -> SubscriberBody {
    SubscriberBody {
        aws_account_id: Some(account.into()),
        agreement_id: agreement.into(),
        agreement_status: status.into(),
        ..examples::subscribers().subscribers[0].clone()
    }
}

/// The rows of page 1 (two) or page 2 (one; with `all`, an EXPIRED one besides).
pub fn page(status: SubscriberStatus, second: bool) -> Vec<SubscriberBody> {
    if !second {
        return vec![
            subscriber(ELIGIBLE, "agmt-0000000000000000000a", "ACTIVE"),
            subscriber("333344445555", "agmt-0000000000000000000b", "ACTIVE"),
        ];
    }
    let mut rows = vec![subscriber("444455556666", "agmt-0000000000000000000c", "ACTIVE")];
    if status == SubscriberStatus::All {
        rows.push(subscriber(NOT_ELIGIBLE, "agmt-0000000000000000000d", "EXPIRED"));
    }
    rows
}
