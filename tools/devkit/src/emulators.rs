//! The emulators shared by the tests of one process, or of one whole run.

use anyhow::{Context, Result, bail};
use tokio::sync::OnceCell;

use crate::clients::{dynamodb_client, s3_client, sdk_config};
use crate::servers::{DynamoDbLocal, MotoServer, check_dynamodb, check_s3};

/// Endpoint of a DynamoDB Local started for the whole test run.
pub const DYNAMODB_ENDPOINT_ENV: &str = "PSC_TEST_DYNAMODB_ENDPOINT";
/// Endpoint of an S3-compatible server started for the whole test run.
pub const S3_ENDPOINT_ENV: &str = "PSC_TEST_S3_ENDPOINT";

static EMULATORS: OnceCell<Emulators> = OnceCell::const_new();

/// The emulators a test talks to.
///
/// Holds only endpoints (and, when this process started the servers, their
/// handles), never SDK clients: an SDK client belongs to the tokio runtime it
/// first ran on, and every `#[tokio::test]` has its own runtime, so each test
/// makes its clients with [`Emulators::dynamodb_client`] and
/// [`Emulators::s3_client`].
#[derive(Debug)]
pub struct Emulators {
    dynamodb_endpoint: String,
    s3_endpoint: String,
    _dynamodb: Option<DynamoDbLocal>,
    _moto: Option<MotoServer>,
}

impl Emulators {
    /// The emulators for this process, started on first use.
    ///
    /// When `PSC_TEST_DYNAMODB_ENDPOINT` and `PSC_TEST_S3_ENDPOINT` are set
    /// (the `with-emulators` binary sets them), those servers are used.
    /// Otherwise DynamoDB Local and moto are started once for this process,
    /// and killed when it exits.
    ///
    /// # Panics
    /// When the emulators cannot be reached or started; the message says why
    /// (most often: run `scripts/bootstrap.sh local`). Use [`Emulators::try_get`]
    /// to handle the error instead.
    pub async fn get() -> &'static Emulators {
        match Self::try_get().await {
            Ok(e) => e,
            Err(e) => panic!("emulators unavailable: {e:#}"),
        }
    }

    /// Like [`Emulators::get`], returning the error.
    pub async fn try_get() -> Result<&'static Emulators> {
        EMULATORS.get_or_try_init(Self::init).await
    }

    async fn init() -> Result<Emulators> {
        let ddb = std::env::var(DYNAMODB_ENDPOINT_ENV).ok().filter(|v| !v.is_empty());
        let s3 = std::env::var(S3_ENDPOINT_ENV).ok().filter(|v| !v.is_empty());
        match (ddb, s3) {
            (Some(dynamodb_endpoint), Some(s3_endpoint)) => {
                check_dynamodb(&dynamodb_endpoint).await.with_context(|| format!("from {DYNAMODB_ENDPOINT_ENV}"))?;
                check_s3(&s3_endpoint).await.with_context(|| format!("from {S3_ENDPOINT_ENV}"))?;
                Ok(Emulators { dynamodb_endpoint, s3_endpoint, _dynamodb: None, _moto: None })
            }
            (None, None) => {
                let (dynamodb, moto) = tokio::join!(DynamoDbLocal::start(), MotoServer::start());
                let dynamodb = dynamodb.context("starting DynamoDB Local")?;
                let moto = moto.context("starting moto server")?;
                Ok(Emulators {
                    dynamodb_endpoint: dynamodb.endpoint().to_owned(),
                    s3_endpoint: moto.endpoint().to_owned(),
                    _dynamodb: Some(dynamodb),
                    _moto: Some(moto),
                })
            }
            _ => bail!(
                "set both {DYNAMODB_ENDPOINT_ENV} and {S3_ENDPOINT_ENV}, or neither \
                 (then the emulators are started for this process)"
            ),
        }
    }

    /// The DynamoDB endpoint, `http://127.0.0.1:<port>`.
    pub fn dynamodb_endpoint(&self) -> &str {
        &self.dynamodb_endpoint
    }

    /// The S3 endpoint, `http://127.0.0.1:<port>`.
    pub fn s3_endpoint(&self) -> &str {
        &self.s3_endpoint
    }

    /// A new DynamoDB client for this emulator (see [`crate::dynamodb_client`]).
    pub fn dynamodb_client(&self) -> aws_sdk_dynamodb::Client {
        dynamodb_client(&self.dynamodb_endpoint)
    }

    /// A new S3 client for this emulator (see [`crate::s3_client`]).
    pub fn s3_client(&self) -> aws_sdk_s3::Client {
        s3_client(&self.s3_endpoint)
    }

    /// An [`aws_config::SdkConfig`] for the DynamoDB emulator.
    pub fn dynamodb_sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config(&self.dynamodb_endpoint)
    }

    /// An [`aws_config::SdkConfig`] for the S3 emulator (remember
    /// `force_path_style(true)` when building an S3 client from it).
    pub fn s3_sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config(&self.s3_endpoint)
    }
}
