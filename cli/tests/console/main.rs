//! `psc console` end to end: the local stack (the real function binaries under
//! `cargo lambda watch`, the guide's data set applied), the `psc` binary
//! serving the console against it, and the page in headless Chromium through
//! chromedriver.
//!
//! One test against the stack: it takes a while to start, and nextest runs
//! each test in a process of its own. The data feeds' views (the overall
//! eligibility, the subscribers report and its CSV) run against a canned API
//! built from the contract's examples (`../common/feeds_api.rs`), in a test of
//! their own.
//!
//! * Browser missing: the test fails on CI (`CI` set), with
//!   `PSC_CONSOLE_BROWSER=1`, or once `scripts/bootstrap.sh all` has installed
//!   it here; elsewhere it says so loudly and runs the HTTP checks only.
//! * `PSC_CONSOLE_SCREENSHOT=docs/console.png` (relative to the repository)
//!   also saves the screenshot of account 000011112222 there (always saved to
//!   `target/console-test/console.png`).

mod browser;
#[path = "../common/feeds_api.rs"]
mod feeds_api;
mod stack;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use fantoccini::Locator;
use fantoccini::key::Key;

use stack::{ConsoleProcess, LocalStack, get, raw_request};

const ACCOUNT: &str = "000011112222";
const PRODUCT: &str = "4gzp2symm0v9zidfrn9f854w6";
const INSTANCE: &str = "i-0a1b2c3d4e5f60718";
const ANGELA_GUID: &str = "1b4a2b5f-2c5d-4779-b0c7-2878b0f45cfc";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_against_the_local_stack_in_a_real_browser() -> Result<(), Failed> {
    let tools = match browser::find() {
        Ok(t) => Some(t),
        Err(missing) if browser::required() => panic!("{missing}"),
        Err(missing) => {
            eprintln!(
                "\n*** SKIPPING the console's browser checks: {missing}.\n\
                 *** (They are required on CI, with PSC_CONSOLE_BROWSER=1, and after bootstrap.sh all.)\n"
            );
            None
        }
    };
    let stack = LocalStack::start().await.map_err(Failed::from)?;
    let outcome = scenarios(&stack, tools.as_ref()).await;
    stack.shutdown().await;
    outcome.map_err(Failed::from)
}

/// The test's error with its causes, printed as the last lines of the
/// output: anyhow's own report would end with its backtrace, which buries the
/// message in a long log.
struct Failed(String);

impl From<anyhow::Error> for Failed {
    fn from(e: anyhow::Error) -> Self {
        Self(format!("{e:#}"))
    }
}

impl std::fmt::Debug for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

async fn scenarios(stack: &LocalStack, tools: Option<&browser::Tools>) -> Result<()> {
    let console = ConsoleProcess::start(stack.port())?;
    refusals(&console).await?;
    forwarding(&console).await?;
    latency(&console, stack.port()).await?;
    if let Some(tools) = tools {
        in_the_browser(&console, tools).await?;
    }
    Ok(())
}

/// What a local process or a rebound DNS name gets without the token or with
/// a foreign `Host`.
async fn refusals(c: &ConsoleProcess) -> Result<()> {
    let host = format!("127.0.0.1:{}", c.port);
    let page = format!("/?token={}", c.token);
    let api = format!("/api/accounts/{ACCOUNT}");

    let a = get(c.port, "/", None).await?;
    ensure!(a.status == 403, "the page without a token: {} {}", a.status, a.body);
    let a = get(c.port, &format!("/?account={ACCOUNT}&token=0123456789abcdef0123456789abcdef"), None).await?;
    ensure!(a.status == 403, "the page with a wrong token: {}", a.status);
    let a = get(c.port, &api, None).await?;
    ensure!(a.status == 403, "an API call without the token: {} {}", a.status, a.body);
    ensure!(!a.body.contains("Angela"), "a refused call tells nothing: {}", a.body);
    let a = get(c.port, &format!("{api}?token={}", c.token), None).await?;
    ensure!(a.status == 403, "the token in the query of an API call is not the header: {}", a.status);

    for foreign in ["evil.example", "evil.example:80", &format!("evil.example:{}", c.port), "127.0.0.1:1"] {
        let a = raw_request(c.port, "GET", &page, &[("Host", foreign)]).await?;
        ensure!(a.status == 403, "the page with Host {foreign}: {}", a.status);
        let a = raw_request(c.port, "GET", &api, &[("Host", foreign), ("X-Psc-Token", &c.token)]).await?;
        ensure!(a.status == 403, "an API call with Host {foreign}: {}", a.status);
    }
    let a = raw_request(c.port, "GET", &page, &[]).await;
    ensure!(a.is_err() || a.is_ok_and(|a| a.status == 400 || a.status == 403), "no Host at all is refused");
    let a = raw_request(c.port, "GET", &page, &[("Host", &format!("localhost:{}", c.port))]).await?;
    ensure!(a.status == 200, "localhost:<port> is the loopback too: {}", a.status);

    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        let a =
            raw_request(c.port, method, &api, &[("Host", &host), ("X-Psc-Token", &c.token), ("Content-Length", "0")])
                .await?;
        ensure!(a.status == 405, "{method}: {}", a.status);
    }

    let a = get(c.port, &page, None).await?;
    ensure!(a.status == 200, "the page with its token: {} {}", a.status, a.body);
    ensure!(a.header("content-type").is_some_and(|v| v.starts_with("text/html")), "{}", a.head);
    for (name, want) in [
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
    ] {
        ensure!(a.header(name) == Some(want), "{name}: {:?}", a.header(name));
    }
    let csp = a.header("content-security-policy").context("a Content-Security-Policy")?;
    for part in ["default-src 'none'", "connect-src 'self'", "frame-ancestors 'none'", "script-src 'nonce-"] {
        ensure!(csp.contains(part), "CSP has {part}: {csp}");
    }
    ensure!(!csp.contains("unsafe-inline") && !csp.contains("http"), "nothing external or inline-unsafe: {csp}");
    for external in ["src=\"http", "href=\"http", "url(", "@import", "<link rel=\"stylesheet"] {
        ensure!(!a.body.contains(external), "the page loads nothing from elsewhere ({external})");
    }
    ensure!(!a.body.contains("localStorage") && !a.body.contains("document.cookie"), "the page stores nothing");
    Ok(())
}

/// The API's answers pass through, status and body; only its routes.
async fn forwarding(c: &ConsoleProcess) -> Result<()> {
    let t = Some(c.token.as_str());
    let a = get(c.port, &format!("/api/accounts/{ACCOUNT}"), t).await?;
    ensure!(a.status == 200, "{} {}", a.status, a.body);
    ensure!(a.header("content-type") == Some("application/json") && a.header("cache-control") == Some("no-store"));
    let v: serde_json::Value = serde_json::from_str(&a.body)?;
    ensure!(v["eligible"] == true, "{v}");
    let a = get(c.port, "/api/accounts/12345", t).await?;
    ensure!(a.status == 400 && a.body.contains("awsAccountId"), "{} {}", a.status, a.body);
    let a = get(c.port, "/api/contacts?email=ravis%40example.com", t).await?;
    ensure!(a.status == 200 && a.body.contains("Ravi"), "{} {}", a.status, a.body);
    let a = get(c.port, "/api/contacts/00000000-0000-4000-8000-000000000000", t).await?;
    ensure!(a.status == 404 && a.body.contains("freshness"), "{} {}", a.status, a.body);
    for other in ["/api/", "/api/health", "/api/accounts/..%2F..", "/api/accounts/1/x/2", "/elsewhere"] {
        let a = get(c.port, other, t).await?;
        ensure!(a.status == 404, "{other}: {} {}", a.status, a.body);
    }
    Ok(())
}

/// How long a lookup takes through the console (printed, not asserted), and
/// straight to the API for comparison; a fresh connection each time.
async fn latency(c: &ConsoleProcess, api_port: u16) -> Result<()> {
    const N: usize = 20;
    let path = format!("/api/accounts/{ACCOUNT}");
    get(c.port, &path, Some(&c.token)).await?;
    let mut through = Vec::new();
    for _ in 0..N {
        let t = Instant::now();
        let a = get(c.port, &path, Some(&c.token)).await?;
        through.push(t.elapsed());
        ensure!(a.status == 200, "{}", a.status);
    }
    let direct_path = format!("/lambda-url/eligibility-api/accounts/{ACCOUNT}");
    let mut direct = Vec::new();
    for _ in 0..N {
        let t = Instant::now();
        let a = get(api_port, &direct_path, None).await?;
        direct.push(t.elapsed());
        ensure!(a.status == 200, "{}", a.status);
    }
    let (p50, p90, max) = stats(&mut through);
    let (d50, d90, dmax) = stats(&mut direct);
    println!(
        "console lookup latency, {N} x GET /api/accounts/{ACCOUNT} against the local stack: \
         p50 {p50:.1} ms, p90 {p90:.1} ms, max {max:.1} ms (the API directly: p50 {d50:.1} ms, p90 {d90:.1} ms, max {dmax:.1} ms)"
    );
    Ok(())
}

fn stats(xs: &mut [Duration]) -> (f64, f64, f64) {
    xs.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| ms(xs[((xs.len() as f64 - 1.0) * q).round() as usize]);
    (at(0.5), at(0.9), ms(*xs.last().unwrap_or(&Duration::ZERO)))
}

async fn in_the_browser(c: &ConsoleProcess, tools: &browser::Tools) -> Result<()> {
    let dir = stack::log_dir()?;
    let b = browser::Browser::start(tools, &dir).await?;
    let outcome = pages(c, &b, &dir).await;
    b.close().await;
    outcome
}

async fn pages(c: &ConsoleProcess, b: &browser::Browser, dir: &std::path::Path) -> Result<()> {
    // The eligible account, from its deep link.
    let text = b.open(&c.link(&format!("account={ACCOUNT}")), "Eugene").await?;
    for want in [
        "YES",
        "Eligible for support",
        "Angela",
        "Doe",
        "Eugene",
        "Thietmar",
        PRODUCT,
        "Data as of",
        "within one business day",
    ] {
        ensure!(text.contains(want), "account {ACCOUNT} shows {want:?}; it shows:\n{text}");
    }
    let verdict = b.client.find(Locator::Css("#verdict")).await?.text().await?;
    ensure!(verdict.starts_with("YES"), "the verdict: {verdict}");
    let sources = b.client.find(Locator::Css(".sources")).await?.text().await?;
    ensure!(sources.contains("Agreements") && sources.contains("PSC contacts"), "each source's verdict: {sources}");
    let title = b.client.title().await?;
    ensure!(title == "psc console", "{title}");

    // Screenshot, 1280x900.
    let png = b.client.screenshot().await?;
    std::fs::write(dir.join("console.png"), &png)?;
    if let Some(to) = std::env::var_os("PSC_CONSOLE_SCREENSHOT").filter(|v| !v.is_empty()) {
        let to = devkit::repo_root()?.join(to);
        std::fs::write(&to, &png).with_context(|| format!("writing {}", to.display()))?;
        println!("screenshot: {}", to.display());
    }

    // A copy button (the clipboard, or its fallback) says what it copied.
    b.client.find(Locator::Css("button[aria-label^='Copy email']")).await?.click().await?;
    let copied = wait_status(b).await?;
    ensure!(copied.contains("Copied email of"), "the copy button: {copied:?}");

    // Nothing stored in the browser.
    let stored =
        b.client.execute("return [document.cookie, localStorage.length, sessionStorage.length]", vec![]).await?;
    ensure!(stored == serde_json::json!(["", 0, 0]), "stored in the browser: {stored}");

    // An account with nothing on file.
    let text = b.open(&c.link("account=999988887777"), "Not eligible").await?;
    ensure!(text.starts_with("Account 999988887777") && text.contains("NO"), "{text}");
    ensure!(text.contains("No PSC contact on record"), "{text}");

    // A malformed id: the API's 400, naming the field.
    let text = b.open(&c.link("account=12345"), "awsAccountId").await?;
    ensure!(text.contains("refused the request (400)") && text.contains("12 digits"), "{text}");

    // Typed in the form, submitted with Enter; the address bar follows.
    let q = b.client.find(Locator::Id("q")).await?;
    q.clear().await?;
    q.send_keys(&format!("ravis@example.com{}", char::from(Key::Enter))).await?;
    let text = b.result_with("Ravi").await?;
    ensure!(text.contains("Ravi Smith") && text.contains("111122223333"), "{text}");
    let url = b.client.current_url().await?;
    ensure!(url.query().is_some_and(|q| q.contains("email=ravis%40example.com") && q.contains(&c.token)), "{url}");
    // That address opens the same result.
    let text = b.open(url.as_str(), "Ravi Smith").await?;
    ensure!(text.contains("1 contact"), "{text}");

    // A customer guid, one that exists and one that does not.
    let text = b.open(&c.link(&format!("guid={ANGELA_GUID}")), "Angela").await?;
    ensure!(text.contains("adoe@example.com"), "{text}");
    let text =
        b.open(&c.link("guid=00000000-0000-4000-8000-000000000000"), "No contact with this customer guid").await?;
    ensure!(text.contains("Data as of"), "the 404 still says how fresh the data is: {text}");

    // An instance of the account running the product.
    let text = b
        .open(&c.link(&format!("account={ACCOUNT}&instance={INSTANCE}&product={PRODUCT}")), "Runs the product")
        .await?;
    ensure!(text.contains("YES") && text.contains("Instance (EC2)"), "{text}");

    // Sync status.
    let text = b.open(&c.link("view=sync"), "Exports").await?;
    ensure!(text.contains("Watermark") && text.contains("APPLIED"), "{text}");
    Ok(())
}

async fn wait_status(b: &browser::Browser) -> Result<String> {
    let started = Instant::now();
    loop {
        let s = b.client.find(Locator::Id("status")).await?.text().await?;
        if !s.is_empty() || started.elapsed() > Duration::from_secs(5) {
            return Ok(s);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ------------------------------------------- the data feeds' views (canned)

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_views_against_a_canned_api_in_a_real_browser() -> Result<(), Failed> {
    let tools = match browser::find() {
        Ok(t) => Some(t),
        Err(missing) if browser::required() => panic!("{missing}"),
        Err(missing) => {
            eprintln!("\n*** SKIPPING the console's browser checks of the data feeds' views: {missing}.\n");
            None
        }
    };
    let (addr, _seen) = feeds_api::start().await;
    let console = ConsoleProcess::start_at(&format!("http://{addr}")).map_err(Failed::from)?;
    let outcome = async {
        report_through_the_gate(&console).await?;
        if let Some(tools) = &tools {
            let b = browser::Browser::start(tools, &stack::log_dir()?).await?;
            let outcome = feeds_pages(&console, &b).await;
            b.close().await;
            outcome?;
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    outcome.map_err(Failed::from)
}

/// The report's route through the gate: its token, its CSV and cursor header.
async fn report_through_the_gate(c: &ConsoleProcess) -> Result<()> {
    let csv = format!("/api/products/{PRODUCT}/subscribers?status=all&format=csv");
    let a = get(c.port, &csv, None).await?;
    ensure!(a.status == 403, "the report without the token: {} {}", a.status, a.body);
    let a = get(c.port, &format!("{csv}&token={}", c.token), None).await?;
    ensure!(a.status == 403, "the token in the query of the report: {}", a.status);
    let a = get(c.port, &csv, Some(&c.token)).await?;
    ensure!(a.status == 200, "{} {}", a.status, a.body);
    ensure!(a.header("content-type") == Some("text/csv; charset=utf-8"), "{}", a.head);
    ensure!(a.header("x-next-cursor") == Some("page2"), "the next page's cursor passes: {}", a.head);
    ensure!(a.header("cache-control") == Some("no-store"), "{}", a.head);
    ensure!(a.body.starts_with(feeds_api::AS_OF_LINE) && a.body.contains(feeds_api::HEADER), "{}", a.body);
    let a = get(c.port, &format!("/api/products/{PRODUCT}/subscribers?status=active"), Some(&c.token)).await?;
    ensure!(a.status == 200 && a.header("content-type") == Some("application/json"), "{}", a.head);
    for other in ["/api/products", &format!("/api/products/{PRODUCT}"), "/api/products/..%2F/subscribers"] {
        let a = get(c.port, other, Some(&c.token)).await?;
        ensure!(a.status == 404, "{other}: {} {}", a.status, a.body);
    }
    Ok(())
}

async fn feeds_pages(c: &ConsoleProcess, b: &browser::Browser) -> Result<()> {
    use feeds_api::{AS_OF_LINE, HEADER, NOT_ELIGIBLE, UNCONFIRMED, UNCONFIRMED_REASON, UNLISTED};
    let verdict = |b: &browser::Browser| {
        let client = b.client.clone();
        async move {
            let v = client.find(Locator::Css("#verdict")).await?;
            Ok::<_, anyhow::Error>((v.text().await?, v.attr("data-eligibility").await?.unwrap_or_default()))
        }
    };

    // Eligible: YES with the reason, the data feeds' source and subscriptions.
    let text = b.open(&c.link(&format!("account={ACCOUNT}")), "Subscriptions (data feeds)").await?;
    let (v, e) = verdict(b).await?;
    ensure!(v.starts_with("YES") && e == "eligible", "the badge: {v} ({e})");
    ensure!(v.contains("Why: an ACTIVE agreement for the product (data feeds)"), "the reason: {v}");
    let feeds = b.client.find(Locator::Css("[data-source=dataFeeds]")).await?.text().await?;
    ensure!(feeds.contains("Data feeds") && feeds.contains("eligible") && feeds.contains("2026-11-23"), "{feeds}");
    for want in ["Example Product", "agmt-1a2b3c4d5e6f7g8h9i0j", "2026-11-22"] {
        ensure!(text.contains(want), "the account's feed subscriptions show {want:?}:\n{text}");
    }

    // Unconfirmed: its own badge and why; not eligible: NO.
    let text = b.open(&c.link(&format!("account={UNCONFIRMED}")), "UNCONFIRMED").await?;
    let (v, e) = verdict(b).await?;
    ensure!(v.starts_with("UNCONFIRMED") && e == "unconfirmed", "the badge: {v} ({e})");
    ensure!(v.contains("Help in good faith") && v.contains(UNCONFIRMED_REASON), "{v}");
    let class = b.client.find(Locator::Css("#verdict")).await?.attr("class").await?.unwrap_or_default();
    ensure!(class.contains("maybe"), "neither the YES nor the NO colours: {class}");
    let feeds = b.client.find(Locator::Css("[data-source=dataFeeds]")).await?.text().await?;
    ensure!(feeds.contains("stale, older than two days"), "{feeds}");
    ensure!(text.contains("The data feeds list no agreement"), "{text}");
    let png = b.client.screenshot().await?;
    std::fs::write(stack::log_dir()?.join("console-unconfirmed.png"), &png)?;
    b.open(&c.link(&format!("account={NOT_ELIGIBLE}")), "Not eligible for support").await?;
    let (v, e) = verdict(b).await?;
    ensure!(v.starts_with("NO") && e == "notEligible", "the badge: {v} ({e})");

    // From the account's feed subscriptions to the product's subscribers.
    b.open(&c.link(&format!("account={ACCOUNT}")), "Subscriptions (data feeds)").await?;
    b.client
        .find(Locator::Css(&format!("#result a[href*='view=subscribers'][href*='{PRODUCT}']")))
        .await?
        .click()
        .await?;
    let text = b.result_with("Subscribers of").await?;
    ensure!(text.contains("2+ subscribers with an ACTIVE agreement"), "the first page: {text}");
    let url = b.client.current_url().await?;
    ensure!(
        url.query()
            .is_some_and(|q| q.contains("view=subscribers") && q.contains(PRODUCT) && q.contains("status=active")),
        "the address bar: {url}"
    );

    // The deep link of every agreement, and the next page.
    let text = b.open(&c.link(&format!("view=subscribers&product={PRODUCT}&status=all")), "2+ subscribers").await?;
    ensure!(text.starts_with(&format!("Subscribers of {PRODUCT} (all agreements)")), "{text}");
    ensure!(text.contains("Data feeds as of") && text.contains("within two days"), "the asOf at the top: {text}");
    ensure!(text.contains("Example Product") && text.contains("333344445555") && !text.contains("EXPIRED"), "{text}");
    let form = b.client.find(Locator::Id("s-status")).await?.prop("value").await?;
    ensure!(form.as_deref() == Some("all"), "the form follows the link: {form:?}");
    b.client.find(Locator::Id("more-subscribers")).await?.click().await?;
    let text = b.result_with("4 subscribers").await?;
    for want in ["444455556666", "EXPIRED", NOT_ELIGIBLE, "agmt-0000000000000000000d"] {
        ensure!(text.contains(want), "the second page shows {want:?}:\n{text}");
    }
    ensure!(b.client.find(Locator::Id("more-subscribers")).await.is_err(), "no more pages");
    let png = b.client.screenshot().await?;
    std::fs::write(stack::log_dir()?.join("console-subscribers.png"), &png)?;

    // Download CSV: the API's CSV, both pages as one file.
    b.client.find(Locator::Id("download-csv")).await?.click().await?;
    let csv = b.downloaded(&format!("subscribers-{PRODUCT}-all.csv")).await?;
    let lines: Vec<&str> = csv.split("\r\n").collect();
    ensure!(lines.first() == Some(&AS_OF_LINE) && lines.get(1) == Some(&HEADER), "the asOf line, the header:\n{csv}");
    ensure!(csv.matches(HEADER).count() == 1 && csv.matches(AS_OF_LINE).count() == 1, "once each:\n{csv}");
    let rows: Vec<&str> = lines[2..].iter().copied().filter(|l| !l.is_empty()).collect();
    ensure!(rows.len() == 4, "both pages' rows:\n{csv}");
    ensure!(rows[3].contains("agmt-0000000000000000000d,EXPIRED"), "{csv}");
    let said = wait_status(b).await?;
    ensure!(said.contains("(4 rows)"), "{said:?}");

    // The filter, from the form: active only.
    let status = b.client.find(Locator::Id("s-status")).await?;
    status.select_by_value("active").await?;
    b.client.find(Locator::Css("#subscribers-form button[type=submit]")).await?.click().await?;
    let text = b.result_with("(active)").await?;
    ensure!(text.contains("2+ subscribers with an ACTIVE agreement"), "{text}");
    let url = b.client.current_url().await?;
    ensure!(url.query().is_some_and(|q| q.contains("status=active")), "{url}");

    // A product the feeds do not list, and one the API does not know.
    let text = b.open(&c.link(&format!("view=subscribers&product={UNLISTED}&status=active")), "do not list").await?;
    ensure!(text.contains(&format!("The data feeds do not list product {UNLISTED}")), "{text}");
    let text = b.open(&c.link("view=subscribers&product=yyyyyyyyyyyyyyyyyyyyyyyyy&status=all"), "do not list").await?;
    ensure!(text.contains("SellerProducts"), "the API's message: {text}");
    Ok(())
}
