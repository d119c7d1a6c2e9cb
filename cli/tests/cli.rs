//! `psc` as a user runs it: the built binary, against
//!
//! * the local stack as `make local` runs it (`local_run::run::Session`: the
//!   real function binaries under `cargo lambda watch`, DynamoDB Local, moto
//!   and the stand-in, with the guide's data set applied): every command,
//!   `--json`, the exit codes, 400 and 404;
//! * a test server that checks each request's SigV4 signature for
//!   `execute-api` (and `cloudformation` for `--stack`) with the same
//!   credentials, and answers 403 to a bad one, as API Gateway does;
//! * an unreachable URL.
//!
//! One test per scenario; the local stack is started once, in the test that
//! uses it (nextest runs each test in its own process).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

#[path = "common/feeds_api.rs"]
mod feeds_api;

const ACCOUNT: &str = "000011112222";
const PRODUCT: &str = "4gzp2symm0v9zidfrn9f854w6";
const KEY_ID: &str = "AKIDPSCCLITEST";
const SECRET: &str = "psc-cli-test-secret";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}\n--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Runs `psc` with `args` and a clean AWS environment plus `env`.
async fn psc(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_psc"));
    cmd.args(args).kill_on_drop(true);
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("PSC_") {
            cmd.env_remove(&k);
        }
    }
    cmd.env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "eu-central-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/psc-test-config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/psc-test-credentials");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out: Output = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("psc finished in time")
        .expect("psc runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

// ------------------------------------------------------------ local stack

async fn local_stack() -> (local_run::run::Session, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let args = local_run::args::Args {
        exit_after_summary: true,
        port: Some(devkit::free_port().unwrap()),
        run_dir: Some(dir.path().to_owned()),
        ..Default::default()
    };
    let mut session = local_run::run::Session::new(args).expect("a local run");
    let report = session.run_to_summary().await.expect("the local stack comes up and applies the export");
    assert!(report.checks_ok, "the local run's own checks pass");
    (session, dir)
}

#[tokio::test]
async fn every_command_against_the_local_stack() {
    let (mut session, dir) = local_stack().await;
    let port = session.api_port().to_string();
    let run_dir = dir.path().to_string_lossy().into_owned();
    let env = [("PSC_LOCAL_PORT", port.as_str()), ("PSC_LOCAL_DIR", run_dir.as_str())];
    let local = |args: &[&str]| {
        let mut a = vec!["--local"];
        a.extend_from_slice(args);
        a.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| async move {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        psc(&refs, &env).await
    };

    // account: eligible, with both sources, the agreement and the contacts.
    let r = run(local(&["account", ACCOUNT])).await;
    assert_eq!(r.code, 0, "{r:?}");
    for expected in [
        "Account 000011112222: ELIGIBLE",
        "Angela Doe",
        "Eugene Thietmar",
        "adoe@example.com",
        "ACTIVE",
        PRODUCT,
        "within one business day",
    ] {
        assert!(r.stdout.contains(expected), "{expected:?} in {r:?}");
    }
    // --json: the API's answer, unchanged.
    let r = run(local(&["account", ACCOUNT, "--json"])).await;
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    assert_eq!((v["awsAccountId"].clone(), v["eligible"].clone()), (json!(ACCOUNT), json!(true)));
    assert_eq!(v["sources"]["pscContacts"]["verdict"], "eligible");
    assert_eq!(v["contacts"].as_array().unwrap().len(), 2);
    // Global options after the command, and the product route.
    let r = run(vec![
        "account".into(),
        ACCOUNT.into(),
        "--product".into(),
        PRODUCT.into(),
        "--local".into(),
        "--json".into(),
    ])
    .await;
    assert_eq!((r.code, r.json()["productCode"].clone()), (0, json!(PRODUCT)), "{r:?}");

    // Not eligible: exit 1. A bad id: the API's 400, exit 2, naming the field.
    let r = run(local(&["account", "123412341234"])).await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("NOT ELIGIBLE") && r.stdout.contains("No PSC contact on record"), "{r:?}");
    let r = run(local(&["account", "12345"])).await;
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("awsAccountId") && r.stderr.contains("12 digits"), "{r:?}");

    // contact: by email (found), by guid (found, then a 404: exit 1), a bad guid (exit 2).
    let r = run(local(&["contact", "--email", "RAVIS@example.com"])).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Ravi Smith") && r.stdout.contains("111122223333"), "{r:?}");
    let r = run(local(&["contact", "--email", "nobody@example.com"])).await;
    assert_eq!(r.code, 1, "{r:?}");
    let r = run(local(&["contact", "ba1d75cc-d984-4f07-bb14-ae04b952afbc"])).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Eugene Thietmar") && r.stdout.contains("eugethi@example.org"), "{r:?}");
    let r = run(local(&["contact", "00000000-0000-4000-8000-000000000000"])).await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("Not found"), "{r:?}");
    let r = run(local(&["contact", "00000000-0000-4000-8000-000000000000", "--json"])).await;
    assert_eq!((r.code, r.json()["error"]["code"].clone()), (1, json!("NotFound")), "{r:?}");
    let r = run(local(&["contact", "not-a-guid"])).await;
    assert_eq!(r.code, 2, "{r:?}");

    // instance: the account's (eligible), someone else's (exit 1), a product not the seller's (400).
    let r = run(local(&["instance", ACCOUNT, "i-0a1b2c3d4e5f60718", "--product", PRODUCT])).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("ELIGIBLE") && r.stdout.contains("belongs to this account"), "{r:?}");
    let r = run(local(&["instance", ACCOUNT, "i-0c3d4e5f607182930", "--product", PRODUCT])).await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("444455556666") && r.stdout.contains("another account owns it"), "{r:?}");
    let r = run(local(&["instance", ACCOUNT, "i-0a1b2c3d4e5f60718", "--product", "zzzzzzzzzzzzzzzzzzzzzzzzz"])).await;
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("productCode"), "{r:?}");

    // status: the applied export.
    let r = run(local(&["status"])).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("APPLIED") && r.stdout.contains("within one business day"), "{r:?}");

    // backfill: every live contact of the table as a Created event, a page
    // at a time over several invocations (the opt-out of the local run
    // erased Nathan: four are left), each in the run's queue.
    let events = session.events().expect("the local run's events");
    let before = events.count();
    let r = run(local(&["backfill", "--page-size", "2", "--pages", "1"])).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Backfill done: 4 live contacts"), "{r:?}");
    assert!(r.stderr.contains("psc backfill --cursor "), "progress says how to resume: {r:?}");
    let got = events
        .wait_for(before, Duration::from_secs(60), "the backfill's events", |g| g.len() >= 4)
        .await
        .expect("the backfill's events reach the queue");
    let mut guids: Vec<&str> = got.iter().filter_map(|e| e.detail["customerGuid"].as_str()).collect();
    guids.sort_unstable();
    assert_eq!(
        guids,
        [
            "1b4a2b5f-2c5d-4779-b0c7-2878b0f45cfc",
            "2ae0be12-7397-4fdb-a1c7-ead17967002c",
            "6c83ff14-5167-43cc-bb9f-24865a78db72",
            "ba1d75cc-d984-4f07-bb14-ae04b952afbc"
        ],
        "{got:?}"
    );
    assert!(got.iter().all(|e| e.detail_type == "PSC Contact Created" && e.detail["backfill"] == true), "{got:?}");
    let r = run(local(&["backfill", "--json"])).await;
    assert_eq!((r.code, r.json()["backfilled"].clone(), r.json()["done"].clone()), (0, json!(4), json!(true)), "{r:?}");
    let r = run(local(&["backfill", "--cursor", "not-a-cursor"])).await;
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--cursor: the cursor is not one this backfill handed out"), "{r:?}");

    // export, with a bad row in the data: the export ends PARTIAL, and
    // `psc rejects` prints its report.
    let bad = json!({
        "productId": "4b898955-84fa-4cfb-8f43-98287ad69c06", "productCode": PRODUCT,
        "customerGuid": "0badc0de-0000-4000-8000-000000000001", "subscriptionGuid": "cad371fb-6f2c-4537-a054-1a7afc6312fd",
        "subscriptionStartDate": "2016-05-27T00:00:00.000Z", "awsCustomerId": "12345",
        "givenName": "Bad", "surname": "Row", "email": "bad@example.com"
    });
    let http = local_run::http::Http::new();
    let posted = http
        .post_json(&format!("{}/_admin/records", session.cas_url()), &bad, Duration::from_secs(10))
        .await
        .expect("the stand-in takes the record");
    assert_eq!(posted.status, 201, "{}", posted.body);
    let r = run(local(&["export", "--force"])).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Export requested"), "{r:?}");
    let mut partial = None;
    for _ in 0..120 {
        let s = run(local(&["status", "--json"])).await.json();
        partial = s["exports"]
            .as_array()
            .and_then(|e| e.iter().find(|e| e["status"] == "PARTIAL"))
            .and_then(|e| e["requestId"].as_str().map(str::to_owned));
        if partial.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let partial = partial.expect("the export with the bad row ends PARTIAL");
    let r = run(local(&["rejects", &partial])).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("1 rejected rows") && r.stdout.contains("0badc0de-0000-4000-8000-000000000001"), "{r:?}");
    assert!(!r.stdout.contains("bad@example.com"), "the report holds no contact field: {r:?}");
    let r = run(local(&["rejects", &partial, "--json"])).await;
    assert_eq!(r.json()["rows"].as_array().map(Vec::len), Some(1), "{r:?}");
    let r = run(local(&["rejects", "nope"])).await;
    assert_eq!(r.code, 1, "{r:?}");

    // Nothing to point at: a usage error.
    let r = psc(&["status"], &[]).await;
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--api-url"), "{r:?}");

    session.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_api_is_exit_3_with_what_to_check() {
    let port = devkit::free_port().unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    let r = psc(&["--api-url", &url, "account", ACCOUNT], &[]).await;
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("could not reach") && r.stderr.contains("--api-url"), "{r:?}");
    // A lookup by email: the error names the API, never the address.
    let r = psc(&["--api-url", &url, "contact", "--email", "adoe@example.com"], &[]).await;
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("could not reach"), "{r:?}");
    assert!(!r.stderr.contains("adoe"), "the email in an error message: {r:?}");
}

#[tokio::test]
async fn help_lists_the_commands_with_examples_and_completions_print() {
    let r = psc(&["--help"], &[]).await;
    assert_eq!(r.code, 0, "{r:?}");
    for cmd in [
        "account",
        "contact",
        "instance",
        "subscribers",
        "status",
        "export",
        "rejects",
        "console",
        "Exit codes",
        "Examples",
    ] {
        assert!(r.stdout.contains(cmd), "{cmd} in {r:?}");
    }
    let r = psc(&["completions", "bash"], &[]).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("_psc"), "{r:?}");
    let r = psc(&["account"], &[]).await;
    assert_eq!(r.code, 2, "a missing argument is a usage error: {r:?}");
}

// ------------------------------------------------- a SigV4-checking server

/// What the server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    authorization: Option<String>,
    signature_ok: bool,
    service: Option<String>,
    region: Option<String>,
}

type Seens = Arc<Mutex<Vec<Seen>>>;

/// Recomputes the request's SigV4 signature with the test credentials and
/// the request's own time and signed headers: (valid, region, service).
fn verify(req: &http::request::Parts, body: &[u8]) -> (bool, Option<String>, Option<String>) {
    let Some(auth) = req.headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return (false, None, None);
    };
    let field = |name: &str| {
        auth.split([',', ' '])
            .find_map(|p| p.trim().strip_prefix(name).and_then(|v| v.strip_prefix('=')).map(str::to_owned))
    };
    let (Some(credential), Some(signed), Some(signature)) =
        (field("Credential"), field("SignedHeaders"), field("Signature"))
    else {
        return (false, None, None);
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let (region, service) = (scope.get(2).map(|s| (*s).to_owned()), scope.get(3).map(|s| (*s).to_owned()));
    if scope.first() != Some(&KEY_ID) {
        return (false, region, service);
    }
    let Some(date) = req.headers.get("x-amz-date").and_then(|v| v.to_str().ok()) else {
        return (false, region, service);
    };
    let Ok(time) = time::PrimitiveDateTime::parse(
        date,
        time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"),
    ) else {
        return (false, region, service);
    };
    let time: SystemTime = time.assume_utc().into();
    let host = req.headers.get("host").and_then(|v| v.to_str().ok()).unwrap_or("");
    let url = format!("http://{host}{}", req.uri);
    let signed: Vec<&str> = signed.split(';').collect();
    let headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .filter(|(k, _)| signed.contains(&k.as_str()))
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let identity = Credentials::new(KEY_ID, SECRET, None, None, "test").into();
    let Ok(params) = v4::SigningParams::builder()
        .identity(&identity)
        .region(region.as_deref().unwrap_or(""))
        .name(service.as_deref().unwrap_or(""))
        .time(time)
        .settings(SigningSettings::default())
        .build()
    else {
        return (false, region, service);
    };
    let Ok(signable) = SignableRequest::new(req.method.as_str(), &url, headers.into_iter(), SignableBody::Bytes(body))
    else {
        return (false, region, service);
    };
    let ok = sign(signable, &params.into()).map(|s| s.signature() == signature).unwrap_or(false);
    (ok, region, service)
}

/// A stand-in of API Gateway with IAM auth (403 on a missing or bad
/// signature, as API Gateway answers; the account answer on a good one) and
/// of CloudFormation (`DescribeStacks`, whose `ApiUrl` output points back at
/// this server).
async fn signing_server() -> (SocketAddr, Seens) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seens = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let log = log.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let log = log.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        Ok::<_, Infallible>(answer(&parts, &body, &log, addr))
                    }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    (addr, seen)
}

fn reply(status: u16, content_type: &str, body: String) -> Response<Full<Bytes>> {
    Response::builder().status(status).header("content-type", content_type).body(Full::new(Bytes::from(body))).unwrap()
}

fn answer(req: &http::request::Parts, body: &Bytes, log: &Seens, addr: SocketAddr) -> Response<Full<Bytes>> {
    let (signature_ok, region, service) = verify(req, body);
    let authorization = req.headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    log.lock().unwrap().push(Seen {
        path: req.uri.to_string(),
        authorization: authorization.clone(),
        signature_ok,
        service: service.clone(),
        region,
    });
    if authorization.as_deref() == Some("Bearer good-token") {
        return reply(200, "application/json", account_answer(false));
    }
    if !signature_ok {
        return reply(403, "application/json", r#"{"message":"Forbidden"}"#.to_owned());
    }
    if service.as_deref() == Some("cloudformation") {
        let xml = format!(
            "<DescribeStacksResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\"><DescribeStacksResult><Stacks><member>\
             <StackName>psc-test</StackName><Outputs>\
             <member><OutputKey>ApiUrl</OutputKey><OutputValue>http://{addr}/prod/</OutputValue></member>\
             <member><OutputKey>StartExportFunctionName</OutputKey><OutputValue>psc-test-StartExport</OutputValue></member>\
             </Outputs></member></Stacks></DescribeStacksResult></DescribeStacksResponse>"
        );
        return reply(200, "text/xml", xml);
    }
    reply(200, "application/json", account_answer(true))
}

/// A complete `GET /accounts/{id}` answer (psc reads it as the contract's
/// `AccountView`: a member missing is an error, not a `-`).
fn account_answer(eligible: bool) -> String {
    let mut v = psc_bridge::api::examples::account();
    if !eligible {
        (v.eligible, v.eligibility) = (false, psc_bridge::api::Eligibility::NotEligible);
    }
    serde_json::to_string(&v).unwrap()
}

#[tokio::test]
async fn requests_carry_a_valid_sigv4_signature_for_execute_api() {
    let (addr, seen) = signing_server().await;
    let url = format!("http://{addr}/prod");
    let r = psc(&["--api-url", &url, "account", ACCOUNT], &[]).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("ELIGIBLE"), "{r:?}");
    let s = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(s.path, format!("/prod/accounts/{ACCOUNT}"));
    assert!(s.signature_ok, "the server recomputed the same signature: {s:?}");
    assert_eq!((s.service.as_deref(), s.region.as_deref()), (Some("execute-api"), Some("eu-central-1")));

    // Someone else's secret: API Gateway's 403, exit 3, and what to do.
    let r = psc(&["--api-url", &url, "account", ACCOUNT], &[("AWS_SECRET_ACCESS_KEY", "wrong")]).await;
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("403") && r.stderr.contains("execute-api:Invoke"), "{r:?}");
    assert!(!seen.lock().unwrap().last().unwrap().signature_ok);

    // With a token: a bearer token and no signature.
    let r = psc(&["--api-url", &url, "--token", "good-token", "account", ACCOUNT], &[]).await;
    assert_eq!(r.code, 1, "not eligible in this answer: {r:?}");
    let s = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(s.authorization.as_deref(), Some("Bearer good-token"));
    let r = psc(&["--api-url", &url, "account", ACCOUNT], &[("PSC_TOKEN", "bad-token")]).await;
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("refused the token"), "{r:?}");
}

#[tokio::test]
async fn stack_reads_the_api_url_from_cloudformation_signed_for_it() {
    let (addr, seen) = signing_server().await;
    let endpoint = format!("http://{addr}");
    let env = [("AWS_ENDPOINT_URL_CLOUDFORMATION", endpoint.as_str())];
    let r = psc(&["account", ACCOUNT, "--stack", "psc-test"], &env).await;
    assert_eq!(r.code, 0, "{r:?}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "DescribeStacks, then the lookup: {seen:?}");
    assert_eq!(seen[0].service.as_deref(), Some("cloudformation"));
    assert!(seen[0].signature_ok, "{seen:?}");
    assert_eq!(seen[1].path, format!("/prod/accounts/{ACCOUNT}"), "the stack's ApiUrl");
    assert_eq!(seen[1].service.as_deref(), Some("execute-api"));
}

// ------------------------------------- the data feeds' answers (canned)

/// `psc --local --api-url <the canned API> args...`, and the requests it made.
async fn canned(args: &[&str]) -> (Run, Vec<String>) {
    let (addr, seen) = feeds_api::start().await;
    let url = format!("http://{addr}");
    let mut argv = vec!["--local", "--api-url", url.as_str()];
    argv.extend_from_slice(args);
    let r = psc(&argv, &[]).await;
    let seen = seen.lock().unwrap().clone();
    (r, seen)
}

#[tokio::test]
async fn account_lookups_show_the_eligibility_with_its_exit_code() {
    use feeds_api::{ELIGIBLE, NOT_ELIGIBLE, UNCONFIRMED, UNCONFIRMED_REASON};
    let (r, _) = canned(&["account", ELIGIBLE]).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("Account 000011112222: ELIGIBLE\nWhy: an ACTIVE agreement for the product"), "{r:?}");
    let feeds = r.stdout.lines().find(|l| l.contains("│ data feeds")).unwrap_or_default();
    assert!(feeds.contains("eligible") && feeds.contains("2026-11-23T01:30:00.000Z"), "{r:?}");
    assert!(r.stdout.contains("Subscriptions (data feeds)"), "{r:?}");
    let row = r.stdout.lines().find(|l| l.contains("Example Product")).unwrap_or_default();
    for want in [PRODUCT, "agmt-1a2b3c4d5e6f7g8h9i0j", "ACTIVE", "2026-01-01", "2027-01-01", "2026-11-22"] {
        assert!(row.contains(want), "{want:?} in the feeds' row: {r:?}");
    }

    let (r, _) = canned(&["account", NOT_ELIGIBLE]).await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.starts_with("Account 111122223333: NOT ELIGIBLE\nWhy: no source says eligible"), "{r:?}");
    assert!(r.stdout.contains("EXPIRED"), "{r:?}");

    // Unconfirmed: exit 4, whichever route, and with --json (the API's answer).
    let (r, _) = canned(&["account", UNCONFIRMED]).await;
    assert_eq!(r.code, 4, "{r:?}");
    let head = format!("Account {UNCONFIRMED}: UNCONFIRMED (help in good faith)\nWhy: {UNCONFIRMED_REASON}");
    assert!(r.stdout.starts_with(&head), "{r:?}");
    assert!(r.stdout.contains("STALE: older than two days"), "{r:?}");
    let (r, seen) = canned(&["account", UNCONFIRMED, "--product", PRODUCT]).await;
    assert_eq!(r.code, 4, "{r:?}");
    assert!(r.stdout.contains(&format!("on product {PRODUCT}: UNCONFIRMED")), "{r:?}");
    assert_eq!(seen, [format!("/accounts/{UNCONFIRMED}/products/{PRODUCT}")]);
    let (r, _) = canned(&["account", UNCONFIRMED, "--json"]).await;
    assert_eq!(r.code, 4, "{r:?}");
    let v = r.json();
    assert_eq!((v["eligibility"].clone(), v["eligible"].clone()), (json!("unconfirmed"), json!(false)), "{v}");
    assert_eq!(v["eligibilityReason"], UNCONFIRMED_REASON);
    assert_eq!(v["sources"]["dataFeeds"]["stale"], true);

    let r = psc(&["--help"], &[]).await;
    assert!(r.stdout.contains("4 eligibility unconfirmed"), "the exit codes in --help: {r:?}");
}

#[tokio::test]
async fn subscribers_follows_every_page_into_one_table() {
    let (r, seen) = canned(&["subscribers", "--product", PRODUCT]).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("Data feeds as of 2026-11-23T01:30:00.000Z (15.5 h old, within two days)"), "{r:?}");
    assert!(r.stdout.contains("3 subscribers with an ACTIVE agreement"), "{r:?}");
    for (account, agreement) in [
        (ACCOUNT, "agmt-0000000000000000000a"),
        ("333344445555", "agmt-0000000000000000000b"),
        ("444455556666", "agmt-0000000000000000000c"),
    ] {
        let row = r.stdout.lines().find(|l| l.contains(account)).unwrap_or_default();
        for want in [agreement, "ACTIVE", "2026-01-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z", "2026-11-22"] {
            assert!(row.contains(want), "{want:?} in the row of {account}: {r:?}");
        }
    }
    assert!(!r.stdout.contains("EXPIRED"), "{r:?}");
    let base = format!("/products/{PRODUCT}/subscribers?status=active");
    assert_eq!(seen, [base.clone(), format!("{base}&cursor=page2")]);

    // --all: every agreement, whatever its status; --limit: the page size asked.
    let (r, seen) = canned(&["subscribers", "--product", PRODUCT, "--all", "--limit", "2"]).await;
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("4 subscribers with an agreement, whatever its status"), "{r:?}");
    let expired = r.stdout.lines().find(|l| l.contains("111122223333")).unwrap_or_default();
    assert!(expired.contains("EXPIRED") && expired.contains("agmt-0000000000000000000d"), "{r:?}");
    let base = format!("/products/{PRODUCT}/subscribers?status=all&limit=2");
    assert_eq!(seen, [base.clone(), format!("{base}&cursor=page2")]);

    // --json: one answer of the contract's shape, every page's rows, no cursor.
    let (r, _) = canned(&["subscribers", "--product", PRODUCT, "--json"]).await;
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    let accounts: Vec<&str> =
        v["subscribers"].as_array().unwrap().iter().filter_map(|s| s["awsAccountId"].as_str()).collect();
    assert_eq!(accounts, [ACCOUNT, "333344445555", "444455556666"], "{v}");
    assert_eq!((v["nextCursor"].clone(), v["asOf"].clone()), (Value::Null, json!("2026-11-23T01:30:00.000Z")));
}

#[tokio::test]
async fn subscribers_csv_is_the_apis_csv_of_every_page_as_one() {
    use feeds_api::{AS_OF_LINE, HEADER};
    let (r, seen) = canned(&["subscribers", "--product", PRODUCT, "--all", "--csv"]).await;
    assert_eq!(r.code, 0, "{r:?}");
    let row = |account: &str, agreement: &str, status: &str| {
        format!(
            "prod-4gzp2symm0v9z,{PRODUCT},{account},{agreement},{status},2026-01-01T00:00:00.000Z,2027-01-01T00:00:00.000Z,2026-11-22\r\n"
        )
    };
    let want = [
        format!("{AS_OF_LINE}\r\n{HEADER}\r\n"),
        row(ACCOUNT, "agmt-0000000000000000000a", "ACTIVE"),
        row("333344445555", "agmt-0000000000000000000b", "ACTIVE"),
        row("444455556666", "agmt-0000000000000000000c", "ACTIVE"),
        row("111122223333", "agmt-0000000000000000000d", "EXPIRED"),
    ]
    .concat();
    assert_eq!(r.stdout, want, "one asOf line, one header row, both pages' rows: {r:?}");
    let base = format!("/products/{PRODUCT}/subscribers?status=all&format=csv");
    assert_eq!(seen, [base.clone(), format!("{base}&cursor=page2")], "the second page from X-Next-Cursor");

    let r = psc(&["--json", "--local", "subscribers", "--product", PRODUCT, "--csv"], &[]).await;
    assert_eq!(r.code, 2, "--csv and --json: {r:?}");
}

#[tokio::test]
async fn subscribers_of_a_product_the_feeds_do_not_list_is_exit_1_saying_so() {
    let (r, _) = canned(&["subscribers", "--product", feeds_api::UNLISTED]).await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("the data feeds do not list product zzzzzzzzzzzzzzzzzzzzzzzzz"), "{r:?}");
    let (r, seen) = canned(&["subscribers", "--product", feeds_api::UNLISTED, "--csv"]).await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("the data feeds do not list product"), "{r:?}");
    assert!(seen.last().is_some_and(|s| !s.contains("format=csv")), "the JSON says whether it is listed: {seen:?}");
    // The API's 404: its message too.
    let (r, _) = canned(&["subscribers", "--product", "yyyyyyyyyyyyyyyyyyyyyyyyy"]).await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stderr.contains("do not list product yyyyyyyyyyyyyyyyyyyyyyyyy") && r.stderr.contains("SellerProducts"),
        "{r:?}"
    );
}
