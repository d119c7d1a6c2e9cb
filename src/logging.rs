//! Log set-up for the functions: Lambda's advanced logging controls (JSON
//! format, application log level), with the AWS SDK, HTTP and runtime crates
//! capped at DEBUG.
//!
//! The cap is a privacy control, not a nicety: at TRACE the SDK logs request
//! and response bodies, which hold contact data (`functions/ingest-export/tests/ingest` proves the
//! capped filter keeps every contact value out of the logs at TRACE).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

/// Crates that log request or response bodies (or raw events) at TRACE.
const BODY_LOGGING_CRATES: &[&str] = &[
    "aws_config",
    "aws_runtime",
    "aws_sdk_dynamodb",
    "aws_sdk_marketplacecommerceanalytics",
    "aws_sdk_s3",
    "aws_sdk_sso",
    "aws_sdk_ssooidc",
    "aws_sdk_sts",
    "aws_sigv4",
    "aws_smithy_http",
    "aws_smithy_http_client",
    "aws_smithy_json",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_types",
    "aws_smithy_xml",
    "h2",
    "hyper",
    "hyper_util",
    "lambda_http",
    "lambda_runtime",
    "lambda_runtime_api_client",
    "rustls",
    "tower",
];

/// `base` with every body-logging crate held at DEBUG or below.
pub fn capped(base: EnvFilter, level: LevelFilter) -> EnvFilter {
    let cap = level.min(LevelFilter::DEBUG);
    BODY_LOGGING_CRATES
        .iter()
        .fold(base, |f, krate| f.add_directive(format!("{krate}={cap}").parse().expect("valid directive")))
}

/// The filter for one level, as the functions use it.
pub fn filter(level: LevelFilter) -> EnvFilter {
    capped(EnvFilter::default().add_directive(level.into()), level)
}

/// Installs the global subscriber. The level comes from
/// `AWS_LAMBDA_LOG_LEVEL` (set by Lambda from the template's `LogLevel`),
/// else `RUST_LOG` (a level or directives, for local runs), else INFO.
pub fn init() {
    let (base, level) = match std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().and_then(|l| l.parse::<LevelFilter>().ok()) {
        Some(level) => (EnvFilter::default().add_directive(level.into()), level),
        None => {
            let directives = std::env::var("RUST_LOG").unwrap_or_default();
            let f = EnvFilter::builder().with_default_directive(LevelFilter::INFO.into()).parse_lossy(&directives);
            let level = f.max_level_hint().unwrap_or(LevelFilter::INFO);
            (f, level)
        }
    };
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt().with_target(false).without_time().with_env_filter(capped(base, level));
    if json { builder.json().init() } else { builder.init() }
}
