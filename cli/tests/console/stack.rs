//! The local stack (tools/local-run: DynamoDB Local, moto, the AWS stand-in
//! and the real function binaries under `cargo lambda watch`, with the
//! guide's data set exported and applied), and `psc console` pointed at it.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use devkit::GroupChild;
use local_run::run::Session;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A running local stack.
pub struct LocalStack {
    session: Session,
    port: u16,
    /// The run's own directory (functions.env, logs), not make local's.
    _dir: tempfile::TempDir,
}

impl LocalStack {
    /// Starts everything on free ports and waits for the export to be
    /// applied. Uses the tools already in `.local/` (no bootstrap).
    pub async fn start() -> Result<Self> {
        let mut ports = Vec::new();
        while ports.len() < 4 {
            let p = devkit::free_port()?;
            if !ports.contains(&p) {
                ports.push(p);
            }
        }
        let mut argv = vec!["--exit-after-summary".to_owned(), "--no-bootstrap".to_owned()];
        for (flag, p) in ["--port", "--ddb-port", "--s3-port", "--cas-port"].iter().zip(&ports) {
            argv.push((*flag).to_owned());
            argv.push(p.to_string());
        }
        let mut args = local_run::args::parse(argv).map_err(anyhow::Error::msg)?.context("no --help here")?;
        let dir = tempfile::tempdir()?;
        args.run_dir = Some(dir.path().to_owned());
        let mut session = Session::new(args)?;
        let started = Instant::now();
        match session.run_to_summary().await {
            Ok(report) if report.checks_ok => {}
            Ok(_) => {
                session.shutdown().await;
                bail!("the local stack's own example queries failed (see its output above)");
            }
            Err(e) => {
                session.shutdown().await;
                return Err(e.context(
                    "starting the local stack (tools in .local/: scripts/bootstrap.sh local; logs in the run's logs/ directory above)",
                ));
            }
        }
        eprintln!("local stack up in {:.1}s", started.elapsed().as_secs_f64());
        Ok(Self { session, port: ports[0], _dir: dir })
    }

    /// The port of the eligibility API (and the Invoke API), as
    /// `PSC_LOCAL_PORT` for `psc --local`.
    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn shutdown(mut self) {
        self.session.shutdown().await;
    }
}

/// `psc --local console --port 0` (`PSC_LOCAL_PORT`: the stack's), the binary
/// cargo built.
pub struct ConsoleProcess {
    _child: GroupChild,
    pub port: u16,
    pub token: String,
    pub url: String,
}

impl ConsoleProcess {
    pub fn start(api_port: u16) -> Result<Self> {
        Self::spawn(api_port, &[], "psc-console.log")
    }

    /// `psc --local --api-url <api_url> console --port 0`: unsigned, at any
    /// URL (a canned API).
    pub fn start_at(api_url: &str) -> Result<Self> {
        Self::spawn(0, &["--api-url", api_url], "psc-console-canned.log")
    }

    fn spawn(api_port: u16, extra: &[&str], log: &str) -> Result<Self> {
        let log = log_dir()?.join(log);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_psc"));
        devkit::remove_aws_env(&mut cmd);
        cmd.env_remove("PSC_TOKEN")
            .env_remove("PSC_API_URL")
            .env("PSC_LOCAL_PORT", api_port.to_string())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_REGION", "us-east-1")
            .arg("--local")
            .args(extra)
            .args(["console", "--port", "0"]);
        let mut child = GroupChild::spawn("psc console", cmd, &log)?;
        let started = Instant::now();
        // The URL goes to stdout, then the line that says how to stop it to
        // stderr: two writes, which a busy machine can read between, so
        // both are awaited.
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let url = text.lines().find(|l| l.starts_with("http://127.0.0.1:"));
            if let Some(url) = url
                && text.contains("Ctrl-C")
            {
                let url = url.trim().to_owned();
                let rest = url.strip_prefix("http://127.0.0.1:").unwrap_or_default();
                let (port, token) = rest.split_once("/?token=").context("the console URL carries ?token=")?;
                ensure!(token.len() == 32, "the token is a simple uuid: {url}");
                return Ok(Self { port: port.parse()?, token: token.to_owned(), url, _child: child });
            }
            if let Some(status) = child.try_exited() {
                bail!("psc console exited with {status} before printing its URL and how to stop it:\n{text}");
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!(
                    "psc console printed {} within 60s:\n{text}",
                    if url.is_some() { "its URL but not how to stop it (Ctrl-C)" } else { "no URL" }
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A link to the page with `query` (and the token).
    pub fn link(&self, query: &str) -> String {
        if query.is_empty() {
            self.url.clone()
        } else {
            format!("http://127.0.0.1:{}/?{query}&token={}", self.port, self.token)
        }
    }
}

/// `target/console-test/`.
pub fn log_dir() -> Result<PathBuf> {
    let dir = devkit::target_dir()?.join("console-test");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A plain HTTP/1.1 answer.
pub struct ConsoleResponse {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl ConsoleResponse {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// `method target` to 127.0.0.1:`port` with exactly these headers (a `Host`
/// among them, or none), over a fresh connection, as any local process could.
pub async fn raw_request(port: u16, method: &str, target: &str, headers: &[(&str, &str)]) -> Result<ConsoleResponse> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let mut req = format!("{method} {target} HTTP/1.1\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), stream.read_to_end(&mut buf)).await.context("no answer in 60s")??;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").context("an HTTP answer")?;
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).context("a status line")?;
    Ok(ConsoleResponse { status, head: head.to_owned(), body: body.to_owned() })
}

/// `GET target` with the loopback `Host` and, when given, the console token.
pub async fn get(port: u16, target: &str, token: Option<&str>) -> Result<ConsoleResponse> {
    let host = format!("127.0.0.1:{port}");
    let mut headers = vec![("Host", host.as_str())];
    if let Some(t) = token {
        headers.push(("X-Psc-Token", t));
    }
    raw_request(port, "GET", target, &headers).await
}
