//! The commands: arguments (clap), where they point, and what each prints
//! and returns (an exit code from [`crate::exit`]).

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use clap::{Args, Parser, Subcommand};
use psc_bridge::api::{
    AccountProductView, AccountView, ContactView, ContactsView, ErrorBody, InstanceView, Lookup, ReportFormat,
    SubscriberStatus, SubscribersView, SyncView,
};
use psc_bridge::aws::endpoint::DEFAULT_REGION;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::client::{ApiAnswer, CallError, Client, describe_stack};
use crate::exit;
use crate::render;
use crate::target::{self, Function, Invoke, LOCAL_PORT, Target};

const EXAMPLES: &str = "\
Examples:
  psc --stack psc-bridge account 000011112222
  psc account 000011112222 --product 4gzp2symm0v9zidfrn9f854w6
  psc instance 000011112222 i-0a1b2c3d4e5f60718 --product 4gzp2symm0v9zidfrn9f854w6 --region eu-west-1
  psc contact --email adoe@example.com
  psc contact ba1d75cc-d984-4f07-bb14-ae04b952afbc --json | jq .contact.email
  psc subscribers --product 4gzp2symm0v9zidfrn9f854w6 --all --csv > subscribers.csv
  psc status
  psc export --from 2026-11-01T00:00:00Z
  psc rejects c3c84ee0-5aba-11e6-8d9c-235dc080841d
  psc backfill
  psc --local console

Where it points: --api-url or PSC_API_URL (the stack output ApiUrl), --stack <name>
(reads the stack's outputs), or --local (make local). Requests are signed with your
own AWS credentials (profiles, SSO, environment: aws-config's default chain) for
execute-api; with ApiAuth=JWT, pass --token or PSC_TOKEN instead.

Exit codes: 0 eligible or found, 1 not eligible or not found,
2 usage (a bad argument or a 400 from the API), 3 authentication, network or server
(or an answer this psc cannot read), 4 eligibility unconfirmed (help in good faith).";

/// psc: is this caller entitled to support, and who are its contacts?
#[derive(Debug, Parser)]
#[command(name = "psc", version, about, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options accepted before or after the command.
#[derive(Debug, Args, Clone, Default)]
pub struct Global {
    /// The API's base URL (the stack output ApiUrl).
    #[arg(long, global = true, env = "PSC_API_URL", value_name = "URL")]
    pub api_url: Option<String>,
    /// Read the API URL, the functions and the bucket from this stack's outputs.
    #[arg(long, global = true, value_name = "NAME", conflicts_with = "local")]
    pub stack: Option<String>,
    /// Use `make local`'s endpoints (127.0.0.1:9000, or PSC_LOCAL_PORT).
    #[arg(long, global = true)]
    pub local: bool,
    /// Print the API's answer unchanged (JSON), for scripts.
    #[arg(long, global = true)]
    pub json: bool,
    /// A bearer token, for a stack deployed with ApiAuth=JWT.
    #[arg(long, global = true, env = "PSC_TOKEN", value_name = "JWT", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Is this account entitled to support (and for which products), and who are its contacts?
    Account {
        /// The caller's 12-digit AWS account id.
        aws_account_id: String,
        /// Only this product (its 25-character product code).
        #[arg(long, value_name = "CODE")]
        product: Option<String>,
    },
    /// A contact by its Customer Guid, or every contact with an email address.
    Contact {
        /// The contact's Customer Guid.
        #[arg(required_unless_present = "email", conflicts_with = "email")]
        customer_guid: Option<String>,
        /// Find contacts by email address (case-insensitive).
        #[arg(long, value_name = "ADDRESS")]
        email: Option<String>,
    },
    /// Does this instance run your product, and does it belong to the account? (EC2, live)
    Instance {
        aws_account_id: String,
        /// `i-` and 8 or 17 hexadecimal digits.
        instance_id: String,
        /// The product code to check (one of the stack's SellerProducts).
        #[arg(long, value_name = "CODE")]
        product: String,
        /// The instance's region (default: the API function's own).
        #[arg(long, value_name = "REGION")]
        region: Option<String>,
    },
    /// A product's subscribers from the data feeds (the daily subscription report), every page.
    Subscribers {
        /// The product code.
        #[arg(long, value_name = "CODE")]
        product: String,
        /// Every agreement in force, whatever its status (default: ACTIVE ones only).
        #[arg(long)]
        all: bool,
        /// Write one CSV to standard output (the API's CSV: the feeds' asOf line, the header row,
        /// every page's rows).
        #[arg(long, conflicts_with = "json")]
        csv: bool,
        /// Rows per request to the API (every page is followed; default: the API's).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
        limit: Option<u32>,
    },
    /// Sync status: the watermark, freshness against the one-business-day rule, recent exports.
    Status {
        /// How many exports to list.
        #[arg(long, default_value_t = 10)]
        limit: u32,
    },
    /// Start an export now (invokes start-export).
    Export {
        /// Forget the watermark and export everything.
        #[arg(long, conflicts_with = "from")]
        full_resync: bool,
        /// Export the changes since this instant (ISO 8601).
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Go ahead even while another export is unanswered.
        #[arg(long)]
        force: bool,
    },
    /// Send every live contact to the event bus as PSC Contact Created, for a CRM connected
    /// after the fact (invokes contact-events, a page at a time; resumable).
    Backfill {
        /// Go on from here (printed by an interrupted or failed backfill).
        #[arg(long, value_name = "CURSOR")]
        cursor: Option<String>,
        /// Contacts read per page.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
        page_size: u32,
        /// Pages per invocation (each invocation must end within the function's timeout).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
        pages: u32,
    },
    /// Print the rejects report of an export (rows that were refused, with reasons).
    Rejects {
        /// The export's request id (see `psc status`).
        export_request_id: String,
    },
    /// Serve the browser console on 127.0.0.1 and print its URL.
    Console {
        /// The port (0: a free one).
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
}

/// Runs a parsed command line; the exit code.
pub async fn run(cli: Cli) -> u8 {
    let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let target = match resolve(&cli.global, &sdk).await {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    let client = Client::new(&sdk, target);
    let json = cli.global.json;
    match cli.command {
        Command::Account { aws_account_id, product: Some(product_code) } => {
            let ask = Lookup::AccountProduct { aws_account_id, product_code, limit: None, cursor: None };
            let show = |v: &AccountProductView| (render::account_product(v), exit::of(v.eligibility));
            lookup(&client, &ask, json, show).await
        }
        Command::Account { aws_account_id, product: None } => {
            let ask = Lookup::Account { aws_account_id, limit: None, cursor: None };
            lookup(&client, &ask, json, |v: &AccountView| (render::account(v), exit::of(v.eligibility))).await
        }
        Command::Subscribers { product, all, csv, limit } => {
            let status = if all { SubscriberStatus::All } else { SubscriberStatus::Active };
            if csv && json {
                // clap's conflict misses --json given before the command.
                fail(&CallError::Usage("--csv and --json: choose one".to_owned()))
            } else if csv {
                subscribers_csv(&client, product, status, limit).await
            } else {
                subscribers(&client, product, status, limit, json).await
            }
        }
        Command::Contact { customer_guid, email } => match (customer_guid, email) {
            (_, Some(email)) => {
                let ask = Lookup::ContactsByEmail { email };
                lookup(&client, &ask, json, |v: &ContactsView| (render::contacts(v), yes(!v.contacts.is_empty()))).await
            }
            (Some(customer_guid), None) => {
                let ask = Lookup::Contact { customer_guid };
                lookup(&client, &ask, json, |v: &ContactView| (render::contact(v), exit::OK)).await
            }
            (None, None) => fail(&CallError::Usage("give a customer guid or --email".into())),
        },
        Command::Instance { aws_account_id, instance_id, product, region } => {
            let ask = Lookup::Instance { aws_account_id, instance_id, product_code: product, region };
            lookup(&client, &ask, json, |v: &InstanceView| (render::instance(v), yes(v.eligible))).await
        }
        Command::Status { limit } => {
            let ask = Lookup::Sync { limit: Some(limit) };
            lookup(&client, &ask, json, |v: &SyncView| (render::status(v), exit::OK)).await
        }
        Command::Export { full_resync, from, force } => {
            let mut payload = json!({});
            if full_resync {
                payload["fullResync"] = json!(true);
            }
            if let Some(f) = from {
                payload["fromDate"] = json!(f);
            }
            if force {
                payload["force"] = json!(true);
            }
            let answer = with_spinner("invoking start-export", client.invoke_start_export(&payload)).await;
            match answer {
                Ok(v) if json => print_json(&v),
                Ok(v) => {
                    println!("{}", render::export_started(&v));
                    exit::OK
                }
                Err(e) => fail(&e),
            }
        }
        Command::Rejects { export_request_id } => rejects(&client, &export_request_id, json).await,
        Command::Backfill { cursor, page_size, pages } => backfill(&client, cursor, page_size, pages, json).await,
        Command::Console { port } => match crate::console::run(Arc::new(client), port).await {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("psc console: {e:#}");
                exit::TROUBLE
            }
        },
        Command::Completions { .. } => exit::OK,
    }
}

/// Where the command points, from the global options.
pub async fn resolve(g: &Global, sdk: &SdkConfig) -> Result<Target, CallError> {
    let region = sdk.region().map(|r| r.to_string());
    if g.local {
        let port = std::env::var("PSC_LOCAL_PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(LOCAL_PORT);
        let env_file = match std::env::var_os("PSC_LOCAL_DIR") {
            Some(dir) => Some(std::path::PathBuf::from(dir).join("functions.env")),
            None => std::env::current_dir().ok().and_then(|d| target::find_local_env_file(&d)),
        };
        let mut t = target::local(port, env_file.as_deref());
        if let Some(url) = &g.api_url {
            t.api_url = url.trim_end_matches('/').to_owned();
        }
        return Ok(t);
    }
    let function_env =
        |f: Function| std::env::var(f.env_var()).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let lambda_endpoint = |region: &str| psc_bridge::aws::endpoint::endpoint(sdk, "LAMBDA", "lambda", region);
    if let Some(stack) = &g.stack {
        let region = region.clone().unwrap_or_else(|| DEFAULT_REGION.to_owned());
        let outputs = with_spinner("reading the stack's outputs", describe_stack(sdk, stack, &region)).await?;
        let api_url = g.api_url.clone().or(outputs.api_url.clone()).ok_or_else(|| {
            CallError::Usage(format!("stack {stack} has no ApiUrl output: is it a psc-bridge stack?"))
        })?;
        let mut t = target::for_api_url(&api_url, g.token.as_deref(), Some(&region), &format!("--stack {stack}"));
        for f in [Function::StartExport, Function::ContactEvents] {
            if let Some(function) = function_env(f).or_else(|| outputs.function(f)) {
                let invoke = Invoke::Aws { function, endpoint: lambda_endpoint(&region), region: region.clone() };
                t.set_invoke(f, invoke);
            }
        }
        return Ok(t);
    }
    let Some(api_url) = &g.api_url else {
        return Err(CallError::Usage(
            "where is the API? Give --api-url <url> (or PSC_API_URL), --stack <name>, or --local".to_owned(),
        ));
    };
    let mut t = target::for_api_url(api_url, g.token.as_deref(), region.as_deref(), "--api-url");
    let region = match &t.auth {
        target::Auth::SigV4 { region } => region.clone(),
        _ => region.unwrap_or_else(|| DEFAULT_REGION.to_owned()),
    };
    for f in [Function::StartExport, Function::ContactEvents] {
        if let Some(function) = function_env(f) {
            t.set_invoke(f, Invoke::Aws { function, endpoint: lambda_endpoint(&region), region: region.clone() });
        }
    }
    Ok(t)
}

/// 0 for yes, 1 for no.
fn yes(v: bool) -> u8 {
    if v { exit::OK } else { exit::NO }
}

/// One API lookup: the answer (`T` when found) printed as JSON or a table,
/// and its exit code (`show`'s; 1 for a 404).
async fn lookup<T: DeserializeOwned>(
    client: &Client,
    ask: &Lookup,
    json: bool,
    show: impl FnOnce(&T) -> (String, u8),
) -> u8 {
    let answer = with_spinner("asking the API", client.lookup(&ask.path_and_query())).await;
    let answer: ApiAnswer = match answer {
        Ok(a) => a,
        Err(e) => return fail(&e),
    };
    let shown = if answer.status == 404 {
        // API Gateway's own 404 (a wrong base URL) is not the API's error body.
        let text = answer
            .parse::<ErrorBody>()
            .map_or_else(|_| render::not_the_apis(&answer.text()), |v| render::not_found(&v));
        Ok((text, exit::NO))
    } else {
        answer.parse::<T>().map(|v| show(&v))
    };
    let (text, code) = match shown {
        Ok(shown) => shown,
        Err(e) => return fail(&e),
    };
    println!("{}", if json { answer.text() } else { text });
    code
}

/// A 404 of the subscriber report (the API's own, or not the API's): the
/// product is unknown, exit 1; `--json` prints the API's answer.
fn report_not_found(answer: &ApiAnswer, product_code: &str, json: bool) -> u8 {
    if json {
        println!("{}", answer.text());
    } else {
        match answer.parse::<ErrorBody>() {
            Ok(e) => eprintln!("psc: {} (the API: {})", render::unknown_product(product_code), e.error.message),
            Err(_) => eprintln!("psc: {}", render::not_the_apis(&answer.text())),
        }
    }
    exit::NO
}

/// The next page's cursor, unless the API handed out the same one again
/// (which would page forever).
fn next_page(previous: Option<&str>, next: Option<String>) -> Result<Option<String>, CallError> {
    match next {
        Some(n) if Some(n.as_str()) == previous => {
            Err(CallError::Server(format!("the API answered the cursor it was given ({n}) as the next one")))
        }
        next => Ok(next),
    }
}

/// `psc subscribers`: every page of the report (JSON) as one table, or with
/// `--json` as one `SubscribersView` holding every page's rows (`nextCursor`
/// null). 0 when the feeds list the product (with or without subscribers),
/// 1 when they do not.
async fn subscribers(
    client: &Client,
    product_code: String,
    status: SubscriberStatus,
    limit: Option<u32>,
    json: bool,
) -> u8 {
    let mut report: Option<SubscribersView> = None;
    let mut cursor: Option<String> = None;
    loop {
        let ask = Lookup::Subscribers {
            product_code: product_code.clone(),
            status: Some(status),
            format: None,
            limit,
            cursor: cursor.clone(),
        };
        let answer = match with_spinner("asking the API", client.lookup(&ask.path_and_query())).await {
            Ok(a) => a,
            Err(e) => return fail(&e),
        };
        if answer.status == 404 {
            return report_not_found(&answer, &product_code, json);
        }
        let page = match answer.parse::<SubscribersView>() {
            Ok(p) => p,
            Err(e) => return fail(&e),
        };
        if report.is_none() && page.product_id.is_none() && page.subscribers.is_empty() {
            if json {
                println!("{}", answer.text());
            } else {
                eprintln!("psc: {}", render::unknown_product(&product_code));
            }
            return exit::NO;
        }
        let next = match next_page(cursor.as_deref(), page.next_cursor.clone()) {
            Ok(n) => n,
            Err(e) => return fail(&e),
        };
        match &mut report {
            None => report = Some(page),
            Some(r) => r.subscribers.extend(page.subscribers),
        }
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    let Some(mut report) = report else { return exit::OK };
    report.next_cursor = None;
    if json {
        match serde_json::to_string(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => return fail(&CallError::Local(format!("writing the report as JSON: {e}"))),
        }
    } else {
        println!("{}", render::subscribers(&report));
    }
    exit::OK
}

/// `psc subscribers --csv`: asks the API's CSV (`format=csv`), follows
/// `X-Next-Cursor`, and writes one CSV to standard output as it goes: the
/// first page whole (the feeds' asOf line, the header row, its rows), then
/// the rows of every later page ([`render::CsvReport`]).
async fn subscribers_csv(client: &Client, product_code: String, status: SubscriberStatus, limit: Option<u32>) -> u8 {
    use std::io::Write as _;
    let mut csv = render::CsvReport::default();
    let mut cursor: Option<String> = None;
    loop {
        let ask = Lookup::Subscribers {
            product_code: product_code.clone(),
            status: Some(status),
            format: Some(ReportFormat::Csv),
            limit,
            cursor: cursor.clone(),
        };
        let answer = match with_spinner("asking the API", client.lookup_csv(&ask.path_and_query())).await {
            Ok(a) => a,
            Err(e) => return fail(&e),
        };
        if answer.status == 404 {
            return report_not_found(&answer, &product_code, false);
        }
        if !answer.content_type.as_deref().is_some_and(|t| t.starts_with("text/csv")) {
            let got = answer.content_type.as_deref().unwrap_or("no Content-Type");
            return fail(&CallError::Server(format!(
                "the API answered {got} to format=csv, not text/csv. Is psc older or newer than the API?"
            )));
        }
        let chunk = match csv.page(&answer.text()) {
            Ok(c) => c,
            Err(e) => return fail(&CallError::Server(e)),
        };
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(chunk.as_bytes()).and_then(|()| out.flush()) {
            return fail(&CallError::Local(format!("writing the CSV: {e}")));
        }
        drop(out);
        match next_page(cursor.as_deref(), answer.next_cursor.clone()) {
            Ok(Some(n)) => cursor = Some(n),
            Ok(None) => break,
            Err(e) => return fail(&e),
        }
    }
    if csv.as_of_changed() {
        eprintln!("psc: a data feeds delivery was applied while psc read the pages: run it again for one asOf");
    }
    if csv.rows() == 0 {
        // An empty report, or a product the feeds do not list: the CSV does
        // not say which, the JSON's productId does.
        let ask = Lookup::Subscribers {
            product_code: product_code.clone(),
            status: Some(status),
            format: None,
            limit: Some(1),
            cursor: None,
        };
        let probe = client.lookup(&ask.path_and_query()).await;
        let unknown =
            |a: &ApiAnswer| a.status == 404 || a.parse::<SubscribersView>().is_ok_and(|v| v.product_id.is_none());
        match probe.and_then(|a| if unknown(&a) { Ok(true) } else { a.parse::<SubscribersView>().map(|_| false) }) {
            Ok(true) => {
                eprintln!("psc: {}", render::unknown_product(&product_code));
                return exit::NO;
            }
            Ok(false) => {}
            Err(e) => return fail(&e),
        }
    }
    exit::OK
}

async fn rejects(client: &Client, request_id: &str, json: bool) -> u8 {
    let ask = Lookup::Sync { limit: Some(50) };
    let sync = match with_spinner("asking the API", client.lookup(&ask.path_and_query())).await {
        Ok(a) => a.parse::<SyncView>(),
        Err(e) => return fail(&e),
    };
    let sync = match sync {
        Ok(sync) => sync,
        Err(e) => return fail(&e),
    };
    let Some(export) = sync.export(request_id) else {
        eprintln!("psc: export {request_id} is not among the 50 most recent exports (see `psc status`)");
        return exit::NO;
    };
    let Some(location) = export.rejects_report.as_deref() else {
        let status = &export.status;
        eprintln!("psc: export {request_id} ({status}) has no rejects report: no row was rejected");
        return exit::NO;
    };
    let report = match with_spinner("reading the rejects report", client.read_s3(location)).await {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let text = String::from_utf8_lossy(&report);
    if json {
        return print_json(
            &json!({"exportRequestId": request_id, "rejectsReport": location, "rows": render::csv_rows(&text)}),
        );
    }
    println!("{}", render::rejects(request_id, location, &text));
    exit::OK
}

/// `psc backfill`: invokes contact-events with `{"backfill": {...}}` until
/// the table's end, saying after each invocation how far it got and how to
/// resume; a failure names the cursor to go on from.
async fn backfill(client: &Client, cursor: Option<String>, page_size: u32, pages: u32, json: bool) -> u8 {
    let (mut cursor, mut total, mut invocations) = (cursor, 0u64, 0u32);
    loop {
        let payload = json!({"backfill": {"cursor": cursor, "pages": pages, "pageSize": page_size}});
        let answer = with_spinner("invoking contact-events", client.invoke(Function::ContactEvents, &payload)).await;
        invocations += 1;
        let v = match answer {
            Ok(v) => v,
            Err(e) => {
                if let Some(c) = &cursor {
                    eprintln!("psc: {total} contacts sent before this; resume with `psc backfill --cursor {c}`");
                }
                return fail(&e);
            }
        };
        total += v["backfilled"].as_u64().unwrap_or(0);
        let next = v["cursor"].as_str().map(str::to_owned);
        if let Some(error) = v["error"].as_str() {
            if v["badCursor"] == true {
                return fail(&CallError::Usage(format!("--cursor: {error}")));
            }
            let resume = next.as_ref().or(cursor.as_ref());
            return fail(&CallError::Server(format!(
                "the backfill stopped after {total} contacts: {error}{}",
                resume.map(|c| format!("; resume with `psc backfill --cursor {c}`")).unwrap_or_default()
            )));
        }
        if v["done"].as_bool() == Some(true) || next.is_none() {
            break;
        }
        if !json {
            eprintln!(
                "psc: {total} contacts sent so far; to resume after an interruption: psc backfill --cursor {}",
                next.as_deref().unwrap_or_default()
            );
        }
        cursor = next;
    }
    if json {
        return print_json(&json!({"backfilled": total, "invocations": invocations, "done": true}));
    }
    println!("{}", render::backfilled(total, invocations));
    exit::OK
}

fn print_json(v: &Value) -> u8 {
    println!("{v}");
    exit::OK
}

/// Prints the error (what to do) and returns its exit code.
fn fail(e: &CallError) -> u8 {
    eprintln!("psc: {e}");
    e.exit_code()
}

/// Shows a spinner on standard error while `work` runs longer than a moment
/// (only on a terminal).
pub async fn with_spinner<T>(what: &str, work: impl std::future::Future<Output = T>) -> T {
    if !std::io::stderr().is_terminal() {
        return work.await;
    }
    tokio::pin!(work);
    tokio::select! {
        out = &mut work => return out,
        _ = tokio::time::sleep(Duration::from_millis(250)) => {}
    }
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message(what.to_owned());
    spinner.enable_steady_tick(Duration::from_millis(100));
    let out = work.await;
    spinner.finish_and_clear();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_options_go_before_or_after_the_command() {
        for argv in [
            vec!["psc", "--json", "--api-url", "https://x", "account", "000011112222"],
            vec!["psc", "account", "000011112222", "--json", "--api-url", "https://x"],
        ] {
            let cli = Cli::try_parse_from(argv).unwrap();
            assert!(cli.global.json);
            assert_eq!(cli.global.api_url.as_deref(), Some("https://x"));
            assert!(matches!(cli.command, Command::Account { .. }));
        }
        let e = Cli::try_parse_from(["psc", "contact"]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(Cli::try_parse_from(["psc", "export", "--full-resync", "--from", "2026-01-01"]).is_err());
        assert!(Cli::try_parse_from(["psc", "--local", "--stack", "s", "status"]).is_err());
    }

    #[test]
    fn subscribers_takes_a_product_and_csv_is_not_json() {
        let cli = Cli::try_parse_from(["psc", "subscribers", "--product", "p", "--all", "--limit", "2"]).unwrap();
        assert!(matches!(cli.command, Command::Subscribers { all: true, csv: false, limit: Some(2), .. }));
        assert!(Cli::try_parse_from(["psc", "subscribers"]).is_err(), "--product is required");
        assert!(Cli::try_parse_from(["psc", "subscribers", "--product", "p", "--csv", "--json"]).is_err());
        assert!(Cli::try_parse_from(["psc", "subscribers", "--product", "p", "--limit", "0"]).is_err());
    }
}
