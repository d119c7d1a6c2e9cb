//! `cas-standin`: run the local stand-in of `StartSupportDataExport`, `ConfirmProductInstance` and
//! `SearchAgreements`.

use std::time::Duration;

use cas_standin::{Delivery, StandIn};

const USAGE: &str = "\
cas-standin: local stand-in of AWS Marketplace Commerce Analytics StartSupportDataExport,
EC2 ConfirmProductInstance and AWS Marketplace Agreement SearchAgreements, on one port

USAGE:
    cas-standin [OPTIONS]

OPTIONS:
    --listen ADDR            address to listen on (default 127.0.0.1:4600; port 0 = any free port)
    --deliver-to URL         POST each notification's SNS Lambda event to URL, e.g.
                             http://127.0.0.1:9000/2015-03-31/functions/ingest-export/invocations
                             (default: record only, see GET /_admin/requests)
    --delivery-timeout-seconds N   timeout of that POST (default 300)
    --lag-seconds N          exports cover changes up to N seconds before the request (default 900)
    --no-seed                start with no records, instances or agreements instead of the
                             guide's test data set and the seeded instances and agreements
    --require-region REGION  reject StartSupportDataExport requests signed for another region
    --seller-account-id ID   the stand-in's seller account: the proposer SearchAgreements
                             searches as (default 999988887777)
    -h, --help               this text

S3: the standard AWS variables (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...).
SDK clients reach it with AWS_ENDPOINT_URL_MARKETPLACE_COMMERCE_ANALYTICS=http://ADDR,
AWS_ENDPOINT_URL_MARKETPLACE_AGREEMENT=http://ADDR and AWS_ENDPOINT_URL_EC2=http://ADDR.
Logs: RUST_LOG (default info), on stderr.
";

struct Args {
    listen: String,
    deliver_to: Option<String>,
    delivery_timeout: Duration,
    lag: Duration,
    seed: bool,
    require_region: Option<String>,
    seller_account_id: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: "127.0.0.1:4600".into(),
        deliver_to: None,
        delivery_timeout: Duration::from_secs(300),
        lag: cas_standin::DEFAULT_LAG,
        seed: true,
        require_region: None,
        seller_account_id: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline.clone().or_else(|| it.next()).ok_or_else(|| format!("{name} needs a value"))
        };
        let seconds = |name: &str, v: String| -> Result<u64, String> {
            v.parse::<u64>().map_err(|_| format!("{name} must be a whole number of seconds"))
        };
        match name.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            "--listen" => args.listen = value(&name)?,
            "--deliver-to" => args.deliver_to = Some(value(&name)?),
            "--delivery-timeout-seconds" => args.delivery_timeout = Duration::from_secs(seconds(&name, value(&name)?)?),
            "--lag-seconds" => args.lag = Duration::from_secs(seconds(&name, value(&name)?)?),
            "--no-seed" => args.seed = false,
            "--require-region" => args.require_region = Some(value(&name)?),
            "--seller-account-id" => {
                let id = value(&name)?;
                if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("{name} must be an AWS account id (digits), not {id:?}"));
                }
                args.seller_account_id = Some(id);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("cas-standin: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    if !["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"].iter().any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty())) {
        tracing::warn!("neither AWS_ENDPOINT_URL_S3 nor AWS_ENDPOINT_URL is set: exports go to AWS S3");
    }
    let delivery = match &args.deliver_to {
        Some(url) => Delivery::Http { url: url.clone(), timeout: args.delivery_timeout },
        None => Delivery::None,
    };
    let mut builder = StandIn::builder()
        .lag(args.lag)
        .delivery(delivery)
        .seed_guide_data(args.seed)
        .s3_client(cas_standin::s3_client_from_env().await);
    if let Some(r) = args.require_region {
        builder = builder.require_region(r);
    }
    if let Some(id) = args.seller_account_id {
        builder = builder.seller_account_id(id);
    }
    let running = match builder.start(args.listen.as_str()).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cas-standin: cannot listen on {}: {e}", args.listen);
            std::process::exit(1);
        }
    };
    {
        use std::io::Write;
        let mut out = std::io::stdout();
        let _ = writeln!(out, "cas-standin listening on {}", running.endpoint_url());
        let _ = out.flush();
    }

    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("can listen for SIGTERM");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    running.shutdown().await;
}
