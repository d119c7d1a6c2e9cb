//! Headless Chromium through chromedriver (Debian packages `chromium` and
//! `chromium-driver`, installed by `scripts/bootstrap.sh all`).
//!
//! Found on PATH (`chromium`, `chromium-browser`, `google-chrome`;
//! `chromedriver`), or named by `PSC_CHROMIUM` / `PSC_CHROMEDRIVER`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use devkit::GroupChild;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

pub struct Tools {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

/// The browser and its driver, or what is missing.
pub fn find() -> Result<Tools, String> {
    let chromium = named_or_on_path("PSC_CHROMIUM", &["chromium", "chromium-browser", "google-chrome"]);
    let chromedriver = named_or_on_path("PSC_CHROMEDRIVER", &["chromedriver"]);
    match (chromium, chromedriver) {
        (Some(chromium), Some(chromedriver)) => Ok(Tools { chromium, chromedriver }),
        (c, d) => {
            let mut missing = Vec::new();
            if c.is_none() {
                missing.push("chromium (or PSC_CHROMIUM)");
            }
            if d.is_none() {
                missing.push("chromedriver (or PSC_CHROMEDRIVER)");
            }
            Err(format!(
                "{} not found: run scripts/bootstrap.sh all (apt-get installs chromium chromium-driver)",
                missing.join(" and ")
            ))
        }
    }
}

/// True when the browser checks must run: on CI (`CI` set), when asked
/// (`PSC_CONSOLE_BROWSER=1`), or once `scripts/bootstrap.sh all` has installed
/// the browser here (its stamp `.local/stamps/chromium`).
pub fn required() -> bool {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"));
    set("CI")
        || set("PSC_CONSOLE_BROWSER")
        || devkit::repo_root().is_ok_and(|r| r.join(".local/stamps/chromium").is_file())
}

fn named_or_on_path(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|n| std::env::split_paths(&path).map(|d| d.join(n)).find(|p| is_executable(p)))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// chromedriver on a free port and one headless Chromium session of it,
/// its window 1280x900.
pub struct Browser {
    pub client: Client,
    /// Where the browser saves downloads (no prompt).
    pub downloads: tempfile::TempDir,
    _driver: GroupChild,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start(tools: &Tools, log_dir: &Path) -> Result<Self> {
        let port = devkit::free_port()?;
        let mut cmd = Command::new(&tools.chromedriver);
        cmd.arg(format!("--port={port}"));
        let mut driver = GroupChild::spawn("chromedriver", cmd, &log_dir.join("chromedriver.log"))?;
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            if let Some(status) = driver.try_exited() {
                bail!("chromedriver exited with {status}:\n{}", driver.log_tail(20));
            }
            if started.elapsed() > Duration::from_secs(30) {
                bail!("chromedriver did not listen on {port} within 30s:\n{}", driver.log_tail(20));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir()?;
        let downloads = tempfile::tempdir()?;
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": tools.chromium,
                "args": [
                    "--headless=new",
                    // Root in a container: no user namespaces for the sandbox.
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,900",
                    "--force-device-scale-factor=1",
                    "--hide-scrollbars",
                    "--no-first-run",
                    "--no-default-browser-check",
                    "--disable-extensions",
                    "--lang=en-US",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {
                    "download.default_directory": downloads.path(),
                    "download.prompt_for_download": false,
                },
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .with_context(|| format!("starting a Chromium session (chromedriver log:\n{})", driver.log_tail(30)))?;
        // --window-size is the window's; make the page's viewport 1280x900.
        let inner = client.execute("return [window.innerWidth, window.innerHeight]", vec![]).await?;
        let (w, h) = (inner[0].as_u64().unwrap_or(1280), inner[1].as_u64().unwrap_or(900));
        let (ow, oh) = client.get_window_size().await?;
        client.set_window_size((ow + 1280 - w) as u32, (oh + 900 - h) as u32).await?;
        Ok(Self { client, downloads, _driver: driver, _profile: profile })
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }

    /// The text of `#result` once it holds `needle` and is not busy.
    pub async fn result_with(&self, needle: &str) -> Result<String> {
        let started = Instant::now();
        let mut last = String::new();
        loop {
            if let Ok(e) = self.client.find(Locator::Css("#result")).await {
                let busy = e.attr("aria-busy").await.ok().flatten().is_some();
                last = e.text().await.unwrap_or_default();
                if !busy && last.contains(needle) {
                    return Ok(last);
                }
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("the page never showed {needle:?}; it shows:\n{last}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The downloaded file `name` once complete (Chromium writes
    /// `<name>.crdownload` first).
    pub async fn downloaded(&self, name: &str) -> Result<String> {
        let path = self.downloads.path().join(name);
        let started = Instant::now();
        loop {
            if path.is_file() {
                return Ok(std::fs::read_to_string(&path)?);
            }
            if started.elapsed() > Duration::from_secs(30) {
                let there: Vec<_> =
                    std::fs::read_dir(self.downloads.path())?.flatten().map(|e| e.file_name()).collect();
                bail!("no download {name} within 30s; the directory holds {there:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Opens `url` and waits for a result holding `needle`.
    pub async fn open(&self, url: &str, needle: &str) -> Result<String> {
        self.client.goto(url).await?;
        self.result_with(needle).await
    }
}
