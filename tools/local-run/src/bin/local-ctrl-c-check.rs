//! `local-ctrl-c-check`: the Ctrl-C half of `make local-smoke`.
//!
//! Runs psc-local the way `make local` does (serving until interrupted),
//! waits until it serves, asks the API one question while it serves, then
//! sends SIGINT as a terminal's Ctrl-C would (psc-local's children lead their
//! own process groups, so the terminal's Ctrl-C reaches psc-local alone, as
//! here). Fails unless psc-local exits 0 within 60 s, reports that it left no
//! process behind, and no process it started (emulators, the AWS stand-in,
//! cargo lambda watch, the functions) is still alive.
//!
//! ```text
//! cargo run -q --bin local-ctrl-c-check -- [psc-local options, e.g. --port 9100]
//! ```
//!
//! Runs the `psc-local` binary next to its own (build both with
//! `cargo build --bins`, as `make local-smoke` does); expects the tools in
//! `.local/`. Its log: `<target>/local-run/ctrl-c-check.log`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use local_run::answers::EXAMPLE_ACCOUNT;
use local_run::http::Http;
use local_run::procs::{self, ProcStat};
use psc_bridge::api::AccountView;

/// Runs psc-local until it serves, then stops it with SIGINT as Ctrl-C would,
/// and fails unless it exits 0 leaving no process behind.
#[derive(Parser)]
#[command(name = "local-ctrl-c-check")]
struct Cli {
    /// How long psc-local may take to serve, in seconds.
    #[arg(long, env = "SERVE_TIMEOUT", default_value_t = 900)]
    serve_timeout: u64,
    /// Options for psc-local (e.g. --port 9100).
    #[arg(value_name = "PSC_LOCAL_ARGS", trailing_var_arg = true, allow_hyphen_values = true)]
    psc_local_args: Vec<OsString>,
}

/// What psc-local prints once it serves (run.rs, `print_serving`).
const SERVING: &str = "Ctrl-C stops everything";
/// What psc-local prints on SIGINT, and at the end of its shutdown.
const SHUTTING_DOWN: &str = "SIGINT: shutting down";
const NOTHING_LEFT: &str = "no process left behind";
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

fn say(msg: impl AsRef<str>) {
    println!("local-ctrl-c-check: {}", msg.as_ref());
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log = match devkit::target_dir() {
        Ok(t) => t.join("local-run/ctrl-c-check.log"),
        Err(e) => {
            eprintln!("local-ctrl-c-check: FAILED: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    match check(&cli, &log) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("local-ctrl-c-check: FAILED: {e:#}");
            eprintln!("local-ctrl-c-check: last lines of {}:\n{}", log.display(), devkit::log_tail(&log, 40));
            ExitCode::FAILURE
        }
    }
}

/// psc-local, interrupted with SIGINT if the check ends early.
struct Running(Child);

impl Running {
    fn pid(&self) -> i32 {
        self.0.id() as i32
    }

    fn sigint(&self) {
        // SAFETY: plain syscall to our own child.
        unsafe {
            libc::kill(self.pid(), libc::SIGINT);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            self.sigint();
            let started = Instant::now();
            while started.elapsed() < STOP_TIMEOUT {
                if let Ok(Some(_)) = self.0.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn check(cli: &Cli, log: &Path) -> Result<()> {
    let mut child = start(cli, log)?;
    wait_until_serving(&mut child, log, Duration::from_secs(cli.serve_timeout))?;
    check_eligible_while_serving(log)?;
    let pid = child.pid();
    let started_by_it: Vec<ProcStat> = procs::descendants(pid);
    if started_by_it.is_empty() {
        bail!("psc-local has no child processes while serving");
    }
    say(format!("psc-local {pid} serves with {} descendant processes; sending SIGINT", started_by_it.len()));
    stop_with_sigint(&mut child)?;
    check_nothing_left(log, &started_by_it)?;
    say(format!("OK: Ctrl-C stopped psc-local and all {} processes it had started", started_by_it.len()));
    Ok(())
}

/// psc-local with the given arguments, its output in `log`.
fn start(cli: &Cli, log: &Path) -> Result<Running> {
    let exe = psc_local_exe()?;
    let root = devkit::repo_root()?;
    std::fs::create_dir_all(log.parent().context("log directory")?)?;
    let out = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let mut cmd = Command::new(&exe);
    cmd.current_dir(&root).args(&cli.psc_local_args).stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out);
    devkit::remove_cargo_run_env(&mut cmd);
    Ok(Running(cmd.spawn().with_context(|| format!("running {}", exe.display()))?))
}

fn wait_until_serving(child: &mut Running, log: &Path, timeout: Duration) -> Result<()> {
    let started = Instant::now();
    while !read(log).contains(SERVING) {
        if let Some(status) = child.0.try_wait()? {
            bail!("psc-local exited before serving ({status})");
        }
        if started.elapsed() > timeout {
            bail!("not serving after {}s", timeout.as_secs());
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    say(format!("serving after {}s", started.elapsed().as_secs()));
    Ok(())
}

/// The example account's lookup, read as the API contract's answer.
fn check_eligible_while_serving(log: &Path) -> Result<()> {
    let base = api_base(&read(log)).ok_or_else(|| anyhow!("no API address in the output"))?;
    let url = format!("{base}/accounts/{EXAMPLE_ACCOUNT}");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let answer = runtime
        .block_on(Http::new().get(&url, Duration::from_secs(60)))
        .with_context(|| format!("GET {url} while serving"))?;
    let eligible =
        answer.status == 200 && serde_json::from_str::<AccountView>(&answer.body).is_ok_and(|account| account.eligible);
    if !eligible {
        bail!("account {EXAMPLE_ACCOUNT} is not eligible while serving (HTTP {})", answer.status);
    }
    say(format!("GET /accounts/{EXAMPLE_ACCOUNT} while serving: eligible"));
    Ok(())
}

/// SIGINT, as Ctrl-C sends it; psc-local must exit 0 in time.
fn stop_with_sigint(child: &mut Running) -> Result<()> {
    child.sigint();
    let stopping = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait()? {
            break status;
        }
        if stopping.elapsed() > STOP_TIMEOUT {
            let _ = child.0.kill();
            bail!("still running {}s after SIGINT", STOP_TIMEOUT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    say(format!("psc-local exited with {status} after {}s", stopping.elapsed().as_secs()));
    if status.code() != Some(0) {
        bail!("{status} after SIGINT, want exit status 0");
    }
    Ok(())
}

/// psc-local said it shut down and left nothing, and none of the processes
/// it had started is still alive.
fn check_nothing_left(log: &Path, started_by_it: &[ProcStat]) -> Result<()> {
    let text = read(log);
    if !text.contains(SHUTTING_DOWN) {
        bail!("no '{SHUTTING_DOWN}' line");
    }
    if !text.contains(NOTHING_LEFT) {
        bail!("psc-local did not report '{NOTHING_LEFT}'");
    }
    let left: Vec<String> =
        started_by_it.iter().filter(|p| !procs::is_gone(p.pid)).map(|p| format!("{}({})", p.pid, p.comm)).collect();
    if !left.is_empty() {
        bail!("still alive after the shutdown: {}", left.join(" "));
    }
    Ok(())
}

/// `psc-local` beside this binary (same target directory and profile).
fn psc_local_exe() -> Result<PathBuf> {
    let me = std::env::current_exe().context("locating this binary")?;
    let exe = me.with_file_name("psc-local");
    if !exe.is_file() {
        bail!("{} is missing: build it first (cargo build --bins)", exe.display());
    }
    Ok(exe)
}

fn read(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// The eligibility API's base URL in psc-local's output.
fn api_base(text: &str) -> Option<String> {
    const TAIL: &str = "/lambda-url/eligibility-api";
    text.match_indices("http://127.0.0.1:").find_map(|(i, _)| {
        let rest = &text[i..];
        let port_end =
            "http://127.0.0.1:".len() + rest["http://127.0.0.1:".len()..].find(|c: char| !c.is_ascii_digit())?;
        rest[port_end..].starts_with(TAIL).then(|| rest[..port_end + TAIL.len()].to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::api_base;

    #[test]
    fn finds_the_api_base_among_other_urls() {
        let text = "console http://127.0.0.1:4000/?token=x\n  eligibility API   http://127.0.0.1:9000/lambda-url/eligibility-api/...";
        assert_eq!(api_base(text).as_deref(), Some("http://127.0.0.1:9000/lambda-url/eligibility-api"));
        assert_eq!(api_base("nothing"), None);
    }
}
