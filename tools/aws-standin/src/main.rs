//! `aws-standin`: run the local stand-in of `StartSupportDataExport`, `ConfirmProductInstance` and
//! `SearchAgreements`.

use std::time::Duration;

use aws_standin::{Delivery, StandIn};
use clap::Parser;

/// Local stand-in of AWS Marketplace Commerce Analytics StartSupportDataExport, EC2
/// ConfirmProductInstance and AWS Marketplace Agreement SearchAgreements, on one port.
#[derive(Parser)]
#[command(
    name = "aws-standin",
    after_help = "S3: the standard AWS variables (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...).
SDK clients reach it with AWS_ENDPOINT_URL_MARKETPLACE_COMMERCE_ANALYTICS=http://ADDR,
AWS_ENDPOINT_URL_MARKETPLACE_AGREEMENT=http://ADDR and AWS_ENDPOINT_URL_EC2=http://ADDR.
Logs: RUST_LOG (default info), on stderr."
)]
struct Args {
    /// Address to listen on (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4600")]
    listen: String,
    /// POST each notification's SNS Lambda event to URL, e.g.
    /// http://127.0.0.1:9000/2015-03-31/functions/ingest-export/invocations
    /// (default: record only, see GET /_admin/requests).
    #[arg(long, value_name = "URL")]
    deliver_to: Option<String>,
    /// Timeout of that POST.
    #[arg(long, value_name = "N", default_value_t = 300)]
    delivery_timeout_seconds: u64,
    /// Exports cover changes up to N seconds before the request.
    #[arg(long, value_name = "N", default_value_t = aws_standin::DEFAULT_LAG.as_secs())]
    lag_seconds: u64,
    /// Start with no records, instances or agreements instead of the guide's test data set and
    /// the seeded instances and agreements.
    #[arg(long)]
    no_seed: bool,
    /// Reject StartSupportDataExport requests signed for another region.
    #[arg(long, value_name = "REGION")]
    require_region: Option<String>,
    /// The seller's data-feeds bucket: POST /_admin/feeds/deliver writes the Seller Delivery Data
    /// Feeds there, one more day per call.
    #[arg(long, value_name = "BUCKET")]
    feeds_bucket: Option<String>,
    /// The key prefix of the feed folders in that bucket.
    #[arg(long, value_name = "PREFIX", default_value = "")]
    feeds_prefix: String,
    /// POST each data-feeds notification's SNS Lambda event to URL, e.g.
    /// http://127.0.0.1:9000/2015-03-31/functions/ingest-feeds/invocations (default: in the
    /// call's answer only).
    #[arg(long, value_name = "URL")]
    feeds_deliver_to: Option<String>,
    /// The stand-in's seller account: the proposer SearchAgreements searches as.
    #[arg(long, value_name = "ID", value_parser = account_id, default_value = aws_standin::seed::SELLER_ACCOUNT_ID)]
    seller_account_id: String,
}

fn account_id(id: &str) -> Result<String, String> {
    if id.is_empty() || id.len() > 32 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err("must be an AWS account id (digits)".into());
    }
    Ok(id.to_string())
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
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
    let delivery = match args.deliver_to {
        Some(url) => Delivery::Http { url, timeout: Duration::from_secs(args.delivery_timeout_seconds) },
        None => Delivery::None,
    };
    let standin = StandIn {
        lag: Duration::from_secs(args.lag_seconds),
        delivery,
        seed: !args.no_seed,
        s3: Some(aws_standin::s3_client_from_env().await),
        required_region: args.require_region,
        feeds: args.feeds_bucket.map(|bucket| aws_standin::FeedsTarget {
            bucket,
            prefix: args.feeds_prefix,
            deliver_to: args.feeds_deliver_to.map(|url| (url, Duration::from_secs(args.delivery_timeout_seconds))),
            topic_arn: format!("arn:aws:sns:us-east-1:{}:aws-standin-data-feeds", args.seller_account_id),
        }),
        seller_account_id: args.seller_account_id,
        ..Default::default()
    };
    let running = match standin.start(args.listen.as_str()).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("aws-standin: cannot listen on {}: {e}", args.listen);
            std::process::exit(1);
        }
    };
    {
        use std::io::Write;
        let mut out = std::io::stdout();
        let _ = writeln!(out, "aws-standin listening on {}", running.endpoint_url());
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
