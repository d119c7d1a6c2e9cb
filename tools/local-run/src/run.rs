//! The local run, step by step.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use devkit::{DynamoDbLocal, GroupChild, MotoServer};
use psc_bridge::api::{ExportBody, SyncView};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt as _;

use crate::answers::{self, EXAMPLE_ACCOUNT, EXAMPLE_EMAIL, EXAMPLE_PRODUCT};
use crate::args::Args;
use crate::events::{self, Delivered, EVENT_BUS, EVENTS_QUEUE, Events};
use crate::http::{Http, preview};
use crate::procs;
use crate::ui::{self, indent, say};

mod feeds;

/// Names of what the local run creates.
pub const TABLE_NAME: &str = "psc-bridge-local-contacts";
pub const BUCKET: &str = "psc-bridge-local-exports";
pub const EXPORT_PREFIX: &str = "psc-exports";
pub const TOPIC_NAME: &str = "psc-bridge-local-exports";
/// Where ingest-feeds looks for the data feeds (empty until the stand-in
/// delivers them).
pub const FEEDS_BUCKET: &str = "psc-bridge-local-feeds";
/// moto's default account; only the shape is checked by start-export and the stand-in.
pub const CAS_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/psc-bridge-local-cas-export";
pub const DATA_SET_TYPE: &str = "test_customer_support_contacts_data";
pub const REGION: &str = "us-east-1";

/// The other binaries of the workspace the local run starts (the functions
/// come from template.yaml, [`devkit::functions`]).
const STANDIN_BIN: &str = "aws-standin";
/// `psc`, whose console the run starts against the local API.
const PSC_BIN: &str = "psc";

const DEFAULT_API_PORT: u16 = 9000;
/// First invocation of a function: `cargo run` checks (and at worst builds) it.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(600);
const QUERY_TIMEOUT: Duration = Duration::from_secs(120);
/// From an export's end to its events in the queue (contact-events' first
/// invocation may wait for `cargo run`).
const EVENTS_TIMEOUT: Duration = Duration::from_secs(180);

/// How the run ended before serving.
pub struct Report {
    /// Every example answer was the expected one.
    pub checks_ok: bool,
}

/// Everything the run started, stopped in reverse order by [`Session::shutdown`].
pub struct Session {
    args: Args,
    root: PathBuf,
    /// The functions' binaries: every function of template.yaml.
    functions: Vec<String>,
    dir: PathBuf,
    logs: PathBuf,
    http: Http,
    ddb: Option<DynamoDbLocal>,
    moto: Option<MotoServer>,
    standin: Option<GroupChild>,
    console: Option<GroupChild>,
    /// The console's URL (with its token), once it serves.
    console_url: Option<String>,
    watch: Option<GroupChild>,
    /// The stream poller and the queue reader (contact-events).
    events: Option<Events>,
    stream_arn: String,
    api_port: u16,
    cas_port: u16,
    topic_arn: String,
}

impl Session {
    pub fn new(args: Args) -> Result<Self> {
        let root = devkit::repo_root()?;
        let dir = match &args.run_dir {
            Some(d) => d.clone(),
            None => devkit::target_dir()?.join("local-run"),
        };
        let logs = dir.join("logs");
        let functions = devkit::functions()?.into_iter().map(|f| f.binary).collect();
        Ok(Self {
            args,
            root,
            functions,
            dir,
            logs,
            http: Http::new(),
            ddb: None,
            moto: None,
            standin: None,
            console: None,
            console_url: None,
            watch: None,
            events: None,
            stream_arn: String::new(),
            api_port: 0,
            cas_port: 0,
            topic_arn: String::new(),
        })
    }

    /// The eligibility API's base URL (`cargo lambda watch`'s function URL).
    pub fn api_base(&self) -> String {
        format!("http://127.0.0.1:{}/lambda-url/eligibility-api", self.api_port)
    }

    /// `cargo lambda watch`'s Invoke API URL of `function`.
    pub fn invoke_url(&self, function: &str) -> String {
        format!("http://127.0.0.1:{}/2015-03-31/functions/{function}/invocations", self.api_port)
    }

    /// The stand-in's URL (its admin API under `/_admin`).
    pub fn cas_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.cas_port)
    }

    fn ddb_endpoint(&self) -> &str {
        self.ddb.as_ref().map(DynamoDbLocal::endpoint).unwrap_or("")
    }

    fn s3_endpoint(&self) -> &str {
        self.moto.as_ref().map(MotoServer::endpoint).unwrap_or("")
    }

    /// The run's directory (`functions.env`, `logs/`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The change events (the stream poller and the queue it fills), once
    /// started.
    pub fn events(&self) -> Option<&Events> {
        self.events.as_ref()
    }

    /// The port `cargo lambda watch` serves on.
    pub fn api_port(&self) -> u16 {
        self.api_port
    }

    fn rel<'a>(&self, p: &'a Path) -> std::borrow::Cow<'a, str> {
        match p.strip_prefix(&self.root) {
            Ok(r) => r.to_string_lossy(),
            Err(_) => p.to_string_lossy(),
        }
    }

    /// Everything up to the summary and the example queries.
    pub async fn run_to_summary(&mut self) -> Result<Report> {
        say(format!("psc-bridge local run in {}", self.root.display()));
        std::fs::create_dir_all(&self.logs).with_context(|| format!("creating {}", self.logs.display()))?;
        for entry in std::fs::read_dir(&self.logs)?.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }

        // 1. Tools.
        if self.args.bootstrap {
            // Only what this run uses (moto, cargo-lambda, DynamoDB Local):
            // SAM CLI, cfn-lint, zig and checkov come with `make test`.
            say("[1/8] tools: scripts/bootstrap.sh local (installs into .local/ what is missing)");
            let status = tokio::process::Command::new(self.root.join("scripts/bootstrap.sh"))
                .arg("local")
                .current_dir(&self.root)
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .status()
                .await
                .context("running scripts/bootstrap.sh local")?;
            if !status.success() {
                bail!("scripts/bootstrap.sh local failed ({status})");
            }
        } else {
            say("[1/8] tools: --no-bootstrap, using .local/ as it is");
        }
        self.choose_ports()?;

        // 2. Binaries and emulators, side by side.
        say(
            "[2/8] the functions, aws-standin and psc (cargo build; fresh after make local's), starting DynamoDB Local and moto",
        );
        let root = self.root.clone();
        let ddb_options = emulator_options(self.args.ddb_port, self.logs.join("dynamodb-local.log"));
        let moto_options = emulator_options(self.args.s3_port, self.logs.join("moto.log"));
        let (bins, ddb, moto) = tokio::try_join!(
            build_binaries(&root, &self.functions),
            timed("DynamoDB Local", DynamoDbLocal::start_with(ddb_options)),
            timed("moto", MotoServer::start_with(moto_options)),
        )?;
        self.ddb = Some(ddb);
        self.moto = Some(moto);
        say(format!("DynamoDB Local at {}, moto (S3, SNS) at {}", self.ddb_endpoint(), self.s3_endpoint()));

        // 3. Table, bucket, topic.
        say(format!(
            "[3/8] creating table {TABLE_NAME} (from template.yaml, with its stream), bucket {BUCKET}, topic {TOPIC_NAME}"
        ));
        let ddb = devkit::dynamodb_client(self.ddb_endpoint());
        let s3 = devkit::s3_client(self.s3_endpoint());
        devkit::create_table_from_template(&ddb, TABLE_NAME).await?;
        self.stream_arn = devkit::enable_stream_from_template(&ddb, TABLE_NAME).await?;
        devkit::create_bucket(&s3, BUCKET).await?;
        devkit::create_bucket(&s3, FEEDS_BUCKET).await?;
        self.topic_arn = create_topic(&self.http, self.s3_endpoint(), TOPIC_NAME).await?;
        say(format!("topic {}", self.topic_arn));

        // 4. The stand-in and the functions.
        say(format!(
            "[4/8] starting aws-standin on {} and cargo lambda watch on 127.0.0.1:{}",
            self.cas_url(),
            self.api_port
        ));
        self.start_standin(&bins[STANDIN_BIN]).await?;
        self.start_watch().await?;
        say(format!("serving {} (logs: {})", self.functions.join(", "), self.rel(&self.logs)));
        let invoke_url = self.invoke_url("contact-events");
        let at = events::Endpoints {
            dynamodb: self.ddb_endpoint(),
            moto: self.s3_endpoint(),
            stream_arn: &self.stream_arn,
            invoke_url: &invoke_url,
        };
        self.events = Some(Events::start(&self.http, at).await.context("setting up the change events")?);
        say(format!(
            "contact-events: a poller reads the table's stream and invokes it (in place of Lambda's event source \
             mapping); its events go to bus {EVENT_BUS} on moto, where a rule sends them to queue {EVENTS_QUEUE}"
        ));
        self.start_console(&bins[PSC_BIN]).await?;

        // 5. The export, end to end.
        let payload = if self.args.full_resync { json!({"fullResync": true}) } else { json!({}) };
        say(format!("[5/8] invoking start-export with {payload}"));
        let request_id = self.invoke_start_export(&payload).await?;
        let (export, sync) = self.wait_for_export(&request_id).await?;
        let events = self.export_events(0, &request_id).await?;

        // 6. Summary and example queries.
        self.print_summary(&export, &sync);
        let mut checks_ok = self.example_queries(&export).await?;
        let got = events::summary(&events);
        if got != answers::EXPECTED_EVENTS {
            ui::error(format!(
                "check failed: the first export's events are {got}, expected {}",
                answers::EXPECTED_EVENTS
            ));
            checks_ok = false;
        }

        // 7. An opt-out, through to its event.
        checks_ok &= self.opt_out().await?;

        // 8. Two days of the data feeds, the subscriber report, every source.
        checks_ok &= self.data_feeds().await?;
        Ok(Report { checks_ok })
    }

    /// Waits for the events from the `from`-th on to reach the queue, up to
    /// export `request_id`'s `PSC Export Finished`, and prints them.
    async fn export_events(&self, from: usize, request_id: &str) -> Result<Vec<Delivered>> {
        let events = self.events.as_ref().ok_or_else(|| anyhow!("the change events are not set up"))?;
        let finished = |e: &Delivered| {
            e.detail_type == events::EXPORT_FINISHED
                && e.detail.get("exportRequestId").and_then(Value::as_str) == Some(request_id)
        };
        let got = events
            .wait_for(from, EVENTS_TIMEOUT, &format!("the events of export {request_id}"), |got| {
                got.iter().any(finished)
            })
            .await
            .with_context(|| self.watch_log_tail())?;
        let lag = events::lag_summary(&got).map(|l| format!("; table write to queue: {l}")).unwrap_or_default();
        say(format!("events in queue {EVENTS_QUEUE}: {}{lag}", events::summary(&got)));
        Ok(got)
    }

    /// Erases a contact in the stand-in (an opt-out), runs a second export
    /// and follows it to its `PSC Contact Deleted`. Returns whether every
    /// check passed.
    async fn opt_out(&mut self) -> Result<bool> {
        let guid = answers::OPT_OUT_CONTACT;
        let url = format!("{}/_admin/records/{guid}", self.cas_url());
        say(format!(
            "[7/8] an opt-out: the buyer removes contact {guid} (account 333344445555)\n$ curl -s -XDELETE '{url}'"
        ));
        let answer = self.http.send("DELETE", &url, &[], Bytes::new(), QUERY_TIMEOUT).await?;
        if answer.status != 200 {
            bail!("aws-standin's DELETE {url} answered HTTP {}: {}", answer.status, preview(&answer.body));
        }
        let from = self.events.as_ref().map(Events::count).unwrap_or(0);
        let request_id = self.invoke_start_export(&json!({})).await?;
        let (export, _) = self.wait_for_export(&request_id).await?;
        say(format!("export {request_id}: {} ({} deleted)", export.status, export.counts.deleted));
        let got = self.export_events(from, &request_id).await?;
        let mut failures = Vec::new();
        let deleted: Vec<&Delivered> = got.iter().filter(|e| e.detail_type == events::DELETED).collect();
        for d in &deleted {
            ui::print(format!(
                "event: {}\n{}",
                d.describe(),
                serde_json::to_string_pretty(&d.detail).unwrap_or_default()
            ));
        }
        match deleted.as_slice() {
            [one] => {
                if let Err(e) = answers::check_deleted_detail(&one.detail) {
                    failures.push(e);
                }
            }
            _ => failures.push(format!("{} PSC Contact Deleted events, expected 1", deleted.len())),
        }
        let contact = format!("{}/contacts/{guid}", self.api_base());
        match self.http.get(&contact, QUERY_TIMEOUT).await {
            Ok(a) if a.status == 404 => {}
            Ok(a) => failures.push(format!("GET /contacts/{guid} after the opt-out: HTTP {}, expected 404", a.status)),
            Err(e) => failures.push(format!("GET /contacts/{guid} after the opt-out: {e:#}")),
        }
        if failures.is_empty() {
            say(format!(
                "checks: contact {guid} is gone from the table (GET /contacts/{guid}: 404) and its PSC Contact Deleted \
                 carries identifiers only: OK"
            ));
            Ok(true)
        } else {
            for f in &failures {
                ui::error(format!("check failed: {f}"));
            }
            Ok(false)
        }
    }

    fn choose_ports(&mut self) -> Result<()> {
        for (flag, port) in [
            ("--port", self.args.port),
            ("--ddb-port", self.args.ddb_port),
            ("--s3-port", self.args.s3_port),
            ("--cas-port", self.args.cas_port),
        ] {
            if let Some(p) = port
                && !devkit::port_is_free(p)
            {
                bail!("{flag} {p}: port {p} of 127.0.0.1 is in use");
            }
        }
        self.api_port = match self.args.port {
            Some(p) => p,
            None if devkit::port_is_free(DEFAULT_API_PORT) => DEFAULT_API_PORT,
            None => loop {
                let p = devkit::free_port()?;
                if Some(p) != self.args.ddb_port && Some(p) != self.args.s3_port && Some(p) != self.args.cas_port {
                    break p;
                }
            },
        };
        self.cas_port = match self.args.cas_port {
            Some(p) => p,
            None => loop {
                let p = devkit::free_port()?;
                if p != self.api_port && Some(p) != self.args.ddb_port && Some(p) != self.args.s3_port {
                    break p;
                }
            },
        };
        Ok(())
    }

    /// The environment of the functions (also written to `functions.env`).
    fn function_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TABLE_NAME", TABLE_NAME.into()),
            ("EXPORT_BUCKET", BUCKET.into()),
            ("EXPORT_PREFIX", EXPORT_PREFIX.into()),
            ("FEEDS_BUCKET", FEEDS_BUCKET.into()),
            ("SNS_TOPIC_ARN", self.topic_arn.clone()),
            ("CAS_ROLE_ARN", CAS_ROLE_ARN.into()),
            ("DATA_SET_TYPE", DATA_SET_TYPE.into()),
            ("AWS_ENDPOINT_URL_DYNAMODB", self.ddb_endpoint().into()),
            ("AWS_ENDPOINT_URL_S3", self.s3_endpoint().into()),
            ("AWS_ENDPOINT_URL_MARKETPLACE_COMMERCE_ANALYTICS", self.cas_url()),
            // The stand-in also answers EC2's ConfirmProductInstance and the
            // Agreement API's SearchAgreements, for the guide's products.
            ("AWS_ENDPOINT_URL_EC2", self.cas_url()),
            ("AWS_ENDPOINT_URL_MARKETPLACE_AGREEMENT", self.cas_url()),
            // An export too big for one invocation goes on in a new one:
            // cargo lambda watch serves the Invoke API.
            ("AWS_ENDPOINT_URL_LAMBDA", format!("http://127.0.0.1:{}", self.api_port)),
            ("SELLER_PRODUCTS", answers::SELLER_PRODUCTS.into()),
            // contact-events: the events go to moto's EventBridge (AWS_ENDPOINT_URL).
            ("EVENT_BUS_NAME", EVENT_BUS.into()),
            ("EVENT_DETAIL", "full".into()),
            // Any other AWS service a function might call goes to moto, never to AWS.
            ("AWS_ENDPOINT_URL", self.s3_endpoint().into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_DEFAULT_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", "local".into()),
            ("AWS_SECRET_ACCESS_KEY", "local".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("RUST_LOG", std::env::var("PSC_LOCAL_RUST_LOG").unwrap_or_else(|_| "info".into())),
        ]
    }

    /// `psc --local console` on a free port, against this run's API; its URL
    /// (with the launch's token) is the first line it prints.
    async fn start_console(&mut self, exe: &Path) -> Result<()> {
        let port = devkit::free_port()?;
        let mut cmd = clean_command(exe);
        cmd.current_dir(&self.root)
            .args(["--local", "console", "--port"])
            .arg(port.to_string())
            .env("PSC_LOCAL_PORT", self.api_port.to_string())
            .env("PSC_LOCAL_DIR", &self.dir)
            .env("AWS_REGION", REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true");
        let log = self.logs.join("console.log");
        let mut proc = GroupChild::spawn("psc console", cmd, &log)?;
        let started = Instant::now();
        let url = loop {
            if let Some(status) = proc.try_exited() {
                bail!("psc console exited with {status}; log {}:\n{}", log.display(), proc.log_tail(30));
            }
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(url) = text.lines().find(|l| l.starts_with("http://127.0.0.1:")) {
                break url.trim().to_owned();
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("psc console printed no URL within 60s; log {}:\n{}", log.display(), proc.log_tail(30));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        say(format!("console serving on {url}"));
        self.console = Some(proc);
        self.console_url = Some(url);
        Ok(())
    }

    /// The console's deep link for `query` (`account=...`), with the token.
    fn console_link(&self, query: &str) -> Option<String> {
        let url = self.console_url.as_ref()?;
        Some(format!("{url}&{query}"))
    }

    async fn start_standin(&mut self, exe: &Path) -> Result<()> {
        let mut cmd = clean_command(exe);
        cmd.current_dir(&self.root)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.cas_port))
            .arg("--deliver-to")
            .arg(self.invoke_url("ingest-export"))
            .arg("--lag-seconds")
            .arg("0")
            // ingest-export's first invocation may have to wait for cargo.
            .arg("--delivery-timeout-seconds")
            .arg("900")
            .arg("--feeds-bucket")
            .arg(FEEDS_BUCKET)
            .arg("--feeds-deliver-to")
            .arg(self.invoke_url("ingest-feeds"))
            .env("AWS_ENDPOINT_URL_S3", self.s3_endpoint())
            .env("AWS_REGION", REGION)
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("RUST_LOG", "info");
        let mut proc = GroupChild::spawn("aws-standin", cmd, &self.logs.join("aws-standin.log"))?;
        let health = format!("{}/_admin/health", self.cas_url());
        let started = Instant::now();
        loop {
            if let Some(status) = proc.try_exited() {
                bail!("aws-standin exited with {status}; log {}:\n{}", proc.log().display(), proc.log_tail(30));
            }
            if let Ok(a) = self.http.get(&health, Duration::from_secs(2)).await
                && a.status == 200
            {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!(
                    "aws-standin did not answer {health} within 60s; log {}:\n{}",
                    proc.log().display(),
                    proc.log_tail(30)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.standin = Some(proc);
        Ok(())
    }

    async fn start_watch(&mut self) -> Result<()> {
        let env_file = self.dir.join("functions.env");
        // Quoted: cargo-lambda's dotenv parser refuses an unquoted `=` in a
        // value (SELLER_PRODUCTS has several).
        let text: String = self
            .function_env()
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"\n", v.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect();
        std::fs::write(&env_file, text).with_context(|| format!("writing {}", env_file.display()))?;
        let cargo_lambda = self.root.join(".local/venv/bin/cargo-lambda");
        if !cargo_lambda.is_file() {
            bail!("{} is missing: run scripts/bootstrap.sh local", cargo_lambda.display());
        }
        let mut cmd = clean_command(&cargo_lambda);
        cmd.current_dir(&self.root)
            // An invoke waits as long as the template's longest function may
            // run. (cargo lambda watch gives the functions a deadline that has
            // already passed: they run without one, see
            // psc_bridge::resumable::Invocation::lambda.)
            .args(["lambda", "watch", "--ignore-changes", "--timeout", "900", "--invoke-address", "127.0.0.1"])
            .arg("--invoke-port")
            .arg(self.api_port.to_string())
            .arg("--env-file")
            .arg(&env_file)
            .env("PATH", tool_path(&self.root))
            .env("NO_COLOR", "1");
        for (k, v) in self.function_env() {
            if k.starts_with("AWS_") {
                cmd.env(k, v);
            }
        }
        let mut proc = GroupChild::spawn("cargo lambda watch", cmd, &self.logs.join("cargo-lambda-watch.log"))?;
        procs::wait_for_port(&mut proc, self.api_port, Duration::from_secs(60)).await?;
        self.watch = Some(proc);
        Ok(())
    }

    /// Awaits `fut`, saying every 10 seconds that it is still waiting, with
    /// what `cargo lambda watch` is doing when it is compiling (the first
    /// invocation of a function runs `cargo run --bin <function>`).
    async fn with_progress<T>(&self, what: &str, fut: impl std::future::Future<Output = T>) -> T {
        tokio::pin!(fut);
        let started = tokio::time::Instant::now();
        let period = Duration::from_secs(10);
        let mut tick = tokio::time::interval_at(started + period, period);
        loop {
            tokio::select! {
                r = &mut fut => return r,
                _ = tick.tick() => {
                    let cargo = self
                        .watch
                        .as_ref()
                        .and_then(|w| cargo_activity(&w.log_tail(5)))
                        .map(|l| format!("; cargo lambda watch: {l}"))
                        .unwrap_or_default();
                    say(format!("{what}: waiting for the answer ({:.0}s){cargo}", started.elapsed().as_secs_f64()));
                }
            }
        }
    }

    fn watch_log_tail(&self) -> String {
        self.watch
            .as_ref()
            .map(|w| format!("log {} (last lines):\n{}", self.rel(w.log()), indent(&strip_ansi(&w.log_tail(40)), 2)))
            .unwrap_or_default()
    }

    async fn invoke_start_export(&self, payload: &Value) -> Result<String> {
        let started = Instant::now();
        let answer = self
            .with_progress(
                "start-export",
                self.http.post_json(&self.invoke_url("start-export"), payload, INVOKE_TIMEOUT),
            )
            .await
            .with_context(|| format!("invoking start-export\n{}", self.watch_log_tail()))?;
        let result = answer.json().with_context(|| format!("start-export's answer\n{}", self.watch_log_tail()))?;
        if let Some(t) = result.get("errorType").and_then(Value::as_str) {
            bail!(
                "start-export failed: {t}: {}\n{}",
                result.get("errorMessage").and_then(Value::as_str).unwrap_or(""),
                self.watch_log_tail()
            );
        }
        if answer.status != 200 {
            bail!("start-export answered HTTP {}: {}\n{}", answer.status, preview(&answer.body), self.watch_log_tail());
        }
        if result.get("skipped").and_then(Value::as_bool) == Some(true) {
            bail!("start-export skipped the export: {result}");
        }
        let request_id = result
            .get("requestId")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("start-export's answer has no requestId: {result}"))?
            .to_owned();
        say(format!(
            "start-export answered in {:.1}s: export {request_id} requested from {} ({})",
            started.elapsed().as_secs_f64(),
            result.get("fromDate").and_then(Value::as_str).unwrap_or("?"),
            result.get("trigger").and_then(Value::as_str).unwrap_or("?"),
        ));
        Ok(request_id)
    }

    /// Follows the export through the stand-in (CSV written, notification
    /// delivered to ingest-export) and the API's `GET /sync` until it is
    /// APPLIED, PARTIAL or FAILED.
    async fn wait_for_export(&mut self, request_id: &str) -> Result<(ExportBody, SyncView)> {
        let started = Instant::now();
        let mut last_standin = String::new();
        let mut last_status = String::new();
        let mut last_note = Instant::now();
        let standin_url = format!("{}/_admin/requests/{request_id}", self.cas_url());
        let sync_url = format!("{}/sync", self.api_base());
        loop {
            if let Some(w) = self.watch.as_mut()
                && let Some(status) = w.try_exited()
            {
                bail!("cargo lambda watch exited with {status}\n{}", self.watch_log_tail());
            }
            // The stand-in's side.
            let mut delivery_failed = None;
            if let Ok(a) = self.http.get(&standin_url, Duration::from_secs(5)).await
                && let Ok(entry) = a.json()
            {
                let line = standin_progress(&entry);
                if !line.is_empty() && line != last_standin {
                    say(format!("aws-standin: {line}"));
                    last_standin = line;
                    last_note = Instant::now();
                }
                if let Some(state) = entry.pointer("/delivery/state").and_then(Value::as_str)
                    && state == "failed"
                {
                    delivery_failed =
                        Some(entry.pointer("/delivery/error").and_then(Value::as_str).unwrap_or("").to_owned());
                }
            }
            // The table's side, through the API.
            let answer = self.with_progress("GET /sync", self.http.get(&sync_url, QUERY_TIMEOUT)).await;
            match answer.and_then(|a| answers::sync_view(a.json()?)) {
                Ok(sync) => {
                    if let Some(export) = sync.export(request_id).cloned() {
                        if export.status != last_status {
                            say(format!("GET /sync: export {request_id} is {}", export.status));
                            last_status = export.status.clone();
                            last_note = Instant::now();
                        }
                        if export.is_final() {
                            return Ok((export, sync));
                        }
                    }
                }
                Err(e) => {
                    if last_note.elapsed() > Duration::from_secs(10) {
                        say(format!("GET /sync not answering yet ({e:#})"));
                        last_note = Instant::now();
                    }
                }
            }
            if let Some(err) = delivery_failed {
                bail!(
                    "aws-standin could not deliver the notification to ingest-export: {err}\n{}",
                    self.watch_log_tail()
                );
            }
            if started.elapsed() > self.args.timeout {
                bail!(
                    "export {request_id} not applied within {}s (last status: {}; --timeout to wait longer)\n{}",
                    self.args.timeout.as_secs(),
                    if last_status.is_empty() { "unknown" } else { &last_status },
                    self.watch_log_tail()
                );
            }
            if last_note.elapsed() > Duration::from_secs(10) {
                say(format!("still waiting for export {request_id} ({:.0}s)", started.elapsed().as_secs_f64()));
                last_note = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    fn print_summary(&self, export: &ExportBody, sync: &SyncView) {
        let mut lines = vec![
            String::new(),
            "==================== summary ====================".to_owned(),
            format!("export         {} ({})", export.request_id, DATA_SET_TYPE),
            format!("status         {}", export.status),
            format!(
                "rows applied   {} (created {}, updated {}, deleted {})",
                export.counts.applied(),
                export.counts.created,
                export.counts.updated,
                export.counts.deleted
            ),
            format!("rows rejected  {}", export.counts.rejected),
            format!("rows stale     {} (older than what the table holds, skipped)", export.counts.skipped_stale),
        ];
        if let Some(c) = &export.coverage {
            lines.push(format!("coverage       {} .. {}", c.start, c.end));
        }
        lines.push(format!(
            "watermark      {}",
            sync.watermark.map_or_else(|| "none (nothing applied yet)".to_owned(), |w| w.to_string())
        ));
        if let Some(r) = &export.rejects_report {
            lines.push(format!("rejects report {r}"));
        }
        if let Some(m) = &export.message {
            lines.push(format!("message        {m}"));
        }
        lines.push(format!("table          {TABLE_NAME} (DynamoDB Local {})", self.ddb_endpoint()));
        lines.push(format!("export files   s3://{BUCKET}/{EXPORT_PREFIX}/ (moto {})", self.s3_endpoint()));
        lines.push(format!("ready in       {:.1}s", ui::elapsed_secs()));
        lines.push("=================================================".to_owned());
        ui::print(lines.join("\n"));
    }

    /// Runs the example queries, shows them as curl commands with their
    /// answers, and checks the answers. Returns whether all checks passed.
    async fn example_queries(&self, export: &ExportBody) -> Result<bool> {
        say("[6/8] example queries against the eligibility API on localhost");
        let base = self.api_base();
        type Check = fn(&Value) -> Result<(), String>;
        let instance = |id: &str| format!("/accounts/{EXAMPLE_ACCOUNT}/instances/{id}?productCode={EXAMPLE_PRODUCT}");
        let queries: [(&str, String, Check); 6] = [
            (
                "is account 000011112222 eligible, and who are its contacts?",
                format!("/accounts/{EXAMPLE_ACCOUNT}"),
                answers::check_account,
            ),
            (
                "the same account, for product 4gzp2symm0v9zidfrn9f854w6",
                format!("/accounts/{EXAMPLE_ACCOUNT}/products/{EXAMPLE_PRODUCT}"),
                answers::check_product,
            ),
            (
                "who is ravis@example.com?",
                format!("/contacts?email={}", EXAMPLE_EMAIL.replace('@', "%40")),
                answers::check_email,
            ),
            (
                "does instance i-0a1b2c3d4e5f60718 of account 000011112222 run product 4gzp2symm0v9zidfrn9f854w6? (EC2 ConfirmProductInstance)",
                instance(answers::EXAMPLE_INSTANCE),
                answers::check_instance,
            ),
            (
                "the same account claims someone else's instance",
                instance(answers::OTHER_OWNERS_INSTANCE),
                answers::check_other_owner,
            ),
            (
                "account 111122223333: its only agreement has expired, its PSC contact still counts",
                format!("/accounts/{}", answers::EXPIRED_ACCOUNT),
                answers::check_expired,
            ),
        ];
        let mut failures = Vec::new();
        if export.status == "FAILED" {
            failures.push(format!("export {} is FAILED", export.request_id));
        }
        for (i, (question, path, check)) in queries.iter().enumerate() {
            let url = format!("{base}{path}");
            ui::print(format!("\n# {}. {question}\n$ curl -s '{url}'", i + 1));
            match self.http.get(&url, QUERY_TIMEOUT).await {
                Ok(a) => {
                    let shown = match serde_json::from_str::<Value>(&a.body) {
                        Ok(v) => {
                            if let Err(e) = check(&v) {
                                failures.push(e);
                            }
                            serde_json::to_string_pretty(&v).unwrap_or(a.body.clone())
                        }
                        Err(_) => {
                            failures.push(format!("GET {path}: HTTP {}, not JSON", a.status));
                            a.body.clone()
                        }
                    };
                    if a.status != 200 {
                        failures.push(format!("GET {path}: HTTP {}", a.status));
                    }
                    ui::print(shown);
                }
                Err(e) => {
                    failures.push(format!("GET {path}: {e:#}"));
                    ui::print(format!("(no answer: {e:#})"));
                }
            }
        }
        ui::print(format!(
            "\n# 7. the sync status: watermark, freshness, the exports with their counts (the summary above)\n$ curl -s '{base}/sync'\n"
        ));
        // The console: the same lookup through it, as the page makes it.
        if let (Some(link), Some(url)) = (self.console_link(&format!("account={EXAMPLE_ACCOUNT}")), &self.console_url) {
            ui::print(format!(
                "# 8. the same in the browser console (`psc --local console`; open the link):\n{link}\n"
            ));
            let (origin, token) = url.split_once("/?token=").unwrap_or((url.as_str(), ""));
            let api = format!("{origin}/api/accounts/{EXAMPLE_ACCOUNT}");
            match self.http.send("GET", &api, &[("x-psc-token", token)], bytes::Bytes::new(), QUERY_TIMEOUT).await {
                Ok(a) if a.status == 200 => {
                    if let Err(e) = serde_json::from_str::<Value>(&a.body)
                        .map_err(|e| e.to_string())
                        .and_then(|v| answers::check_account(&v))
                    {
                        failures.push(format!("the console's GET /api/accounts/{EXAMPLE_ACCOUNT}: {e}"));
                    }
                }
                Ok(a) => failures.push(format!("the console's GET /api/accounts/{EXAMPLE_ACCOUNT}: HTTP {}", a.status)),
                Err(e) => failures.push(format!("the console's GET /api/accounts/{EXAMPLE_ACCOUNT}: {e:#}")),
            }
        }
        if failures.is_empty() {
            say(
                "checks: account 000011112222 is eligible (an ACTIVE agreement, and Eugene and Angela on product 4gzp2symm0v9zidfrn9f854w6); \
                 ravis@example.com is Ravi Smith; instance i-0a1b2c3d4e5f60718 runs the product and is the account's, i-0c3d4e5f607182930 is not; \
                 111122223333's agreement has expired and its PSC contact answers; the console answers the same: OK",
            );
            Ok(true)
        } else {
            for f in &failures {
                ui::error(format!("check failed: {f}"));
            }
            Ok(false)
        }
    }

    /// What to tell the user while serving.
    pub fn print_serving(&self) {
        let base = self.api_base();
        let logs = self.rel(&self.logs).into_owned();
        ui::print(format!(
            "\npsc-bridge is running on this machine. Ctrl-C stops everything.\n\
             \n  eligibility API   {base}/...   (GET /accounts/{{id}}, /accounts/{{id}}/products/{{code}},\n\
             \x20                    /accounts/{{id}}/instances/{{instanceId}}?productCode=..., /contacts?email=...,\n\
             \x20                    /contacts/{{guid}}, /sync; docs/api.md)\
             \n  console           {console}\
             \n  psc               cargo run -q --bin psc -- --local account 000011112222   (or: cargo install --path cli)\
             \n  run an export     curl -s -XPOST '{invoke}' -d '{{}}'   (or -d '{{\"fullResync\": true}}', or psc --local export)\
             \n  change test data  curl -s '{cas}/_admin/records'   (PSC contacts; also /_admin/agreements, /_admin/instances:\n\
             \x20                    aws-standin admin API, tools/aws-standin/README.md)\
             \n  change events     each event that reaches queue {EVENTS_QUEUE} (bus {EVENT_BUS}) is printed here; try an opt-out:\n\
             \x20                    curl -s -XDELETE '{cas}/_admin/records/<customerGuid>', then run an export\
             \n  backfill          curl -s -XPOST '{backfill}' -d '{{\"backfill\": {{}}}}'   (or psc --local backfill)\
             \n  DynamoDB Local    {ddb}   table {TABLE_NAME}\
             \n  moto              {s3}   (S3, SNS, EventBridge, SQS) bucket {BUCKET}, topic {topic}\
             \n  logs              {logs}/ (cargo-lambda-watch.log: the functions' logs)\n",
            invoke = self.invoke_url("start-export"),
            backfill = self.invoke_url("contact-events"),
            console =
                self.console_link(&format!("account={EXAMPLE_ACCOUNT}")).unwrap_or_else(|| "(not running)".into()),
            cas = self.cas_url(),
            ddb = self.ddb_endpoint(),
            s3 = self.s3_endpoint(),
            topic = self.topic_arn,
        ));
        // From now on each event is printed as it arrives.
        if let Some(e) = &self.events {
            e.set_live(true);
        }
    }

    /// Waits until one of the servers dies; returns what happened.
    pub async fn watch_servers(&mut self) -> String {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            for p in [self.watch.as_mut(), self.standin.as_mut(), self.console.as_mut()].into_iter().flatten() {
                if let Some(status) = p.try_exited() {
                    return format!(
                        "{} exited with {status}; log {}:\n{}",
                        p.name(),
                        p.log().display(),
                        p.log_tail(30)
                    );
                }
            }
            let exited = [
                self.ddb.as_mut().and_then(|s| Some((s.try_exited()?, s.log().to_owned()))),
                self.moto.as_mut().and_then(|s| Some((s.try_exited()?, s.log().to_owned()))),
            ];
            for (name, exited) in ["DynamoDB Local", "moto"].into_iter().zip(exited) {
                if let Some((status, log)) = exited {
                    return format!(
                        "{name} exited with {status}; log {}:\n{}",
                        log.display(),
                        devkit::log_tail(&log, 30)
                    );
                }
            }
        }
    }

    /// Stops everything, newest first, and makes sure nothing is left.
    pub async fn shutdown(&mut self) {
        let mut stopped = Vec::new();
        if let Some(mut e) = self.events.take() {
            e.stop();
            stopped.push("the stream poller");
        }
        if let Some(mut c) = self.console.take() {
            c.stop(libc::SIGINT, Duration::from_secs(5)).await;
            stopped.push("psc console");
        }
        if let Some(mut w) = self.watch.take() {
            // cargo lambda watch stops its functions on SIGINT.
            w.stop(libc::SIGINT, Duration::from_secs(10)).await;
            stopped.push("cargo lambda watch (and the functions)");
        }
        if let Some(mut s) = self.standin.take() {
            s.stop(libc::SIGTERM, Duration::from_secs(5)).await;
            stopped.push("aws-standin");
        }
        if let Some(moto) = self.moto.take() {
            moto.stop();
            stopped.push("moto");
        }
        if let Some(ddb) = self.ddb.take() {
            ddb.stop();
            stopped.push("DynamoDB Local");
        }
        let strays = procs::sweep_descendants();
        let mut msg = if stopped.is_empty() { "stopped".to_owned() } else { format!("stopped {}", stopped.join(", ")) };
        if strays.is_empty() {
            msg.push_str("; no process left behind");
        } else {
            msg.push_str(&format!("; also ended {} leftover process(es): {}", strays.len(), strays.join(", ")));
        }
        say(msg);
    }
}

/// A command without the variables `cargo run` set for psc-local itself
/// (see [`devkit::remove_cargo_run_env`]).
fn cargo_clean_command(program: &Path) -> Command {
    let mut cmd = Command::new(program);
    devkit::remove_cargo_run_env(&mut cmd);
    cmd
}

/// [`cargo_clean_command`] without any AWS setting of the caller's shell
/// (see [`devkit::remove_aws_env`]): the local run never reaches AWS.
fn clean_command(program: &Path) -> Command {
    let mut cmd = cargo_clean_command(program);
    devkit::remove_aws_env(&mut cmd);
    cmd
}

/// PATH with the project's tools and the cargo that runs psc-local first.
fn tool_path(root: &Path) -> std::ffi::OsString {
    let mut dirs = vec![root.join(".local/venv/bin")];
    if let Some(cargo) = std::env::var_os("CARGO").map(PathBuf::from)
        && let Some(dir) = cargo.parent()
    {
        dirs.push(dir.to_owned());
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap_or_default()
}

/// `cargo build` of the functions, the stand-in and `psc`, exactly as
/// `cargo lambda watch` runs them (`cargo run --bin <name>` from the
/// workspace root), so its `cargo run` finds them fresh. Returns the
/// executables by binary name. After `make local`'s `cargo build --bins`
/// (the one build) every unit is fresh and this only reads their paths.
async fn build_binaries(root: &Path, functions: &[String]) -> Result<BTreeMap<String, PathBuf>> {
    let started = Instant::now();
    let names: Vec<&str> = functions.iter().map(String::as_str).chain([STANDIN_BIN, PSC_BIN]).collect();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // The same environment as the `cargo run` of cargo lambda watch (see
    // cargo_clean_command), so that it finds every unit fresh.
    let mut cmd = tokio::process::Command::from(cargo_clean_command(Path::new(&cargo)));
    cmd.current_dir(root).env("PATH", tool_path(root)).arg("build");
    for b in &names {
        cmd.arg("--bin").arg(b);
    }
    cmd.arg("--message-format=json-render-diagnostics")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let mut child = cmd.spawn().context("running cargo build")?;
    let stdout = child.stdout.take().context("cargo build stdout")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let mut bins = BTreeMap::new();
    let mut compiled = 0;
    while let Some(line) = lines.next_line().await? {
        let Ok(msg) = serde_json::from_str::<Value>(&line) else { continue };
        if msg.get("reason").and_then(Value::as_str) == Some("compiler-artifact") {
            if msg.get("fresh").and_then(Value::as_bool) == Some(false) {
                compiled += 1;
            }
            if let Some(exe) = msg.get("executable").and_then(Value::as_str)
                && let Some(name) = msg.pointer("/target/name").and_then(Value::as_str)
            {
                bins.insert(name.to_owned(), PathBuf::from(exe));
            }
        }
    }
    let status = child.wait().await?;
    if !status.success() {
        bail!("cargo build failed ({status}): see the compiler output above");
    }
    for b in &names {
        if !bins.contains_key(*b) {
            bail!("cargo build reported no executable for {b}");
        }
    }
    let what = if compiled == 0 { "fresh" } else { "built" };
    say(format!(
        "{what}: {}, {STANDIN_BIN} and {PSC_BIN} ({compiled} crates compiled, {:.1}s)",
        functions.join(", "),
        started.elapsed().as_secs_f64()
    ));
    Ok(bins)
}

/// Where and on which port an emulator of the local run starts.
fn emulator_options(port: Option<u16>, log: PathBuf) -> devkit::ServerOptions {
    devkit::ServerOptions { port, log: Some(log) }
}

/// Awaits an emulator's start and says how long it took.
async fn timed<T>(name: &str, start: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    let started = Instant::now();
    let server = start.await.with_context(|| format!("starting {name}"))?;
    say(format!("{name} answering after {:.1}s", started.elapsed().as_secs_f64()));
    Ok(server)
}

/// Creates an SNS topic in moto (same port as S3) through SNS's query API,
/// and returns its ARN. moto routes on the credential scope of the
/// `Authorization` header and does not verify the signature.
async fn create_topic(http: &Http, endpoint: &str, name: &str) -> Result<String> {
    let auth = events::local_auth("sns");
    let body = format!("Action=CreateTopic&Name={name}&Version=2010-03-31");
    let answer = http
        .send(
            "POST",
            &format!("{endpoint}/"),
            &[("content-type", "application/x-www-form-urlencoded; charset=utf-8"), ("authorization", &auth)],
            Bytes::from(body),
            Duration::from_secs(30),
        )
        .await
        .context("creating the SNS topic in moto")?;
    topic_arn_of(&answer.body)
        .ok_or_else(|| anyhow!("moto's CreateTopic answered HTTP {}: {}", answer.status, preview(&answer.body)))
}

/// The `<TopicArn>` of a CreateTopic answer.
pub fn topic_arn_of(xml: &str) -> Option<String> {
    let start = xml.find("<TopicArn>")? + "<TopicArn>".len();
    let end = start + xml[start..].find("</TopicArn>")?;
    let arn = xml[start..end].trim();
    arn.starts_with("arn:").then(|| arn.to_owned())
}

/// The last cargo status line (`Compiling x`, `Running ...`) of a log tail.
pub fn cargo_activity(tail: &str) -> Option<String> {
    tail.lines()
        .rev()
        .map(|l| strip_ansi(l).trim().to_owned())
        .find(|l| ["Compiling ", "Building ", "Running ", "Blocking ", "Finished "].iter().any(|p| l.starts_with(p)))
}

/// `s` without ANSI escape sequences (CSI ... letter).
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One line about the stand-in's side of an export (`GET /_admin/requests/{id}`).
pub fn standin_progress(entry: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(export) = entry.get("export") {
        let bucket = export.get("bucketName").and_then(Value::as_str).unwrap_or("?");
        let key = export.get("dataSetKey").and_then(Value::as_str).unwrap_or("?");
        if let Some(f) = export.get("injectedFailure").and_then(Value::as_str) {
            parts.push(format!("told to fail ({f})"));
        } else if export.get("written").and_then(Value::as_bool) == Some(true) {
            let rows = export.get("rows").and_then(Value::as_u64).unwrap_or(0);
            parts.push(format!("wrote {rows} rows to s3://{bucket}/{key}"));
        } else {
            parts.push("writing the export".to_owned());
        }
    }
    match entry.pointer("/delivery/state").and_then(Value::as_str) {
        Some("pending") if entry.get("notification").is_some() => {
            parts.push("delivering the notification to ingest-export".to_owned())
        }
        Some("delivered") => parts.push("notification delivered to ingest-export".to_owned()),
        Some("failed") => parts.push(format!(
            "delivery failed: {}",
            entry.pointer("/delivery/error").and_then(Value::as_str).unwrap_or("?")
        )),
        _ => {}
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_topic_arn_of_create_topic() {
        let xml = r#"<CreateTopicResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><CreateTopicResult><TopicArn>arn:aws:sns:us-east-1:123456789012:psc</TopicArn></CreateTopicResult></CreateTopicResponse>"#;
        assert_eq!(topic_arn_of(xml).as_deref(), Some("arn:aws:sns:us-east-1:123456789012:psc"));
        assert_eq!(topic_arn_of("<ListAllMyBucketsResult/>"), None);
    }

    #[test]
    fn reads_cargo_activity_from_a_colored_log() {
        let tail = "\u{1b}[32m INFO\u{1b}[0m spawning\n   Compiling aws-sdk-s3 v1.157.0\n\u{1b}[2mnoise\u{1b}[0m";
        assert_eq!(cargo_activity(tail).as_deref(), Some("Compiling aws-sdk-s3 v1.157.0"));
        assert_eq!(cargo_activity("nothing here"), None);
        assert_eq!(strip_ansi("\u{1b}[33m WARN\u{1b}[0m x"), " WARN x");
    }

    #[test]
    fn describes_the_standin_side() {
        let e = json!({
            "export": {"bucketName": "b", "dataSetKey": "p/k.csv", "rows": 5, "written": true},
            "notification": {}, "delivery": {"state": "delivered", "detail": "HTTP 200"}
        });
        assert_eq!(standin_progress(&e), "wrote 5 rows to s3://b/p/k.csv; notification delivered to ingest-export");
        let e = json!({"export": {"written": false}, "delivery": {"state": "pending"}});
        assert_eq!(standin_progress(&e), "writing the export");
    }
}
