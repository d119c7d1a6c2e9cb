//! The AWS Marketplace Agreement API: `SearchAgreements`, for the purchase
//! agreements a buyer accepted from this seller.
//!
//! The client is pinned to us-east-1 (the API's only region, like CAS). It
//! is for a live lookup while a support agent waits, so it is impatient: two
//! attempts and a short operation timeout. Its callers degrade to PSC data
//! when it fails; they never turn its failure into a 500.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_marketplaceagreement::types::{AgreementViewSummary, Filter};

use crate::aws::AwsError;
use crate::domain::{AwsAccountId, Timestamp};
use crate::entitlement::Agreement;
use crate::ports::AgreementSource;

const SERVICE: &str = "MarketplaceAgreement";
const OPERATION: &str = "SearchAgreements";
/// The IAM action the caller needs (named in the log line when refused).
pub const PERMISSION: &str = "aws-marketplace:SearchAgreements";
/// At most this many pages (of [`PAGE_SIZE`]) per buyer.
pub const MAX_PAGES: usize = 10;
pub const PAGE_SIZE: i32 = 50;

/// `SearchAgreements` as the proposer: `PartyType=Proposer`,
/// `AgreementType=PurchaseAgreement`, `AcceptorAccountId=<buyer>`, every page.
pub struct AgreementClient {
    client: aws_sdk_marketplaceagreement::Client,
}

impl AgreementClient {
    /// From the shared configuration (credentials, the endpoint override
    /// `AWS_ENDPOINT_URL_MARKETPLACE_AGREEMENT` / `AWS_ENDPOINT_URL`), in
    /// us-east-1, with two attempts and `timeout` for the whole call.
    pub fn new(sdk: &SdkConfig, timeout: Duration) -> Self {
        let conf = aws_sdk_marketplaceagreement::config::Builder::from(sdk)
            .region(aws_sdk_marketplaceagreement::config::Region::from_static("us-east-1"))
            .retry_config(RetryConfig::standard().with_max_attempts(2).with_initial_backoff(Duration::from_millis(50)))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(timeout.min(Duration::from_secs(2)))
                    .operation_timeout(timeout)
                    .build(),
            )
            .build();
        Self { client: aws_sdk_marketplaceagreement::Client::from_conf(conf) }
    }
}

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

impl AgreementSource for AgreementClient {
    async fn purchase_agreements(&self, acceptor: &AwsAccountId) -> Result<Vec<Agreement>, AwsError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self
                .client
                .search_agreements()
                .catalog("AWSMarketplace")
                .filters(filter("PartyType", "Proposer"))
                .filters(filter("AgreementType", "PurchaseAgreement"))
                .filters(filter("AcceptorAccountId", acceptor.as_str()))
                .max_results(PAGE_SIZE)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk(SERVICE, OPERATION, &e))?;
            out.extend(page.agreement_view_summaries().iter().map(agreement_of));
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                _ => break,
            }
        }
        Ok(out)
    }
}

fn agreement_of(s: &AgreementViewSummary) -> Agreement {
    let time = |t: Option<&aws_smithy_types::DateTime>| t.and_then(|t| Timestamp::from_unix_seconds(t.secs()).ok());
    let proposal = s.proposal_summary();
    Agreement {
        agreement_id: s.agreement_id().unwrap_or_default().to_owned(),
        status: s.status().map(|v| v.as_str().to_owned()).unwrap_or_default(),
        agreement_type: s.agreement_type().map(str::to_owned),
        acceptor: s.acceptor().and_then(|a| a.account_id()).and_then(|a| AwsAccountId::parse(a).ok()),
        product_id: proposal.and_then(|p| p.resources().iter().find_map(|r| r.id().map(str::to_owned))),
        offer_id: proposal.and_then(|p| p.offer_id()).map(str::to_owned),
        acceptance_time: time(s.acceptance_time()),
        start_time: time(s.start_time()),
        end_time: time(s.end_time()),
    }
}
